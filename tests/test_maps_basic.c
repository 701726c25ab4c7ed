/* Map semantics per type, without the kernel: creation checks and messages,
 * flags, full maps, iteration, per-CPU views, LRU eviction, queues and
 * stacks, prog arrays, map-in-map, batches, references and ids. The same
 * rules are compared against the kernel in test_maps_kernel_diff.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "testutil.h"

static struct visor_map *mk(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	char err[256];
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = ks, .value_size = vs,
		   .max_entries = max, .map_flags = flags, .errbuf = err, .errbuf_len = sizeof(err));
	int rc = visor_map_create(&o, &m);
	if (rc) {
		fprintf(stderr, "create type %u failed: %d %s\n", type, rc, err);
		abort();
	}
	return m;
}

static void create_fails(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
			 int want, const char *msg)
{
	char err[256] = "";
	struct visor_map *m = (void *)1;
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = ks, .value_size = vs,
		   .max_entries = max, .map_flags = flags, .errbuf = err, .errbuf_len = sizeof(err));
	int rc = visor_map_create(&o, &m);
	CHECK(rc == want, "create(type %u ks %u vs %u max %u flags 0x%x) = %d, want %d (%s)", type,
	      ks, vs, max, flags, rc, want, err);
	CHECK(!m, "map pointer not cleared on failure");
	CHECK(strstr(err, msg), "message '%s' lacks '%s'", err, msg);
	if (!rc)
		visor_map_destroy(m);
}

static void test_create(void)
{
	create_fails(99, 4, 4, 4, 0, -EINVAL, "unknown map type 99");
	create_fails(30, 4, 0, 16, 0, -EOPNOTSUPP, "map type bloom_filter (30) is not implemented");
	create_fails(VISOR_MAP_TYPE_ARRAY, 8, 4, 4, 0, -EINVAL, "key_size 8, must be 4");
	create_fails(VISOR_MAP_TYPE_ARRAY, 4, 0, 4, 0, -EINVAL, "value_size is 0");
	create_fails(VISOR_MAP_TYPE_ARRAY, 4, 4, 0, 0, -EINVAL, "max_entries is 0");
	create_fails(VISOR_MAP_TYPE_ARRAY, 4, 4, 4, VISOR_F_NO_PREALLOC, -EINVAL,
		     "not valid for this type (0x1)");
	create_fails(VISOR_MAP_TYPE_ARRAY, 4, 4, 4, 1U << 20, -EINVAL, "array map: map_flags");
	create_fails(VISOR_MAP_TYPE_HASH, 4, 4, 4, VISOR_F_RDONLY | VISOR_F_WRONLY, -EINVAL,
		     "RDONLY and VISOR_F_WRONLY");
	create_fails(VISOR_MAP_TYPE_PERCPU_ARRAY, 4, 32769, 1, 0, -E2BIG, "per-CPU limit");
	create_fails(VISOR_MAP_TYPE_HASH, 0, 4, 4, 0, -EINVAL, "key_size is 0");
	create_fails(VISOR_MAP_TYPE_HASH, 4, 1 << 25, 4, 0, -E2BIG, "key_size + value_size");
	create_fails(VISOR_MAP_TYPE_HASH, 4, 4, (1U << 27) + 1, VISOR_F_NO_PREALLOC, -E2BIG,
		     "max_entries");
	create_fails(VISOR_MAP_TYPE_HASH, 4, 4, 4, VISOR_F_NO_COMMON_LRU, -EINVAL, "map_flags");
	create_fails(VISOR_MAP_TYPE_LRU_HASH, 4, 4, 4, VISOR_F_NO_PREALLOC, -VISOR_ENOTSUPP,
		     "always preallocated");
	create_fails(VISOR_MAP_TYPE_LPM_TRIE, 8, 4, 4, 0, -EINVAL, "require VISOR_F_NO_PREALLOC");
	create_fails(VISOR_MAP_TYPE_LPM_TRIE, 4, 4, 4, VISOR_F_NO_PREALLOC, -EINVAL, "key_size 4");
	create_fails(VISOR_MAP_TYPE_LPM_TRIE, 261, 4, 4, VISOR_F_NO_PREALLOC, -EINVAL, "key_size 261");
	create_fails(VISOR_MAP_TYPE_QUEUE, 4, 4, 4, 0, -EINVAL, "key_size 4, must be 0");
	create_fails(VISOR_MAP_TYPE_QUEUE, 0, 1 << 23, 4, 0, -E2BIG, "value_size");
	create_fails(VISOR_MAP_TYPE_RINGBUF, 0, 0, 12288, 0, -EINVAL, "power of 2");
	create_fails(VISOR_MAP_TYPE_RINGBUF, 4, 0, 4096, 0, -EINVAL, "must be 0");
	create_fails(VISOR_MAP_TYPE_PROG_ARRAY, 4, 8, 4, 0, -EINVAL, "value_size 8, must be 4");
	create_fails(VISOR_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, -EINVAL, "inner map template");

	/* Names as the kernel's: <= 15 characters of [A-Za-z0-9_.]. */
	char err[256];
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
		   .value_size = 4, .max_entries = 1, .name = "a-b", .errbuf = err,
		   .errbuf_len = sizeof(err));
	CHECK(visor_map_create(&o, &m) == -EINVAL && strstr(err, "'a-b'"), "bad name: %s", err);
	o.name = "sixteen_chars_xx";
	CHECK(visor_map_create(&o, &m) == -EINVAL && strstr(err, "longer than 15"), "long name: %s",
	      err);
	o.name = "counters.v1";
	CHECK(visor_map_create(&o, &m) == 0, "good name: %s", err);
	CHECK(!strcmp(visor_map_name(m), "counters.v1"), "name kept");
	CHECK(visor_map_id(m) > 0 && visor_map_type(m) == VISOR_MAP_TYPE_ARRAY, "id and type");
	visor_map_destroy(m);

	/* Options structs grow: unknown trailing bytes must be zero. */
	struct {
		struct visor_map_create_opts o;
		uint64_t future;
	} big = {.o = {.sz = sizeof(big), .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
		       .value_size = 4, .max_entries = 1},
		 .future = 1};
	CHECK(visor_map_create(&big.o, &m) == -EINVAL, "unknown option bytes refused");
	big.future = 0;
	CHECK(visor_map_create(&big.o, &m) == 0, "larger sz with zero tail accepted");
	visor_map_destroy(m);
	CHECK(!strcmp(visor_map_type_name(VISOR_MAP_TYPE_LRU_PERCPU_HASH), "lru_percpu_hash"),
	      "type name");
}

static void test_array(void)
{
	struct visor_map *m = mk(VISOR_MAP_TYPE_ARRAY, 4, 12, 4, 0);
	uint32_t k = 1, v[3] = {1, 2, 3}, out[3], nk;
	CHECK(visor_map_update(m, &k, v, VISOR_NOEXIST) == -EEXIST, "array NOEXIST");
	CHECK(strstr(visor_map_errmsg(m), "update: key exists"), "msg: %s", visor_map_errmsg(m));
	CHECK(visor_map_update(m, &k, v, VISOR_EXIST) == 0, "array EXIST");
	CHECK(visor_map_update(m, &k, v, 3) == -EINVAL, "flags 3");
	CHECK(strstr(visor_map_errmsg(m), "invalid flags 0x3"), "msg: %s", visor_map_errmsg(m));
	CHECK(visor_map_update(m, &k, v, VISOR_F_LOCK) == -EINVAL, "F_LOCK");
	CHECK(strstr(visor_map_errmsg(m), "spin lock"), "msg: %s", visor_map_errmsg(m));
	CHECK(visor_map_lookup(m, &k, out) == 0 && !memcmp(out, v, 12), "lookup");
	k = 4;
	CHECK(visor_map_update(m, &k, v, 0) == -E2BIG, "oob update");
	CHECK(strstr(visor_map_errmsg(m), "index out of range (max_entries 4)"), "msg: %s",
	      visor_map_errmsg(m));
	CHECK(visor_map_lookup(m, &k, out) == -ENOENT, "oob lookup");
	CHECK(visor_map_delete(m, &k) == -EINVAL, "delete");
	CHECK(strstr(visor_map_errmsg(m), "cannot be deleted"), "msg: %s", visor_map_errmsg(m));
	CHECK(visor_map_lookup_and_delete(m, &k, out) == -VISOR_ENOTSUPP, "lookup_and_delete");
	CHECK(visor_map_lookup(m, NULL, out) == -EFAULT, "NULL key");
	CHECK(visor_map_lookup_flags(m, &k, out, 1) == -EINVAL, "lookup flags");

	/* Iteration: 0..3, an out-of-range key restarts. */
	CHECK(visor_map_get_next_key(m, NULL, &nk) == 0 && nk == 0, "first");
	k = 2;
	CHECK(visor_map_get_next_key(m, &k, &nk) == 0 && nk == 3, "next");
	k = 3;
	CHECK(visor_map_get_next_key(m, &k, &nk) == -ENOENT, "end");
	CHECK(strstr(visor_map_errmsg(m), "no more keys"), "msg: %s", visor_map_errmsg(m));
	k = 99;
	CHECK(visor_map_get_next_key(m, &k, &nk) == 0 && nk == 0, "oob restarts");

	/* Program view: pointers into the map, 8-byte aligned values. */
	k = 1;
	uint32_t *p = visor_map_lookup_ptr(m, &k);
	CHECK(p && p[0] == 1 && ((uintptr_t)p & 7) == 0, "lookup_ptr");
	p[2] = 77;
	CHECK(visor_map_lookup(m, &k, out) == 0 && out[2] == 77, "write through pointer");
	CHECK(visor_map_value_ok(m, p, 12) && !visor_map_value_ok(m, p, 13) &&
	      visor_map_value_ok(m, p + 2, 4) && !visor_map_value_ok(m, out, 4),
	      "value_ok bounds");
	k = 4;
	CHECK(!visor_map_lookup_ptr(m, &k), "lookup_ptr oob");
	k = 3;
	CHECK(visor_map_update_from_prog(m, &k, v, 0) == 0, "update_from_prog");
	CHECK(visor_map_delete_from_prog(m, &k) == -EINVAL, "delete_from_prog");

	/* Batches: out_batch is the last key; -ENOENT at the end. */
	uint32_t keys[8], vals[8 * 3], cnt = 3, ob, in;
	CHECK(visor_map_lookup_batch(m, NULL, &ob, keys, vals, &cnt, NULL) == 0 && cnt == 3 &&
	      ob == 2 && keys[2] == 2, "batch 1 (cnt %u ob %u)", cnt, ob);
	in = ob;
	cnt = 3;
	CHECK(visor_map_lookup_batch(m, &in, &ob, keys, vals, &cnt, NULL) == -ENOENT && cnt == 1 &&
	      keys[0] == 3 && vals[0] == 1, "batch 2 (cnt %u)", cnt);
	cnt = 0;
	CHECK(visor_map_lookup_batch(m, NULL, &ob, keys, vals, &cnt, NULL) == 0, "batch count 0");
	VISOR_OPTS(visor_map_batch_opts, bo, .elem_flags = 1);
	cnt = 2;
	CHECK(visor_map_lookup_batch(m, NULL, &ob, keys, vals, &cnt, &bo) == -EINVAL, "elem_flags");
	visor_map_destroy(m);
}

static long count_cb(struct visor_map *m, const void *key, void *value, void *ctx)
{
	long *n = ctx;
	return ++*n == 3; /* stop at the third */
}

static void test_percpu_array(void)
{
	uint32_t ncpu = visor_map_possible_cpus();
	struct visor_map *m = mk(VISOR_MAP_TYPE_PERCPU_ARRAY, 4, 4, 8, 0);
	CHECK(visor_map_nr_cpus(m) == ncpu, "nr_cpus %u", visor_map_nr_cpus(m));
	CHECK(visor_map_user_value_size(m) == 8 * ncpu, "user value size");
	uint64_t *in = calloc(ncpu, 8), *out = calloc(ncpu, 8);
	for (uint32_t c = 0; c < ncpu; c++)
		in[c] = 0xabcd000000000000ULL | (c + 1); /* padding bytes kept, as the kernel */
	uint32_t k = 2;
	CHECK(visor_map_update(m, &k, in, 0) == 0, "update all CPUs");
	CHECK(visor_map_lookup(m, &k, out) == 0 && !memcmp(in, out, 8 * ncpu), "per-CPU view");
	for (uint32_t c = 0; c < ncpu; c++) {
		CHECK(visor_map_set_cpu(c) == 0, "set cpu");
		uint32_t *p = visor_map_lookup_ptr(m, &k);
		CHECK(p && *p == c + 1, "cpu %u sees its value", c);
		uint32_t nv = 100 + c;
		CHECK(visor_map_update_from_prog(m, &k, &nv, 0) == 0, "prog update");
	}
	CHECK(visor_map_set_cpu(ncpu) == -EINVAL, "slot beyond possible CPUs");
	visor_map_set_cpu(0);
	CHECK(visor_map_lookup(m, &k, out) == 0, "lookup");
	for (uint32_t c = 0; c < ncpu; c++)
		CHECK((out[c] & 0xffffffff) == 100 + c && (out[c] >> 48) == 0xabcd,
		      "cpu %u: 0x%llx", c, (unsigned long long)out[c]);
	long n = 0;
	CHECK(visor_map_for_each_elem(m, count_cb, &n) == 3 && n == 3, "for_each stops");
	visor_map_destroy(m);
	free(in);
	free(out);
}

static uint32_t count_keys(struct visor_map *m)
{
	uint8_t key[64], next[64];
	uint32_t n = 0;
	int rc;
	for (rc = visor_map_get_next_key(m, NULL, next); !rc;
	     rc = visor_map_get_next_key(m, key, next)) {
		memcpy(key, next, visor_map_key_size(m));
		n++;
	}
	return n;
}

static void test_hash(void)
{
	struct visor_map *m = mk(VISOR_MAP_TYPE_HASH, 4, 8, 4, 0);
	uint32_t k;
	uint64_t v = 5, out;
	k = 1;
	CHECK(visor_map_update(m, &k, &v, VISOR_EXIST) == -ENOENT, "EXIST on missing");
	CHECK(strstr(visor_map_errmsg(m), "(VISOR_EXIST)"), "msg: %s", visor_map_errmsg(m));
	for (k = 0; k < 4; k++) {
		uint64_t kv = k;
		CHECK(visor_map_update(m, &k, &kv, VISOR_NOEXIST) == 0, "insert %u", k);
	}
	CHECK(visor_map_update(m, &k, &v, 0) == -E2BIG, "full");
	CHECK(strstr(visor_map_errmsg(m), "map is full (max_entries 4)"), "msg: %s",
	      visor_map_errmsg(m));
	CHECK(visor_map_update(m, &k, &v, VISOR_EXIST) == -ENOENT, "full, EXIST");
	CHECK(visor_map_update(m, &k, &v, VISOR_NOEXIST) == -E2BIG, "full, NOEXIST");
	k = 2;
	CHECK(visor_map_update(m, &k, &v, VISOR_NOEXIST) == -EEXIST, "NOEXIST existing");
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "replace while full");
	CHECK(visor_map_lookup(m, &k, &out) == 0 && out == 5, "replaced value");
	CHECK(count_keys(m) == 4, "4 keys");
	k = 9;
	uint32_t nk;
	CHECK(visor_map_get_next_key(m, &k, &nk) == 0 && nk < 4, "missing key restarts");
	CHECK(visor_map_delete(m, &k) == -ENOENT, "delete missing");
	CHECK(strstr(visor_map_errmsg(m), "delete: key not found"), "msg: %s", visor_map_errmsg(m));
	k = 3;
	CHECK(visor_map_lookup_and_delete(m, &k, &out) == 0 && out == 3, "lookup_and_delete");
	CHECK(visor_map_lookup(m, &k, &out) == -ENOENT, "gone");
	CHECK(visor_map_lookup_and_delete_flags(m, &k, &out, 1) == -EINVAL, "lad flags");
	CHECK(count_keys(m) == 3, "3 keys");

	/* Read side: a value pointer keeps its key and memory while the
	 * section lasts, even across delete and reinsert. */
	k = 1;
	visor_map_read_lock();
	uint64_t *p = visor_map_lookup_ptr(m, &k);
	CHECK(p && *p == 1, "ptr");
	CHECK(visor_map_delete(m, &k) == 0, "delete under reader");
	for (uint32_t i = 100; i < 200; i++) { /* churn: would reuse p without the section */
		visor_map_update(m, &i, &v, 0);
		visor_map_delete(m, &i);
	}
	CHECK(*p == 1, "value intact inside the section");
	CHECK(visor_map_value_ok(m, p, 8) && !visor_map_value_ok(m, p, 9), "value_ok");
	visor_map_read_unlock();
	visor_map_destroy(m);

	/* Batches over all buckets: every element exactly once. */
	m = mk(VISOR_MAP_TYPE_HASH, 4, 4, 64, VISOR_F_ZERO_SEED);
	for (k = 0; k < 50; k++)
		visor_map_update(m, &k, &k, 0);
	uint32_t keys[64], vals[64], seen[50] = {0}, total = 0, ob, in;
	bool first = true;
	int rc;
	do {
		uint32_t cnt = 7;
		rc = visor_map_lookup_batch(m, first ? NULL : &in, &ob, keys, vals, &cnt, NULL);
		CHECK(rc == 0 || rc == -ENOENT || rc == -ENOSPC, "batch rc %d", rc);
		if (rc == -ENOSPC)
			break;
		for (uint32_t i = 0; i < cnt; i++) {
			CHECK(keys[i] < 50 && vals[i] == keys[i], "batch element");
			if (keys[i] < 50)
				seen[keys[i]]++;
		}
		total += cnt;
		in = ob;
		first = false;
	} while (rc == 0);
	CHECK(rc == -ENOENT && total == 50, "batch total %u rc %d", total, rc);
	for (k = 0; k < 50; k++)
		CHECK(seen[k] == 1, "key %u seen %u times", k, seen[k]);
	in = 1U << 30;
	uint32_t cnt = 4;
	CHECK(visor_map_lookup_batch(m, &in, &ob, keys, vals, &cnt, NULL) == -ENOENT && !cnt,
	      "batch past the end");
	long n = 0;
	CHECK(visor_map_for_each_elem(m, count_cb, &n) == 3, "for_each");
	visor_map_destroy(m);

	/* NO_PREALLOC grows on demand with the same semantics. */
	m = mk(VISOR_MAP_TYPE_HASH, 16, 4, 1000, VISOR_F_NO_PREALLOC);
	uint8_t key[16] = {0};
	for (uint32_t i = 0; i < 1000; i++) {
		memcpy(key, &i, 4);
		CHECK(visor_map_update(m, key, &i, VISOR_NOEXIST) == 0, "insert %u", i);
	}
	CHECK(visor_map_update(m, "full key 16 byte", &k, 0) == -E2BIG, "full");
	CHECK(count_keys(m) == 1000, "1000 keys");
	visor_map_destroy(m);
}

static void test_percpu_hash(void)
{
	uint32_t ncpu = visor_map_possible_cpus();
	struct visor_map *m = mk(VISOR_MAP_TYPE_PERCPU_HASH, 4, 4, 4, 0);
	uint64_t *vals = calloc(ncpu, 8);
	uint32_t k = 7, v;
	for (uint32_t c = 0; c < ncpu; c++)
		vals[c] = 10 + c;
	CHECK(visor_map_update(m, &k, vals, 0) == 0, "user update");
	visor_map_set_cpu(ncpu - 1);
	uint32_t *p = visor_map_lookup_ptr(m, &k);
	CHECK(p && *p == 10 + ncpu - 1, "this CPU's value");
	v = 99;
	CHECK(visor_map_update_from_prog(m, &k, &v, VISOR_EXIST) == 0, "prog update existing");
	CHECK(visor_map_lookup(m, &k, vals) == 0 && vals[ncpu - 1] == 99 && vals[0] == 10,
	      "in place, this CPU only");
	/* A new element from a program: zeros on the other CPUs. */
	k = 8;
	v = 5;
	CHECK(visor_map_update_from_prog(m, &k, &v, VISOR_NOEXIST) == 0, "prog insert");
	CHECK(visor_map_lookup(m, &k, vals) == 0, "lookup");
	for (uint32_t c = 0; c < ncpu; c++)
		CHECK(vals[c] == (c == ncpu - 1 ? 5 : 0), "cpu %u = %llu", c,
		      (unsigned long long)vals[c]);
	CHECK(visor_map_lookup_and_delete(m, &k, vals) == 0 && vals[ncpu - 1] == 5,
	      "lookup_and_delete per-CPU");
	visor_map_set_cpu(0);
	visor_map_destroy(m);
	free(vals);
}

static void test_lru(void)
{
	struct visor_map *m = mk(VISOR_MAP_TYPE_LRU_HASH, 4, 8, 32, 0);
	uint64_t v;
	for (uint32_t k = 0; k < 32; k++)
		CHECK(visor_map_update(m, &k, &(uint64_t){k}, 0) == 0, "fill %u", k);
	CHECK(count_keys(m) == 32, "full, no eviction yet");
	/* Programs use keys 0..7: they must survive the next inserts. */
	for (uint32_t k = 0; k < 8; k++)
		CHECK(visor_map_lookup_ptr(m, &k), "touch %u", k);
	for (uint32_t k = 100; k < 116; k++)
		CHECK(visor_map_update(m, &k, &(uint64_t){k}, 0) == 0, "insert %u evicts", k);
	CHECK(count_keys(m) == 32, "size stays at max_entries (%u)", count_keys(m));
	for (uint32_t k = 0; k < 8; k++)
		CHECK(visor_map_lookup(m, &k, &v) == 0, "recently used key %u kept", k);
	uint32_t k = 115;
	CHECK(visor_map_lookup(m, &k, &v) == 0 && v == 115, "newest kept");
	k = 8;
	CHECK(visor_map_lookup(m, &k, &v) == -ENOENT, "oldest unused key 8 evicted");
	k = 200;
	CHECK(visor_map_update(m, &k, &v, VISOR_EXIST) == -ENOENT, "EXIST on missing");
	k = 115;
	CHECK(visor_map_update(m, &k, &v, VISOR_NOEXIST) == -EEXIST, "NOEXIST on existing");
	CHECK(visor_map_delete(m, &k) == 0 && count_keys(m) == 31, "delete");
	visor_map_destroy(m);

	/* Per-CPU LRU lists: max_entries rounded up to a multiple of the CPUs,
	 * each CPU owning an equal share. */
	uint32_t ncpu = visor_map_possible_cpus();
	m = mk(VISOR_MAP_TYPE_LRU_HASH, 4, 8, 8 * ncpu - 1, VISOR_F_NO_COMMON_LRU);
	CHECK(visor_map_max_entries(m) == 8 * ncpu, "rounded max_entries %u",
	      visor_map_max_entries(m));
	for (k = 0; k < 100; k++)
		visor_map_update(m, &k, &(uint64_t){k}, 0);
	CHECK(count_keys(m) == 8, "one CPU's share: %u", count_keys(m));
	visor_map_destroy(m);

	m = mk(VISOR_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 16, 0);
	uint64_t *vals = calloc(ncpu, 8);
	for (k = 0; k < 40; k++) {
		vals[0] = k;
		CHECK(visor_map_update(m, &k, vals, 0) == 0, "lru percpu insert");
	}
	CHECK(count_keys(m) == 16, "lru percpu size");
	k = 39;
	CHECK(visor_map_lookup(m, &k, vals) == 0 && vals[0] == 39, "newest");
	free(vals);
	visor_map_destroy(m);
}

static void test_queue_stack(void)
{
	struct visor_map *q = mk(VISOR_MAP_TYPE_QUEUE, 0, 4, 3, 0);
	struct visor_map *s = mk(VISOR_MAP_TYPE_STACK, 0, 4, 3, 0);
	uint32_t v, k = 0;
	CHECK(visor_map_lookup_and_delete(q, NULL, &v) == -ENOENT, "pop empty");
	CHECK(strstr(visor_map_errmsg(q), "queue is empty"), "msg: %s", visor_map_errmsg(q));
	CHECK(visor_map_lookup(q, NULL, &v) == -ENOENT, "peek empty");
	CHECK(visor_map_update(q, NULL, &v, VISOR_NOEXIST) == -EINVAL, "push NOEXIST");
	CHECK(visor_map_update(q, &k, &v, 0) == -EINVAL, "push with a key");
	for (v = 1; v <= 3; v++) {
		CHECK(visor_map_update(q, NULL, &v, 0) == 0, "queue push %u", v);
		CHECK(visor_map_push(s, &v, 0) == 0, "stack push %u", v);
	}
	v = 4;
	CHECK(visor_map_update(q, NULL, &v, 0) == -E2BIG, "queue full");
	CHECK(strstr(visor_map_errmsg(q), "VISOR_EXIST replaces the oldest"), "msg: %s",
	      visor_map_errmsg(q));
	CHECK(visor_map_update(q, NULL, &v, VISOR_EXIST) == 0, "queue overwrite");
	CHECK(visor_map_push(s, &v, VISOR_EXIST) == 0, "stack overwrite");
	/* Queue: 2 3 4 (1 dropped); stack: 4 3 2 (1 dropped). */
	uint32_t want_q[] = {2, 3, 4}, want_s[] = {4, 3, 2};
	for (int i = 0; i < 3; i++) {
		CHECK(visor_map_peek(q, &v) == 0 && v == want_q[i], "queue peek %d", i);
		CHECK(visor_map_pop(q, &v) == 0 && v == want_q[i], "queue pop %d: %u", i, v);
		CHECK(visor_map_lookup_and_delete(s, NULL, &v) == 0 && v == want_s[i],
		      "stack pop %d: %u", i, v);
	}
	CHECK(visor_map_pop(s, &v) == -ENOENT, "stack empty");
	CHECK(visor_map_delete(q, NULL) == -EINVAL, "delete");
	CHECK(visor_map_get_next_key(q, NULL, &v) == -EINVAL, "get_next_key");
	CHECK(visor_map_lookup_and_delete_flags(q, NULL, &v, 1) == -EINVAL, "pop flags");
	uint32_t cnt = 1, ob;
	CHECK(visor_map_lookup_batch(q, NULL, &ob, &k, &v, &cnt, NULL) == -VISOR_ENOTSUPP, "batch");
	CHECK(!visor_map_lookup_ptr(q, NULL), "no lookup_ptr");
	visor_map_destroy(q);
	visor_map_destroy(s);
}

static int released;
static void *resolve(void *ctx, uint32_t id)
{
	return id >= 100 && id < 110 ? (void *)(uintptr_t)(0x1000 + id) : NULL;
}
static void release(void *ctx, void *ref)
{
	released++;
}

static void test_prog_array(void)
{
	struct visor_map_ref_ops ops = {.resolve = resolve, .release = release};
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_PROG_ARRAY, .key_size = 4,
		   .value_size = 4, .max_entries = 4, .ref_ops = &ops);
	CHECK(visor_map_create(&o, &m) == 0, "create");
	uint32_t k = 0, id = 101, out;
	CHECK(visor_map_lookup(m, &k, &out) == -ENOENT, "empty slot");
	CHECK(visor_map_update(m, &k, &id, VISOR_NOEXIST) == -EINVAL, "only VISOR_ANY");
	CHECK(visor_map_update(m, &k, &id, 0) == 0, "update by id");
	CHECK(visor_map_lookup(m, &k, &out) == 0 && out == 101, "lookup gives the id");
	CHECK(visor_map_prog_array_get(m, 0, &out) == (void *)0x1065 && out == 101, "tail target");
	id = 5;
	CHECK(visor_map_update(m, &k, &id, 0) == -EBADF, "unknown id");
	k = 4;
	CHECK(visor_map_update(m, &k, &id, 0) == -E2BIG, "oob");
	CHECK(visor_map_delete(m, &k) == -E2BIG, "delete oob");
	k = 1;
	CHECK(visor_map_delete(m, &k) == -ENOENT, "delete empty");
	CHECK(visor_map_update_ref(m, &k, (void *)0x42, 7, 0) == 0, "update_ref");
	CHECK(visor_map_prog_array_get(m, 1, &out) == (void *)0x42 && out == 7, "ref stored");
	CHECK(!visor_map_prog_array_get(m, 2, &out) && out == 0, "empty target");
	CHECK(!visor_map_prog_array_get(m, 99, NULL), "oob target");
	k = 0;
	CHECK(visor_map_delete(m, &k) == 0, "delete");
	uint32_t cnt = 1, ob;
	CHECK(visor_map_lookup_batch(m, NULL, &ob, &k, &out, &cnt, NULL) == -VISOR_ENOTSUPP, "batch");
	visor_map_destroy(m);
	CHECK(released == 2, "references released: %d", released);
}

static void test_map_in_map(void)
{
	struct visor_map *tmpl = mk(VISOR_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	struct visor_map *inner = mk(VISOR_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	struct visor_map *wrong = mk(VISOR_MAP_TYPE_ARRAY, 4, 8, 5, 0);
	struct visor_map *outer, *hom;
	char err[200];
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_ARRAY_OF_MAPS, .key_size = 4,
		   .value_size = 4, .max_entries = 2, .inner_map = tmpl, .errbuf = err,
		   .errbuf_len = sizeof(err));
	CHECK(visor_map_create(&o, &outer) == 0, "aom: %s", err);
	o.type = VISOR_MAP_TYPE_HASH_OF_MAPS;
	o.max_entries = 8;
	CHECK(visor_map_create(&o, &hom) == 0, "hom: %s", err);
	o.inner_map = outer;
	struct visor_map *bad;
	CHECK(visor_map_create(&o, &bad) == -EINVAL && strstr(err, "one level"), "nested: %s", err);
	visor_map_destroy(tmpl); /* only its description is kept */

	uint32_t k = 0, id = visor_map_id(inner), out;
	CHECK(visor_map_update(outer, &k, &id, VISOR_NOEXIST) == -EINVAL, "aom: only ANY");
	CHECK(visor_map_update(outer, &k, &id, 0) == 0, "aom update");
	CHECK(visor_map_lookup(outer, &k, &out) == 0 && out == id, "aom lookup gives the id");
	CHECK(visor_map_lookup_ptr(outer, &k) == inner, "program gets the map");
	CHECK(visor_map_update(hom, &k, &id, 0) == 0, "hom update");
	CHECK(visor_map_update(hom, &k, &id, VISOR_NOEXIST) == -EEXIST, "hom NOEXIST");
	CHECK(visor_map_lookup_ptr(hom, &k) == inner, "hom gives the map");
	CHECK(visor_map_lookup_and_delete(hom, &k, &out) == -VISOR_ENOTSUPP, "hom lad");
	id = visor_map_id(wrong);
	k = 1;
	CHECK(visor_map_update(outer, &k, &id, 0) == -EINVAL, "max_entries mismatch");
	CHECK(strstr(visor_map_errmsg(outer), "max_entries differs"), "msg: %s",
	      visor_map_errmsg(outer));
	id = 0x7fffffff;
	CHECK(visor_map_update(outer, &k, &id, 0) == -EBADF, "no such map");
	CHECK(visor_map_update_ref(outer, &k, inner, 0, 0) == 0, "update_ref");

	/* The outer maps hold references: the inner map outlives its creator's. */
	uint32_t ik = 1;
	uint64_t iv = 42;
	visor_map_update(inner, &ik, &iv, 0);
	visor_map_destroy(inner);
	k = 0;
	struct visor_map *got = visor_map_lookup_ptr(outer, &k);
	CHECK(got && ((uint64_t *)visor_map_lookup_ptr(got, &ik))[0] == 42, "inner still alive");
	CHECK(visor_map_delete(outer, &k) == 0 && visor_map_delete(outer, &k) == -ENOENT, "delete");
	uint32_t keys[2], vals[2], cnt = 2, ob;
	CHECK(visor_map_lookup_batch(outer, NULL, &ob, keys, vals, &cnt, NULL) == -ENOENT &&
	      cnt == 1 && keys[0] == 1, "aom batch skips empty slots (cnt %u)", cnt);

	/* get_by_id gives a new reference. */
	struct visor_map *again = visor_map_get_by_id(visor_map_id(wrong));
	CHECK(again == wrong, "get_by_id");
	visor_map_put(again);
	visor_map_destroy(wrong);
	CHECK(!visor_map_get_by_id(0x7ffffffe), "unknown id");
	visor_map_destroy(outer);
	visor_map_destroy(hom);

	/* VISOR_F_INNER_MAP: inner arrays of any size. */
	tmpl = mk(VISOR_MAP_TYPE_ARRAY, 4, 4, 1, VISOR_F_INNER_MAP);
	inner = mk(VISOR_MAP_TYPE_ARRAY, 4, 4, 100, VISOR_F_INNER_MAP);
	o.type = VISOR_MAP_TYPE_ARRAY_OF_MAPS;
	o.inner_map = tmpl;
	CHECK(visor_map_create(&o, &outer) == 0, "aom");
	id = visor_map_id(inner);
	CHECK(visor_map_update(outer, &k, &id, 0) == 0, "different max_entries allowed");
	visor_map_destroy(inner);
	visor_map_destroy(tmpl);
	visor_map_destroy(outer);
}

static void test_access_flags(void)
{
	struct visor_map *ro = mk(VISOR_MAP_TYPE_HASH, 4, 4, 4, VISOR_F_RDONLY);
	struct visor_map *wo = mk(VISOR_MAP_TYPE_HASH, 4, 4, 4, VISOR_F_WRONLY);
	struct visor_map *rop = mk(VISOR_MAP_TYPE_HASH, 4, 4, 4, VISOR_F_RDONLY_PROG);
	uint32_t k = 1, v = 1, n;
	CHECK(visor_map_update(ro, &k, &v, 0) == -EPERM, "rdonly update");
	CHECK(strstr(visor_map_errmsg(ro), "read-only"), "msg: %s", visor_map_errmsg(ro));
	CHECK(visor_map_delete(ro, &k) == -EPERM, "rdonly delete");
	CHECK(visor_map_lookup(ro, &k, &v) == -ENOENT, "rdonly lookup");
	CHECK(visor_map_update_from_prog(ro, &k, &v, 0) == 0, "programs may write");
	CHECK(visor_map_update(wo, &k, &v, 0) == 0, "wronly update");
	CHECK(visor_map_lookup(wo, &k, &v) == -EPERM, "wronly lookup");
	CHECK(visor_map_get_next_key(wo, NULL, &n) == -EPERM, "wronly iteration");
	CHECK(visor_map_lookup_and_delete(wo, &k, &v) == -EPERM, "wronly lad");
	CHECK(visor_map_update_from_prog(rop, &k, &v, 0) == -EPERM, "rdonly_prog");
	CHECK(visor_map_update(rop, &k, &v, 0) == 0, "user writes rdonly_prog");
	CHECK(visor_map_delete_from_prog(rop, &k) == -EPERM, "rdonly_prog delete");
	visor_map_destroy(ro);
	visor_map_destroy(wo);
	visor_map_destroy(rop);
}

int main(void)
{
	test_create();
	test_array();
	test_percpu_array();
	test_hash();
	test_percpu_hash();
	test_lru();
	test_queue_stack();
	test_prog_array();
	test_map_in_map();
	test_access_flags();
	return test_summary("test_maps_basic");
}
