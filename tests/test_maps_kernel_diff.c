/* Differential test against the kernel: the same seeded random operations
 * go through bpf() to a kernel map and through the visor API to a visor
 * map; return codes, looked-up values and whole contents must match.
 * Creation checks are compared on a table of good and bad parameters.
 * Needs root (or CAP_BPF); skips with one line otherwise. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <visor/maps.h>

#include "testutil.h"

static uint64_t rng;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* ---- Creation checks ---------------------------------------------------- */

struct create_case {
	uint32_t type, ks, vs, max, flags;
};

static const struct create_case create_cases[] = {
	{2, 4, 4, 4, 0}, {2, 8, 4, 4, 0}, {2, 4, 0, 4, 0}, {2, 4, 4, 0, 0}, {2, 4, 4, 4, 1},
	{2, 4, 4, 4, 1 << 10}, {2, 4, 4, 4, 1 << 12}, {2, 4, 4, 4, 1 << 6}, {2, 4, 4, 4, 3 << 3},
	{2, 4, 4, 4, 1 << 5}, {2, 4, 4, 4, 1 << 20}, {2, 4, 4, 4, 3 << 7},
	{6, 4, 32768, 1, 0}, {6, 4, 32769, 1, 0}, {6, 4, 4, 4, 1 << 2}, {6, 4, 4, 4, 1 << 10},
	{6, 4, 4, 4, 1 << 12},
	{1, 0, 4, 4, 0}, {1, 4, 0, 4, 0}, {1, 4, 4, 0, 0}, {1, 513, 4, 4, 0}, {1, 4, 4, 4, 2},
	{1, 4, 4, 4, 1 << 6}, {1, 4, 4, 4, 1 << 10}, {1, 4, 4194251, 4, 1}, {1, 4, 4194252, 4, 1},
	{1, 4194251, 4, 4, 1}, {1, 4194252, 4, 4, 1}, 
	{1, 4, 4, (1U << 27) + 1, 1}, {1, 4, 4, 1U << 31, 1}, {1, 4, 4, 4, 1 << 2},
	{5, 4, 32768, 4, 0}, {5, 4, 32769, 4, 0}, {5, 4, 4, 4, 1 << 2}, {5, 4, 4, 4, 1},
	{9, 4, 4, 4, 1}, {9, 4, 4, 4, 2}, {9, 4, 4, 4, 2 | 4}, {9, 4, 4, 4, 1 << 6}, {9, 0, 4, 4, 0},
	{10, 4, 4, 4, 2}, {10, 4, 4, 4, 1 << 2}, {10, 4, 32769, 4, 0}, {10, 4, 4, 4, 1},
	{11, 8, 4, 4, 0}, {11, 8, 4, 4, 1}, {11, 4, 4, 4, 1}, {11, 5, 4, 4, 1}, {11, 260, 4, 4, 1},
	{11, 261, 4, 4, 1}, {11, 8, 0, 4, 1}, {11, 8, 4194024, 4, 1}, {11, 8, 4194025, 4, 1},
	{11, 8, 4, 0, 1}, {11, 8, 4, 4, 1 | 1 << 6}, {11, 8, 4, 4, 1 | 1 << 10},
	{22, 0, 4, 4, 0}, {22, 4, 4, 4, 0}, {22, 0, 0, 4, 0}, {22, 0, 4, 0, 0}, {22, 0, 4, 4, 1},
	{22, 0, 4194304, 1, 0}, {22, 0, 4194305, 1, 0}, {23, 0, 4, 4, 1 << 7},
	{27, 0, 0, 4096, 0}, {27, 0, 0, 8192, 0}, {27, 0, 0, 12288, 0}, {27, 0, 0, 2048, 0},
	{27, 4, 0, 4096, 0}, {27, 0, 4, 4096, 0}, {27, 0, 0, 0, 0}, {27, 0, 0, 4096, 1 << 3},
	{3, 4, 4, 4, 0}, {3, 4, 8, 4, 0}, {3, 8, 4, 4, 0}, {3, 4, 4, 0, 0}, {3, 4, 4, 4, 1 << 7},
	{3, 4, 4, 4, 1 << 3}, {99, 4, 4, 4, 0}, {0, 4, 4, 4, 0},
};

static void test_create(void)
{
	for (size_t i = 0; i < sizeof(create_cases) / sizeof(create_cases[0]); i++) {
		const struct create_case *c = &create_cases[i];
		LIBBPF_OPTS(bpf_map_create_opts, ko, .map_flags = c->flags);
		int kfd = bpf_map_create(c->type, NULL, c->ks, c->vs, c->max, &ko);
		int krc = kfd < 0 ? kfd : 0;
		if (kfd >= 0)
			close(kfd);
		struct visor_map *m;
		char err[200] = "";
		VISOR_OPTS(visor_map_create_opts, o, .type = c->type, .key_size = c->ks,
			   .value_size = c->vs, .max_entries = c->max, .map_flags = c->flags,
			   .errbuf = err, .errbuf_len = sizeof(err));
		int vrc = visor_map_create(&o, &m);
		if (!vrc)
			visor_map_destroy(m);
		CHECK(krc == vrc, "create type %u ks %u vs %u max %u flags 0x%x: kernel %d, visor %d (%s)",
		      c->type, c->ks, c->vs, c->max, c->flags, krc, vrc, err);
	}
}

/* ---- Keyed maps --------------------------------------------------------- */

struct pair {
	int fd;
	struct visor_map *m;
	uint32_t type, ks, vs, max;
	size_t uvs; /* value bytes exchanged with user space */
	void (*key)(struct pair *p, void *k);
	bool ordered; /* same iteration order expected (arrays, LPM) */
	const char *what;
};

static bool pair_make(struct pair *p, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max,
		      uint32_t flags, const char *what)
{
	LIBBPF_OPTS(bpf_map_create_opts, ko, .map_flags = flags);
	memset(p, 0, sizeof(*p));
	p->fd = bpf_map_create(type, NULL, ks, vs, max, &ko);
	char err[200];
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = ks, .value_size = vs,
		   .max_entries = max, .map_flags = flags, .errbuf = err, .errbuf_len = sizeof(err));
	int rc = visor_map_create(&o, &p->m);
	CHECK(p->fd >= 0 && !rc, "%s: create kernel %d visor %d (%s)", what, p->fd, rc, err);
	if (p->fd < 0 || rc)
		return false;
	p->type = type;
	p->ks = ks;
	p->vs = vs;
	p->max = visor_map_max_entries(p->m);
	p->uvs = visor_map_user_value_size(p->m);
	p->what = what;
	return true;
}

static void pair_free(struct pair *p)
{
	close(p->fd);
	visor_map_destroy(p->m);
}

static void key_index(struct pair *p, void *k)
{
	uint32_t i = rnd() % (p->max + 2);
	memcpy(k, &i, 4);
}

static void key_small(struct pair *p, void *k)
{
	memset(k, 0, p->ks);
	uint32_t i = rnd() % (p->max * 2);
	memcpy(k, &i, p->ks < 4 ? p->ks : 4);
	if (p->ks > 4 && rnd() % 8 == 0)
		((uint8_t *)k)[p->ks - 1] = (uint8_t)rnd();
}

static void key_lpm(struct pair *p, void *k)
{
	static const uint8_t heads[] = {10, 192, 0, 255, 172};
	uint32_t bits = (p->ks - 4) * 8, plen = rnd() % (bits + 2);
	uint8_t *d = (uint8_t *)k + 4;
	memcpy(k, &plen, 4);
	rnd_bytes(d, p->ks - 4);
	d[0] = heads[rnd() % 5];
	d[1] = (uint8_t)(rnd() % 3);
	if (p->ks - 4 > 2)
		d[2] = (uint8_t)(rnd() % 3);
}

static uint64_t rnd_flags(void)
{
	uint32_t r = rnd() % 20;
	return r < 8 ? VISOR_ANY : r < 13 ? VISOR_NOEXIST : r < 18 ? VISOR_EXIST : r == 18 ? 3 : 4;
}

/* All (key, value) records of both maps; sorted unless the order must match. */
struct dump {
	uint8_t *recs;
	size_t n, rec;
};

static int cmp_rec_len;
static int cmp_rec(const void *a, const void *b)
{
	return memcmp(a, b, (size_t)cmp_rec_len);
}

static void dump_map(struct pair *p, bool kernel, struct dump *d)
{
	d->rec = p->ks + p->uvs;
	d->n = 0;
	d->recs = malloc(d->rec * (p->max + 4));
	uint8_t key[300], next[300];
	int rc;
	for (rc = kernel ? bpf_map_get_next_key(p->fd, NULL, next)
			 : visor_map_get_next_key(p->m, NULL, next);
	     !rc && d->n < p->max + 4;
	     rc = kernel ? bpf_map_get_next_key(p->fd, key, next)
			 : visor_map_get_next_key(p->m, key, next)) {
		uint8_t *r = d->recs + d->n * d->rec;
		memcpy(r, next, p->ks);
		int lrc = kernel ? bpf_map_lookup_elem(p->fd, next, r + p->ks)
				 : visor_map_lookup(p->m, next, r + p->ks);
		CHECK(!lrc, "%s: lookup of an iterated key failed (%s)", p->what,
		      kernel ? "kernel" : "visor");
		d->n++;
		memcpy(key, next, p->ks);
	}
	CHECK(rc == -ENOENT, "%s: iteration ended with %d", p->what, rc);
	if (!p->ordered) {
		cmp_rec_len = (int)d->rec;
		qsort(d->recs, d->n, d->rec, cmp_rec);
	}
}

static void compare_contents(struct pair *p, int step)
{
	struct dump k, v;
	dump_map(p, true, &k);
	dump_map(p, false, &v);
	CHECK(k.n == v.n, "%s step %d: kernel has %zu elements, visor %zu", p->what, step, k.n, v.n);
	if (k.n == v.n)
		CHECK(!memcmp(k.recs, v.recs, k.n * k.rec), "%s step %d: contents differ%s", p->what,
		      step, p->ordered ? " (or their order)" : "");
	free(k.recs);
	free(v.recs);
}

/* Random operations; eviction-free key spaces for LRU maps (see test_lru). */
static void run_ops(struct pair *p, int nops)
{
	uint8_t key[300], next_k[300], next_v[300];
	size_t vsz = p->uvs;
	uint8_t *val = malloc(vsz), *out_k = malloc(vsz), *out_v = malloc(vsz);
	bool hashlike = !p->ordered;
	for (int i = 0; i < nops; i++) {
		p->key(p, key);
		int op = rnd() % 12, krc, vrc;
		switch (op) {
		case 0: case 1: case 2: case 3: {
			uint64_t fl = rnd_flags();
			rnd_bytes(val, vsz);
			krc = bpf_map_update_elem(p->fd, key, val, fl);
			vrc = visor_map_update(p->m, key, val, fl);
			CHECK(krc == vrc, "%s op %d: update flags %llu: kernel %d visor %d (%s)",
			      p->what, i, (unsigned long long)fl, krc, vrc, visor_map_errmsg(p->m));
			break;
		}
		case 4: case 5:
			krc = bpf_map_delete_elem(p->fd, key);
			vrc = visor_map_delete(p->m, key);
			CHECK(krc == vrc, "%s op %d: delete: kernel %d visor %d", p->what, i, krc, vrc);
			break;
		case 6: case 7: case 8:
			memset(out_k, 0, vsz);
			memset(out_v, 0, vsz);
			krc = bpf_map_lookup_elem(p->fd, key, out_k);
			vrc = visor_map_lookup(p->m, key, out_v);
			CHECK(krc == vrc && (krc || !memcmp(out_k, out_v, vsz)),
			      "%s op %d: lookup: kernel %d visor %d%s", p->what, i, krc, vrc,
			      krc == vrc ? ", values differ" : "");
			break;
		case 9: case 10: {
			/* Hash order is implementation-defined: only the first key,
			 * or a key not in the map, must behave the same. */
			bool null_key = rnd() % 3 == 0;
			if (hashlike && !null_key && !bpf_map_lookup_elem(p->fd, key, out_k))
				null_key = true;
			krc = bpf_map_get_next_key(p->fd, null_key ? NULL : key, next_k);
			vrc = visor_map_get_next_key(p->m, null_key ? NULL : key, next_v);
			CHECK(krc == vrc && (krc || hashlike || !memcmp(next_k, next_v, p->ks)),
			      "%s op %d: get_next_key: kernel %d visor %d", p->what, i, krc, vrc);
			break;
		}
		default:
			memset(out_k, 0, vsz);
			memset(out_v, 0, vsz);
			krc = bpf_map_lookup_and_delete_elem(p->fd, key, out_k);
			vrc = visor_map_lookup_and_delete(p->m, key, out_v);
			CHECK(krc == vrc && (krc || !memcmp(out_k, out_v, vsz)),
			      "%s op %d: lookup_and_delete: kernel %d visor %d", p->what, i, krc, vrc);
			break;
		}
		if (i % 1000 == 999)
			compare_contents(p, i);
	}
	compare_contents(p, nops);
	free(val);
	free(out_k);
	free(out_v);
}

/* Argument checks that do not depend on contents. */
static void run_arg_checks(struct pair *p)
{
	uint8_t key[300] = {0}, v[4096];
	CHECK(bpf_map_lookup_elem(p->fd, NULL, v) == visor_map_lookup(p->m, NULL, v),
	      "%s: NULL key lookup", p->what);
	CHECK(bpf_map_update_elem(p->fd, NULL, v, 0) == visor_map_update(p->m, NULL, v, 0),
	      "%s: NULL key update", p->what);
	CHECK(bpf_map_delete_elem(p->fd, NULL) == visor_map_delete(p->m, NULL),
	      "%s: NULL key delete", p->what);
	CHECK(bpf_map_update_elem(p->fd, key, NULL, 0) == visor_map_update(p->m, key, NULL, 0),
	      "%s: NULL value update", p->what);
	CHECK(bpf_map_lookup_elem_flags(p->fd, key, v, 1) ==
		      visor_map_lookup_flags(p->m, key, v, 1), "%s: lookup flags", p->what);
	CHECK(bpf_map_lookup_and_delete_elem_flags(p->fd, key, v, 8) ==
		      visor_map_lookup_and_delete_flags(p->m, key, v, 8), "%s: lad flags", p->what);
}

static void diff_keyed(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
		       void (*key)(struct pair *, void *), bool ordered, const char *what)
{
	struct pair p;
	if (!pair_make(&p, type, ks, vs, max, flags, what))
		return;
	p.key = key;
	p.ordered = ordered;
	run_arg_checks(&p);
	run_ops(&p, (int)(20000 * test_scale()));
	pair_free(&p);
}

/* ---- Batches ------------------------------------------------------------ */

static void diff_batch(uint32_t type, uint32_t vs, const char *what)
{
	struct pair p;
	uint32_t max = 40;
	if (!pair_make(&p, type, 4, vs, max, 0, what))
		return;
	for (uint32_t i = 0; i < 30; i++) {
		uint32_t k = rnd() % max;
		uint8_t v[4096];
		rnd_bytes(v, p.uvs);
		bpf_map_update_elem(p.fd, &k, v, 0);
		visor_map_update(p.m, &k, v, 0);
	}
	bool arr = type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
	size_t room = max + 8;
	uint8_t *kk = malloc(room * 4), *vk = malloc(room * p.uvs);
	uint8_t *kv = malloc(room * 4), *vv = malloc(room * p.uvs);
	uint32_t got_k = 0, got_v = 0, ink = 0, inv = 0, outk, outv;
	int rck = 0, rcv = 0;
	bool first = true;
	/* Arrays: identical batches step by step. Hashes: the same union. */
	for (int step = 0; step < 100 && (rck == 0 || (!arr && rcv == 0)); step++) {
		uint32_t n = 1 + rnd() % 9, ck = 0, cv = 0;
		if (rck == 0 || arr) {
			ck = n;
			rck = bpf_map_lookup_batch(p.fd, first ? NULL : &ink, &outk, kk + got_k * 4,
						   vk + got_k * p.uvs, &ck, NULL);
			if (rck == -ENOSPC)
				rck = 0, ck = 0;
		}
		if (rcv == 0 || arr) {
			cv = n;
			rcv = visor_map_lookup_batch(p.m, first ? NULL : &inv, &outv, kv + got_v * 4,
						     vv + got_v * p.uvs, &cv, NULL);
			if (rcv == -ENOSPC)
				rcv = 0, cv = 0;
		}
		if (arr) {
			CHECK(rck == rcv && ck == cv && (!ck || outk == outv), "%s batch step %d: "
			      "kernel rc %d count %u out %u, visor rc %d count %u out %u", what, step,
			      rck, ck, outk, rcv, cv, outv);
			if (rck != rcv || ck != cv)
				break;
		}
		got_k += ck;
		got_v += cv;
		if (ck)
			ink = outk;
		if (cv)
			inv = outv;
		first = false;
	}
	CHECK(rck == -ENOENT && rcv == -ENOENT, "%s batch: both reach the end (%d %d)", what, rck,
	      rcv);
	CHECK(got_k == got_v, "%s batch: kernel %u elements, visor %u", what, got_k, got_v);
	if (got_k == got_v) {
		size_t rec = 4 + p.uvs;
		uint8_t *rk = malloc(got_k * rec), *rv = malloc(got_v * rec);
		for (uint32_t i = 0; i < got_k; i++) {
			memcpy(rk + i * rec, kk + i * 4, 4);
			memcpy(rk + i * rec + 4, vk + i * p.uvs, p.uvs);
			memcpy(rv + i * rec, kv + i * 4, 4);
			memcpy(rv + i * rec + 4, vv + i * p.uvs, p.uvs);
		}
		cmp_rec_len = (int)rec;
		qsort(rk, got_k, rec, cmp_rec);
		qsort(rv, got_v, rec, cmp_rec);
		CHECK(!memcmp(rk, rv, got_k * rec), "%s batch: contents differ", what);
		free(rk);
		free(rv);
	}
	uint32_t c0 = 0;
	CHECK(bpf_map_lookup_batch(p.fd, NULL, &outk, kk, vk, &c0, NULL) ==
		      visor_map_lookup_batch(p.m, NULL, &outv, kv, vv, &c0, NULL), "%s: count 0", what);
	free(kk);
	free(vk);
	free(kv);
	free(vv);
	pair_free(&p);
}

/* ---- LRU ---------------------------------------------------------------- */

static void key_lru_small(struct pair *p, void *k)
{
	/* A quarter of the capacity (of one CPU's share): the kernel never
	 * evicts here, so contents must match exactly. */
	uint32_t i = rnd() % (p->max / 4);
	memset(k, 0, p->ks);
	memcpy(k, &i, 4);
}

static void diff_lru(uint32_t type, uint32_t flags, const char *what)
{
	struct pair p;
	uint32_t ncpu = visor_map_possible_cpus();
	if (!pair_make(&p, type, 4, 8, 256, flags, what))
		return;
	p.key = key_lru_small;
	/* Phase 1: no eviction, everything compared. With per-CPU lists the
	 * key space is a quarter of one CPU's share. */
	uint32_t cap = (flags & BPF_F_NO_COMMON_LRU) ? p.max / ncpu : p.max;
	uint32_t saved = p.max;
	p.max = cap;
	run_ops(&p, (int)(10000 * test_scale()));
	p.max = saved;

	/* Phase 2: far more keys than room. Only what does not depend on the
	 * eviction choice is compared: BPF_ANY updates succeed, the key just
	 * written is there with its value, and neither map exceeds its bound. */
	uint8_t *v = malloc(p.uvs), *ok = malloc(p.uvs), *ov = malloc(p.uvs);
	for (uint32_t i = 0; i < 4 * p.max; i++) {
		uint32_t k = 1000 + rnd() % (8 * p.max);
		rnd_bytes(v, p.uvs);
		int krc = bpf_map_update_elem(p.fd, &k, v, 0);
		int vrc = visor_map_update(p.m, &k, v, 0);
		CHECK(krc == 0 && vrc == 0, "%s: update under pressure: kernel %d visor %d", what, krc,
		      vrc);
		krc = bpf_map_lookup_elem(p.fd, &k, ok);
		vrc = visor_map_lookup(p.m, &k, ov);
		CHECK(!krc && !vrc && !memcmp(ok, ov, p.uvs) && !memcmp(ov, v, p.uvs),
		      "%s: key just written: kernel %d visor %d", what, krc, vrc);
	}
	struct dump dk, dv;
	p.ordered = false;
	dump_map(&p, true, &dk);
	dump_map(&p, false, &dv);
	CHECK(dk.n <= cap && dv.n <= cap && dv.n > cap / 2,
	      "%s: sizes kernel %zu visor %zu, bound %u", what, dk.n, dv.n, cap);
	free(dk.recs);
	free(dv.recs);
	free(v);
	free(ok);
	free(ov);
	pair_free(&p);
}

/* ---- Queue and stack ---------------------------------------------------- */

static void diff_queue(uint32_t type, const char *what)
{
	struct pair p;
	if (!pair_make(&p, type, 0, 12, 8, 0, what))
		return;
	uint8_t v[12], ok[12], ov[12], key4[4] = {0};
	for (int i = 0; i < (int)(10000 * test_scale()); i++) {
		int op = rnd() % 8, krc, vrc;
		memset(ok, 0, 12);
		memset(ov, 0, 12);
		if (op < 4) {
			uint64_t fl = rnd() % 4;
			rnd_bytes(v, 12);
			krc = bpf_map_update_elem(p.fd, NULL, v, fl);
			vrc = visor_map_update(p.m, NULL, v, fl);
			CHECK(krc == vrc, "%s op %d push flags %llu: kernel %d visor %d", what, i,
			      (unsigned long long)fl, krc, vrc);
		} else if (op < 6) {
			krc = bpf_map_lookup_and_delete_elem(p.fd, NULL, ok);
			vrc = visor_map_lookup_and_delete(p.m, NULL, ov);
			CHECK(krc == vrc && !memcmp(ok, ov, 12), "%s op %d pop: kernel %d visor %d",
			      what, i, krc, vrc);
		} else if (op < 7) {
			krc = bpf_map_lookup_elem(p.fd, NULL, ok);
			vrc = visor_map_lookup(p.m, NULL, ov);
			CHECK(krc == vrc && !memcmp(ok, ov, 12), "%s op %d peek: kernel %d visor %d",
			      what, i, krc, vrc);
		} else {
			CHECK(bpf_map_lookup_elem(p.fd, key4, ok) == visor_map_lookup(p.m, key4, ov) &&
			      bpf_map_delete_elem(p.fd, NULL) == visor_map_delete(p.m, NULL) &&
			      bpf_map_get_next_key(p.fd, NULL, key4) ==
				      visor_map_get_next_key(p.m, NULL, key4) &&
			      bpf_map_update_elem(p.fd, key4, v, 0) ==
				      visor_map_update(p.m, key4, v, 0),
			      "%s: argument checks", what);
		}
	}
	pair_free(&p);
}

/* ---- Maps of maps and prog arrays (values are references) --------------- */

#define NINNER 4
static void diff_map_in_map(uint32_t type, const char *what)
{
	int kin[NINNER + 1];
	struct visor_map *vin[NINNER + 1];
	uint32_t kid[NINNER + 1];
	for (int i = 0; i <= NINNER; i++) {
		/* The last one does not match the template (max_entries). */
		uint32_t max = i == NINNER ? 9 : 4;
		kin[i] = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, max, NULL);
		VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
			   .value_size = 8, .max_entries = max);
		visor_map_create(&o, &vin[i]);
		struct bpf_map_info info = {0};
		uint32_t il = sizeof(info);
		bpf_obj_get_info_by_fd(kin[i], &info, &il);
		kid[i] = info.id;
	}
	LIBBPF_OPTS(bpf_map_create_opts, ko, .inner_map_fd = kin[0]);
	int fd = bpf_map_create(type, NULL, 4, 4, 6, &ko);
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = 4, .value_size = 4,
		   .max_entries = 6, .inner_map = vin[0]);
	int rc = visor_map_create(&o, &m);
	CHECK(fd >= 0 && !rc, "%s: create %d %d", what, fd, rc);
	if (fd < 0 || rc)
		return;
	for (int i = 0; i < (int)(6000 * test_scale()); i++) {
		uint32_t k = rnd() % 8, op = rnd() % 4, inner = rnd() % (NINNER + 2), ko_, vo;
		int krc, vrc;
		if (op < 2) {
			uint64_t fl = rnd() % 3;
			/* inner NINNER+1: a value that names no map */
			uint32_t kval = inner > NINNER ? 0x7ffff : (uint32_t)kin[inner];
			uint32_t vval = inner > NINNER ? 0x7ffffff : visor_map_id(vin[inner]);
			krc = bpf_map_update_elem(fd, &k, &kval, fl);
			vrc = visor_map_update(m, &k, &vval, fl);
			CHECK(krc == vrc, "%s op %d update inner %u flags %llu: kernel %d visor %d", what,
			      i, inner, (unsigned long long)fl, krc, vrc);
		} else if (op == 2) {
			krc = bpf_map_delete_elem(fd, &k);
			vrc = visor_map_delete(m, &k);
			CHECK(krc == vrc, "%s op %d delete: kernel %d visor %d", what, i, krc, vrc);
		} else {
			krc = bpf_map_lookup_elem(fd, &k, &ko_);
			vrc = visor_map_lookup(m, &k, &vo);
			int ki = -1, vi = -1;
			for (int j = 0; j <= NINNER; j++) {
				if (!krc && ko_ == kid[j])
					ki = j;
				if (!vrc && vo == visor_map_id(vin[j]))
					vi = j;
			}
			CHECK(krc == vrc && ki == vi, "%s op %d lookup: kernel %d (inner %d) visor %d "
			      "(inner %d)", what, i, krc, ki, vrc, vi);
		}
	}
	close(fd);
	visor_map_destroy(m);
	for (int i = 0; i <= NINNER; i++) {
		close(kin[i]);
		visor_map_destroy(vin[i]);
	}
}

/* Which inner maps fit a template: same type, sizes and flags; max_entries
 * only for plain arrays. */
static void diff_inner_rules(void)
{
	static const struct create_case tmpl[] = {
		{BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0}, {BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4, 0},
		{BPF_MAP_TYPE_HASH, 4, 8, 4, 0}, {BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, 0},
		{BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0}, {BPF_MAP_TYPE_LPM_TRIE, 8, 8, 4, 1},
		{BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_INNER_MAP}, {BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0},
	};
	for (size_t t = 0; t < sizeof(tmpl) / sizeof(tmpl[0]); t++) {
		const struct create_case *c = &tmpl[t];
		/* Candidates: same, other max_entries, other value size, other
		 * access flag (a file descriptor property in the kernel), other
		 * map flag. */
		struct create_case cand[] = {*c, *c, *c, *c, *c};
		cand[1].max = c->type == BPF_MAP_TYPE_RINGBUF ? 8192 : 8;
		cand[2].vs = c->vs ? 16 : 0;
		cand[3].flags ^= BPF_F_RDONLY;
		cand[4].flags ^= BPF_F_RDONLY_PROG;
		for (int outer = BPF_MAP_TYPE_ARRAY_OF_MAPS; outer <= BPF_MAP_TYPE_HASH_OF_MAPS; outer++) {
			LIBBPF_OPTS(bpf_map_create_opts, to, .map_flags = c->flags);
			int tfd = bpf_map_create(c->type, NULL, c->ks, c->vs, c->max, &to);
			struct visor_map *tm, *om;
			VISOR_OPTS(visor_map_create_opts, vo, .type = c->type, .key_size = c->ks,
				   .value_size = c->vs, .max_entries = c->max, .map_flags = c->flags);
			visor_map_create(&vo, &tm);
			LIBBPF_OPTS(bpf_map_create_opts, oo, .inner_map_fd = tfd);
			int ofd = bpf_map_create(outer, NULL, 4, 4, 4, &oo);
			VISOR_OPTS(visor_map_create_opts, voo, .type = outer, .key_size = 4,
				   .value_size = 4, .max_entries = 4, .inner_map = tm);
			int rc = visor_map_create(&voo, &om);
			CHECK(ofd >= 0 && !rc, "outer %d of type %u: kernel %d visor %d", outer, c->type,
			      ofd, rc);
			for (int i = 0; i < 5 && ofd >= 0 && !rc; i++) {
				const struct create_case *d = &cand[i];
				LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = d->flags);
				int ifd = bpf_map_create(d->type, NULL, d->ks, d->vs, d->max, &io);
				struct visor_map *im;
				VISOR_OPTS(visor_map_create_opts, vio, .type = d->type, .key_size = d->ks,
					   .value_size = d->vs, .max_entries = d->max,
					   .map_flags = d->flags);
				if (ifd < 0 || visor_map_create(&vio, &im)) {
					if (ifd >= 0)
						close(ifd);
					continue; /* e.g. a ring buffer with a value size */
				}
				uint32_t k = 0, kv = (uint32_t)ifd, vv = visor_map_id(im);
				int krc = bpf_map_update_elem(ofd, &k, &kv, 0);
				int vrc = visor_map_update(om, &k, &vv, 0);
				CHECK(krc == vrc, "outer %d, inner type %u candidate %d: kernel %d visor %d",
				      outer, c->type, i, krc, vrc);
				close(ifd);
				visor_map_destroy(im);
			}
			if (ofd >= 0)
				close(ofd);
			if (!rc)
				visor_map_destroy(om);
			close(tfd);
			visor_map_destroy(tm);
		}
	}
}

static void *prog_resolve(void *ctx, uint32_t id)
{
	return id >= 1 && id <= 3 ? (void *)(uintptr_t)id : NULL;
}

static void diff_prog_array(void)
{
	struct bpf_insn prog[] = {
		{.code = 0xb7, .dst_reg = 0, .imm = 0}, /* r0 = 0 */
		{.code = 0x95},                         /* exit */
	};
	int pfd[3];
	for (int i = 0; i < 3; i++) {
		pfd[i] = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", prog, 2, NULL);
		CHECK(pfd[i] >= 0, "load a trivial program: %d", pfd[i]);
		if (pfd[i] < 0)
			return;
	}
	struct visor_map_ref_ops ops = {.resolve = prog_resolve};
	int fd = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, NULL, 4, 4, 5, NULL);
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_PROG_ARRAY, .key_size = 4,
		   .value_size = 4, .max_entries = 5, .ref_ops = &ops);
	visor_map_create(&o, &m);
	for (int i = 0; i < (int)(2000 * test_scale()); i++) {
		uint32_t k = rnd() % 7, op = rnd() % 3, which = rnd() % 4, kv, vv;
		int krc, vrc;
		if (op == 0) {
			uint64_t fl = rnd() % 4 == 0 ? rnd() % 3 : 0;
			kv = which < 3 ? (uint32_t)pfd[which] : 0x7ffff;
			vv = which < 3 ? which + 1 : 99;
			krc = bpf_map_update_elem(fd, &k, &kv, fl);
			vrc = visor_map_update(m, &k, &vv, fl);
			CHECK(krc == vrc, "prog array op %d update: kernel %d visor %d", i, krc, vrc);
		} else if (op == 1) {
			krc = bpf_map_delete_elem(fd, &k);
			vrc = visor_map_delete(m, &k);
			CHECK(krc == vrc, "prog array op %d delete: kernel %d visor %d", i, krc, vrc);
		} else {
			krc = bpf_map_lookup_elem(fd, &k, &kv);
			vrc = visor_map_lookup(m, &k, &vv);
			CHECK(krc == vrc, "prog array op %d lookup: kernel %d visor %d", i, krc, vrc);
		}
	}
	uint32_t c = 2, ob, keys[2], vals[2];
	CHECK(bpf_map_lookup_batch(fd, NULL, &ob, keys, vals, &c, NULL) ==
		      visor_map_lookup_batch(m, NULL, &ob, keys, vals, &c, NULL), "prog array batch");
	close(fd);
	visor_map_destroy(m);
	for (int i = 0; i < 3; i++)
		close(pfd[i]);
}

static void diff_ringbuf_ops(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_RINGBUF, .max_entries = 4096);
	visor_map_create(&o, &m);
	uint32_t k = 0, v, c = 1, ob;
	CHECK(bpf_map_lookup_elem(fd, NULL, &v) == visor_map_lookup(m, NULL, &v) &&
	      bpf_map_lookup_elem(fd, &k, &v) == visor_map_lookup(m, &k, &v) &&
	      bpf_map_update_elem(fd, NULL, &v, 0) == visor_map_update(m, NULL, &v, 0) &&
	      bpf_map_delete_elem(fd, NULL) == visor_map_delete(m, NULL) &&
	      bpf_map_get_next_key(fd, NULL, &k) == visor_map_get_next_key(m, NULL, &k) &&
	      bpf_map_lookup_and_delete_elem(fd, NULL, &v) ==
		      visor_map_lookup_and_delete(m, NULL, &v) &&
	      bpf_map_lookup_batch(fd, NULL, &ob, &k, &v, &c, NULL) ==
		      visor_map_lookup_batch(m, NULL, &ob, &k, &v, &c, NULL),
	      "ring buffer: unsupported operations");
	close(fd);
	visor_map_destroy(m);
}

int main(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0) {
		char why[128];
		snprintf(why, sizeof(why), "kernel maps unavailable (bpf: %s); run as root",
			 strerror(-fd));
		return test_skip("test_maps_kernel_diff", why);
	}
	close(fd);
	/* One CPU, so the kernel's per-CPU LRU lists and visor's slot 0 agree. */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	visor_map_set_possible_cpus((uint32_t)libbpf_num_possible_cpus());
	visor_map_set_cpu(0);

	const char *s = getenv("VISOR_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed5eedULL;
	printf("seed 0x%llx (VISOR_SEED to change)\n", (unsigned long long)seed);
	rng = seed | 1;

	test_create();
	diff_keyed(BPF_MAP_TYPE_ARRAY, 4, 12, 16, 0, key_index, true, "array");
	diff_keyed(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 12, 16, 0, key_index, true, "percpu_array");
	diff_keyed(BPF_MAP_TYPE_HASH, 6, 12, 24, 0, key_small, false, "hash");
	diff_keyed(BPF_MAP_TYPE_HASH, 4, 8, 24, BPF_F_NO_PREALLOC, key_small, false,
		   "hash no_prealloc");
	diff_keyed(BPF_MAP_TYPE_PERCPU_HASH, 8, 4, 24, 0, key_small, false, "percpu_hash");
	diff_keyed(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 20, BPF_F_NO_PREALLOC, key_lpm, true, "lpm ipv4");
	diff_keyed(BPF_MAP_TYPE_LPM_TRIE, 20, 4, 20, BPF_F_NO_PREALLOC, key_lpm, true, "lpm ipv6");
	diff_lru(BPF_MAP_TYPE_LRU_HASH, 0, "lru_hash");
	diff_lru(BPF_MAP_TYPE_LRU_HASH, BPF_F_NO_COMMON_LRU, "lru_hash no_common_lru");
	diff_lru(BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, "lru_percpu_hash");
	diff_batch(BPF_MAP_TYPE_ARRAY, 8, "array");
	diff_batch(BPF_MAP_TYPE_PERCPU_ARRAY, 4, "percpu_array");
	diff_batch(BPF_MAP_TYPE_HASH, 8, "hash");
	diff_batch(BPF_MAP_TYPE_PERCPU_HASH, 8, "percpu_hash");
	diff_queue(BPF_MAP_TYPE_QUEUE, "queue");
	diff_queue(BPF_MAP_TYPE_STACK, "stack");
	diff_map_in_map(BPF_MAP_TYPE_ARRAY_OF_MAPS, "array_of_maps");
	diff_map_in_map(BPF_MAP_TYPE_HASH_OF_MAPS, "hash_of_maps");
	diff_inner_rules();
	diff_prog_array();
	diff_ringbuf_ops();
	return test_summary("test_maps_kernel_diff");
}
