/* Hash maps used from programs, on the paths bench_maps made fast: the
 * hash and compare specialised for 4- and 8-byte keys (against every other
 * key size), and the handed-out record once a run looked up more values
 * than it holds: every value stays usable, nothing next to a value is, and
 * map handles are still checked. Interpreter and JIT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/visor.h>

#include "testutil.h"

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})
#define NKEYS 12 /* more than the record's 8 slots */

static struct visor_map *mk(uint32_t key_size, uint32_t value_size, uint32_t max, uint32_t flags)
{
	struct visor_map *m = NULL;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_HASH, .key_size = key_size,
		   .value_size = value_size, .max_entries = max, .map_flags = flags);
	CHECK(visor_map_create(&o, &m) == 0, "create key %u value %u", key_size, value_size);
	return m;
}

/* Every key size, the fast ones (4, 8) and the generic path: user-space
 * and program lookups agree, iteration sees each key once, deletes work. */
static void test_key_sizes(void)
{
	for (uint32_t ks = 1; ks <= 20; ks++) {
		struct visor_map *m = mk(ks, 8, 64, 0);
		if (!m)
			continue;
		uint8_t key[20], next[20];
		for (uint32_t i = 0; i < 50; i++) {
			memset(key, 0, sizeof(key));
			for (uint32_t b = 0; b < ks; b++)
				key[b] = (uint8_t)(i * 7 + b * (i >> 2));
			uint64_t v = i;
			CHECK(visor_map_update(m, key, &v, VISOR_NOEXIST) == 0, "ks %u insert %u", ks, i);
		}
		uint32_t seen = 0;
		int rc = visor_map_get_next_key(m, NULL, next);
		while (rc == 0) {
			uint64_t v = ~0ull;
			CHECK(visor_map_lookup(m, next, &v) == 0 && v < 50, "ks %u iterate", ks);
			uint64_t *p = visor_map_lookup_ptr(m, next);
			CHECK(p && *p == v, "ks %u lookup_ptr", ks);
			seen++;
			memcpy(key, next, ks);
			rc = visor_map_get_next_key(m, key, next);
		}
		CHECK(rc == -ENOENT && seen == 50, "ks %u: %u keys iterated", ks, seen);
		for (uint32_t i = 0; i < 50; i += 2) {
			for (uint32_t b = 0; b < ks; b++)
				key[b] = (uint8_t)(i * 7 + b * (i >> 2));
			CHECK(visor_map_delete(m, key) == 0, "ks %u delete %u", ks, i);
			uint64_t v;
			CHECK(visor_map_lookup(m, key, &v) == -ENOENT, "ks %u deleted %u", ks, i);
		}
		visor_map_destroy(m);
	}
}

/* NKEYS lookups, each pointer spilled to r10 - 16 - 8k; then tail(). */
static size_t emit_lookups(struct visor_insn *p)
{
	size_t n = 0;
	for (int k = 0; k < NKEYS; k++) {
		p[n++] = INSN(0x62, 10, 0, -4, k);                      /* *(u32 *)(r10 - 4) = k */
		p[n++] = INSN(0x18, 1, VISOR_LDDW_MAP_FD, 0, 0);        /* r1 = map */
		p[n++] = INSN(0, 0, 0, 0, 0);
		p[n++] = INSN(0xbf, 2, 10, 0, 0);                       /* r2 = r10 - 4 */
		p[n++] = INSN(0x07, 2, 0, 0, -4);
		p[n++] = INSN(0x85, 0, 0, 0, 1);                        /* call map_lookup_elem */
		p[n++] = INSN(0x7b, 10, 0, (int16_t)(-16 - 8 * k), 0); /* spill r0 */
	}
	return n;
}

struct run {
	int err;
	uint64_t r0;
	char msg[256];
};

static struct run run_prog(struct visor_map *m, const struct visor_insn *p, size_t n, int engine)
{
	struct run r = {0};
	struct visor_vm *vm = visor_vm_create();
	/* Unsafe mode: the programs use lookup results without a NULL check
	 * and reach next to values on purpose; the run-time checks are tested. */
	if (vm)
		visor_vm_set_unsafe(vm, true);
	if (!vm || visor_vm_register_linux_helpers(vm) || visor_vm_set_maps(vm, &m, 1) ||
	    visor_vm_load(vm, p, n)) {
		snprintf(r.msg, sizeof(r.msg), "load: %s", vm ? visor_vm_errmsg(vm) : "no memory");
		r.err = -1000;
		visor_vm_destroy(vm);
		return r;
	}
	if (engine == VISOR_ENGINE_JIT && visor_vm_jit_compile(vm, 0)) {
		snprintf(r.msg, sizeof(r.msg), "jit: %s", visor_vm_errmsg(vm));
		r.err = -1000;
		visor_vm_destroy(vm);
		return r;
	}
	VISOR_OPTS(visor_vm_exec_opts, o, .engine = engine, .errbuf = r.msg,
		   .errbuf_len = sizeof(r.msg));
	r.err = visor_vm_exec(vm, &o, &r.r0);
	visor_vm_destroy(vm);
	return r;
}

/* What an access at off from the value of key k does after NKEYS lookups. */
static struct run probe(struct visor_map *m, int k, int16_t off, bool write, int engine)
{
	struct visor_insn p[NKEYS * 7 + 8];
	size_t n = emit_lookups(p);
	p[n++] = INSN(0x79, 1, 10, (int16_t)(-16 - 8 * k), 0); /* r1 = value of key k */
	if (write)
		p[n++] = INSN(0x7a, 1, 0, off, 5);             /* *(u64 *)(r1 + off) = 5 */
	else
		p[n++] = INSN(0x79, 0, 1, off, 0);             /* r0 = *(u64 *)(r1 + off) */
	p[n++] = INSN(0xb7, 0, 0, 0, 1);
	p[n++] = INSN(0x95, 0, 0, 0, 0);
	return run_prog(m, p, n, engine);
}

static void test_overflow(int engine)
{
	const char *en = engine == VISOR_ENGINE_JIT ? "jit" : "interp";
	struct visor_map *m = mk(4, 8, 64, 0);
	if (!m)
		return;
	for (uint32_t k = 0; k < NKEYS; k++) {
		uint64_t v = 10 * k;
		visor_map_update(m, &k, &v, VISOR_ANY);
	}
	/* Every value, oldest first, read and incremented. */
	struct visor_insn p[NKEYS * 7 + NKEYS * 4 + 4];
	size_t n = emit_lookups(p);
	p[n++] = INSN(0xb7, 0, 0, 0, 0);
	for (int k = 0; k < NKEYS; k++) {
		p[n++] = INSN(0x79, 1, 10, (int16_t)(-16 - 8 * k), 0); /* r1 = value */
		p[n++] = INSN(0x79, 2, 1, 0, 0);                       /* r2 = *r1 */
		p[n++] = INSN(0x0f, 0, 2, 0, 0);                       /* r0 += r2 */
		p[n++] = INSN(0xdb, 1, 2, 0, 0); /* lock *(u64 *)r1 += r2: doubles it */
	}
	p[n++] = INSN(0x95, 0, 0, 0, 0);
	struct run r = run_prog(m, p, n, engine);
	uint64_t want = 0;
	for (uint32_t k = 0; k < NKEYS; k++)
		want += 10 * k;
	CHECK(r.err == 0 && r.r0 == want, "%s: %d values read: err %d r0 %llu (%s)", en, NKEYS,
	      r.err, (unsigned long long)r.r0, r.msg);
	for (uint32_t k = 0; k < NKEYS; k++) {
		uint64_t v = 0;
		CHECK(visor_map_lookup(m, &k, &v) == 0 && v == 20 * k, "%s: key %u doubled: %llu", en,
		      k, (unsigned long long)v);
	}

	/* Inside: allowed for the oldest (map fallback) and the newest (slot). */
	for (int k = 0; k < NKEYS; k += NKEYS - 1) {
		r = probe(m, k, 0, true, engine);
		CHECK(r.err == 0 && r.r0 == 1, "%s: write value %d: %d %s", en, k, r.err, r.msg);
	}
	/* Next to a value: the element's key before it, the next element after
	 * it; refused whichever way the value is known. */
	static const int16_t outside[] = {8, -8, 4, -16};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		for (int k = 0; k < NKEYS; k += NKEYS - 1) {
			r = probe(m, k, outside[i], false, engine);
			CHECK(r.err == -EFAULT, "%s: read value %d %+d: err %d (%s)", en, k, outside[i],
			      r.err, r.msg);
		}
	}
	visor_map_destroy(m);

	/* RDONLY_PROG: values are read-only, before and after the overflow. */
	m = mk(4, 8, 64, VISOR_F_RDONLY_PROG);
	if (!m)
		return;
	for (uint32_t k = 0; k < NKEYS; k++) {
		uint64_t v = k;
		visor_map_update(m, &k, &v, VISOR_ANY);
	}
	for (int k = 0; k < NKEYS; k += NKEYS - 1) {
		r = probe(m, k, 0, false, engine);
		CHECK(r.err == 0, "%s: rdonly read %d: %d %s", en, k, r.err, r.msg);
		r = probe(m, k, 0, true, engine);
		CHECK(r.err == -EFAULT, "%s: rdonly write %d: %d %s", en, k, r.err, r.msg);
	}
	visor_map_destroy(m);
}

/* A handle that is not the bound map's (the map pointer plus 8, a stack
 * address) is refused, whatever the fast path. */
static void test_bad_handle(int engine)
{
	const char *en = engine == VISOR_ENGINE_JIT ? "jit" : "interp";
	struct visor_map *m = mk(4, 8, 4, 0);
	if (!m)
		return;
	for (int bad = 0; bad < 2; bad++) {
		struct visor_insn p[] = {
			INSN(0x62, 10, 0, -4, 0),
			INSN(0x18, 1, VISOR_LDDW_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0),
			bad ? INSN(0xbf, 1, 10, 0, 0) : INSN(0x07, 1, 0, 0, 8),
			INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
			INSN(0x85, 0, 0, 0, 1),
			INSN(0x95, 0, 0, 0, 0),
		};
		struct run r = run_prog(m, p, sizeof(p) / sizeof(p[0]), engine);
		CHECK(r.err == -EINVAL && strstr(r.msg, "not a map"), "%s: bad handle %d: %d %s", en,
		      bad, r.err, r.msg);
	}
	visor_map_destroy(m);
}

int main(void)
{
	test_key_sizes();
	test_overflow(VISOR_ENGINE_INTERP);
	test_bad_handle(VISOR_ENGINE_INTERP);
	if (visor_vm_jit_supported()) {
		test_overflow(VISOR_ENGINE_JIT);
		test_bad_handle(VISOR_ENGINE_JIT);
	}
	return test_summary("test_maps_prog");
}
