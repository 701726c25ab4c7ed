/* The random source of the program generators (jitgen, vgen): decisions
 * come from a fuzzer's bytes while they last, then from splitmix64, so a
 * seed or an input always gives the same program.
 *
 * Header-only: the fuzz targets compile the generators' .c files into
 * themselves and link visor_core alone, without the test library. */
#ifndef VISOR_TEST_RNG_H
#define VISOR_TEST_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s;
	const uint8_t *d; /* decisions from the fuzzer's bytes first */
	size_t n, pos;
};

static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* bytes bytes of input (big-endian), or 64 random bits once input runs out. */
static inline uint64_t rbits(struct rng *r, int bytes)
{
	if (r->pos >= r->n)
		return splitmix(&r->s);
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | (r->pos < r->n ? r->d[r->pos++] : (uint8_t)splitmix(&r->s));
	return v;
}

/* 0 .. n - 1 (0 when n <= 1). */
static inline uint32_t below(struct rng *r, uint32_t n)
{
	return n <= 1 ? 0 : (uint32_t)(rbits(r, n <= 256 ? 1 : 4) % n);
}

static inline int32_t between(struct rng *r, int32_t lo, int32_t hi) /* inclusive */
{
	return lo + (int32_t)below(r, (uint32_t)(hi - lo + 1));
}

static inline bool chance(struct rng *r, unsigned pct) { return below(r, 100) < pct; }

#endif
