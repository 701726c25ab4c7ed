/* Tracked numbers: the bits of a 64-bit value that are known, with the
 * transfer function of each operation (the Linux verifier's tnum.c model:
 * a bit set in mask is unknown, value holds the known bits and is 0 where
 * mask is set). */
#include "verifier/scalar.h"

static struct tnum tn(uint64_t value, uint64_t mask)
{
	return (struct tnum){.value = value & ~mask, .mask = mask};
}

struct tnum tnum_const(uint64_t v) { return tn(v, 0); }

struct tnum tnum_unknown(void) { return tn(0, UINT64_MAX); }

struct tnum tnum_range(uint64_t min, uint64_t max)
{
	/* Bits above the highest one where min and max differ are common to
	 * every value in between; the rest may be anything. */
	uint64_t chi = min ^ max;
	if (chi == 0)
		return tnum_const(min);
	unsigned bits = 64 - (unsigned)__builtin_clzll(chi);
	if (bits > 63)
		return tnum_unknown();
	uint64_t delta = (1ULL << bits) - 1;
	return tn(min & ~delta, delta);
}

bool tnum_is_const(struct tnum t) { return t.mask == 0; }

bool tnum_in(struct tnum outer, struct tnum inner)
{
	if (inner.mask & ~outer.mask)
		return false;
	return (inner.value & ~outer.mask) == outer.value;
}

bool tnum_contains(struct tnum t, uint64_t v) { return (v & ~t.mask) == t.value; }

struct tnum tnum_add(struct tnum a, struct tnum b)
{
	/* The carries that can differ between the all-unknown-zero and the
	 * all-unknown-one sums mark the bits the unknowns can reach. */
	uint64_t sm = a.mask + b.mask;
	uint64_t sv = a.value + b.value;
	uint64_t chi = (sm + sv) ^ sv;
	return tn(sv, chi | a.mask | b.mask);
}

struct tnum tnum_sub(struct tnum a, struct tnum b)
{
	uint64_t dv = a.value - b.value;
	uint64_t alpha = dv + a.mask, beta = dv - b.mask;
	return tn(dv, (alpha ^ beta) | a.mask | b.mask);
}

struct tnum tnum_and(struct tnum a, struct tnum b)
{
	uint64_t alpha = a.value | a.mask, beta = b.value | b.mask;
	uint64_t v = a.value & b.value;
	return tn(v, alpha & beta & ~v);
}

struct tnum tnum_or(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value;
	return tn(v, (a.mask | b.mask) & ~v);
}

struct tnum tnum_xor(struct tnum a, struct tnum b)
{
	return tn(a.value ^ b.value, a.mask | b.mask);
}

struct tnum tnum_mul(struct tnum a, struct tnum b)
{
	/* Long multiplication: the known product of the known parts, plus for
	 * every bit of a that may be set, b shifted, as unknown. */
	uint64_t known = a.value * b.value;
	struct tnum acc = tnum_const(0);
	while (a.value || a.mask) {
		if (a.value & 1)
			acc = tnum_add(acc, tn(0, b.mask));
		else if (a.mask & 1)
			acc = tnum_add(acc, tn(0, b.value | b.mask));
		a = tnum_rshift(a, 1);
		b = tnum_lshift(b, 1);
	}
	return tnum_add(tnum_const(known), acc);
}

struct tnum tnum_lshift(struct tnum a, unsigned shift)
{
	if (shift >= 64)
		return tnum_const(0);
	return tn(a.value << shift, a.mask << shift);
}

struct tnum tnum_rshift(struct tnum a, unsigned shift)
{
	if (shift >= 64)
		return tnum_const(0);
	return tn(a.value >> shift, a.mask >> shift);
}

struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned width)
{
	/* An unknown sign bit spreads as unknown, a known one as itself. */
	if (width == 32) {
		shift = shift > 31 ? 31 : shift;
		return tn((uint32_t)((int32_t)(uint32_t)a.value >> shift),
			  (uint32_t)((int32_t)(uint32_t)a.mask >> shift));
	}
	shift = shift > 63 ? 63 : shift;
	return tn((uint64_t)((int64_t)a.value >> shift), (uint64_t)((int64_t)a.mask >> shift));
}

struct tnum tnum_intersect(struct tnum a, struct tnum b)
{
	return tn(a.value | b.value, a.mask & b.mask);
}

struct tnum tnum_cast(struct tnum a, unsigned bytes)
{
	if (bytes >= 8)
		return a;
	uint64_t keep = (1ULL << (bytes * 8)) - 1;
	return tn(a.value & keep, a.mask & keep);
}

struct tnum tnum_subreg(struct tnum a) { return tnum_cast(a, 4); }
