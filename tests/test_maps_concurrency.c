/* Maps under several threads, as programs running on several VM threads
 * use them: atomic adds through lookup pointers must not lose updates;
 * per-CPU values are private to their slot; concurrent updates, deletes,
 * lookups and evictions must never show a value under the wrong key nor
 * crash (the ASan build runs this too); inner maps swapped and dropped
 * while readers use them stay alive until the readers are done. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "testutil.h"

#define THREADS 4

static struct visor_map *mk(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	struct visor_map *m;
	char err[200];
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = ks, .value_size = vs,
		   .max_entries = max, .map_flags = flags, .errbuf = err, .errbuf_len = sizeof(err));
	if (visor_map_create(&o, &m)) {
		fprintf(stderr, "create: %s\n", err);
		abort();
	}
	return m;
}

static long iters(long n)
{
	long v = (long)(n * test_scale());
	return v < 100 ? 100 : v;
}

struct targ {
	struct visor_map *m;
	int id;
	long n;
	uint64_t seed;
	long bad;
};

static pthread_t threads[THREADS + 2];
static struct targ args[THREADS + 2];
static _Atomic int stop;

static void run(int n, void *(*fn)(void *), struct visor_map *m, long count)
{
	for (int i = 0; i < n; i++) {
		args[i] = (struct targ){.m = m, .id = i, .n = count, .seed = 0x9e3779b9u * (i + 1)};
		pthread_create(&threads[i], NULL, fn, &args[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

/* ---- Atomic adds through pointers --------------------------------------- */

static void *adder(void *p)
{
	struct targ *a = p;
	visor_map_set_cpu((uint32_t)a->id % visor_map_possible_cpus());
	for (long i = 0; i < a->n; i++) {
		uint32_t k = (uint32_t)(i % 4);
		visor_map_read_lock();
		uint64_t *v = visor_map_lookup_ptr(a->m, &k);
		if (v)
			__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
		else
			a->bad++;
		visor_map_read_unlock();
	}
	return NULL;
}

static void *churner(void *p)
{
	struct targ *a = p;
	uint64_t v = 0;
	while (!atomic_load(&stop)) {
		uint32_t k = 100 + rnd(&a->seed) % 200;
		if (visor_map_update(a->m, &k, &v, 0) == 0)
			visor_map_delete(a->m, &k);
	}
	return NULL;
}

static void test_atomic_adds(uint32_t type)
{
	struct visor_map *m = mk(type, 4, 8, 512, 0);
	uint64_t zero = 0, v;
	for (uint32_t k = 0; k < 4; k++)
		visor_map_update(m, &k, &zero, 0);
	long n = iters(400000);
	pthread_t ch;
	struct targ ca = {.m = m, .seed = 7};
	atomic_store(&stop, 0);
	if (type != VISOR_MAP_TYPE_ARRAY) /* hash: neighbours come and go meanwhile */
		pthread_create(&ch, NULL, churner, &ca);
	run(THREADS, adder, m, n);
	if (type != VISOR_MAP_TYPE_ARRAY) {
		atomic_store(&stop, 1);
		pthread_join(ch, NULL);
	}
	uint64_t total = 0;
	for (uint32_t k = 0; k < 4; k++) {
		CHECK(visor_map_lookup(m, &k, &v) == 0, "lookup %u", k);
		total += v;
	}
	for (int i = 0; i < THREADS; i++)
		CHECK(!args[i].bad, "thread %d missed its key %ld times", i, args[i].bad);
	CHECK(total == (uint64_t)THREADS * n, "type %u: total %llu, want %llu", type,
	      (unsigned long long)total, (unsigned long long)THREADS * n);
	visor_map_destroy(m);
}

/* ---- Per-CPU slots ------------------------------------------------------ */

static void *pcpu_incr(void *p)
{
	struct targ *a = p;
	visor_map_set_cpu((uint32_t)a->id);
	for (long i = 0; i < a->n; i++) {
		uint32_t k = (uint32_t)(i % 3);
		uint64_t *v = visor_map_lookup_ptr(a->m, &k);
		if (!v) {
			a->bad++;
			continue;
		}
		(*v)++; /* plain increment: the slot is this thread's alone */
	}
	return NULL;
}

static void test_percpu(uint32_t type)
{
	uint32_t saved = visor_map_possible_cpus();
	visor_map_set_possible_cpus(THREADS);
	struct visor_map *m = mk(type, 4, 8, 8, 0);
	uint64_t vals[THREADS] = {0};
	for (uint32_t k = 0; k < 3; k++)
		visor_map_update(m, &k, vals, 0);
	long n = iters(300000);
	run(THREADS, pcpu_incr, m, n);
	uint64_t total = 0;
	for (uint32_t k = 0; k < 3; k++) {
		visor_map_lookup(m, &k, vals);
		for (int c = 0; c < THREADS; c++)
			total += vals[c];
	}
	CHECK(total == (uint64_t)THREADS * n, "type %u per-CPU total %llu", type,
	      (unsigned long long)total);
	visor_map_destroy(m);
	visor_map_set_possible_cpus(saved);
}

/* ---- Random stress: values always belong to their key ------------------- */

struct val {
	uint64_t key;
	uint64_t seq;
};

static void *stress(void *p)
{
	struct targ *a = p;
	struct visor_map *m = a->m;
	uint32_t ncpu = visor_map_nr_cpus(m), type = visor_map_type(m);
	bool percpu = type == VISOR_MAP_TYPE_PERCPU_HASH || type == VISOR_MAP_TYPE_LRU_PERCPU_HASH;
	struct val *buf = calloc(ncpu, sizeof(*buf));
	visor_map_set_cpu((uint32_t)a->id % visor_map_possible_cpus());
	for (long i = 0; i < a->n; i++) {
		uint32_t k = rnd(&a->seed) % 96, op = rnd(&a->seed) % 10, nk;
		for (uint32_t c = 0; c < ncpu; c++)
			buf[c] = (struct val){k, (uint64_t)i};
		switch (op) {
		case 0: case 1: case 2:
			visor_map_update(m, &k, buf, rnd(&a->seed) % 3);
			break;
		case 3:
			visor_map_update_from_prog(m, &k, buf, 0);
			break;
		case 4:
			visor_map_delete(m, &k);
			break;
		case 5:
			if (visor_map_lookup_and_delete(m, &k, buf) == 0 && buf[0].key != k &&
			    !(percpu && buf[0].key == 0))
				a->bad++;
			break;
		case 6: {
			uint32_t cur, n = 0;
			int rc;
			for (rc = visor_map_get_next_key(m, NULL, &nk); !rc && n < 1000;
			     rc = visor_map_get_next_key(m, &cur, &nk), n++)
				cur = nk;
			break;
		}
		default: {
			/* Inside the section the element keeps its key. */
			visor_map_read_lock();
			struct val *v = visor_map_lookup_ptr(m, &k);
			if (v && v->key != k && !(percpu && v->key == 0))
				a->bad++;
			for (int spin = 0; spin < 50; spin++)
				__asm__ volatile("" ::: "memory");
			if (v && v->key != k && !(percpu && v->key == 0))
				a->bad++;
			visor_map_read_unlock();
			if (visor_map_lookup(m, &k, buf) == 0 && buf[0].key != k &&
			    !(percpu && buf[0].key == 0))
				a->bad++;
		}
		}
	}
	free(buf);
	return NULL;
}

static void test_stress(uint32_t type, uint32_t flags)
{
	struct visor_map *m = mk(type, 4, sizeof(struct val), 64, flags);
	run(THREADS, stress, m, iters(150000));
	for (int i = 0; i < THREADS; i++)
		CHECK(!args[i].bad, "type %u: thread %d saw %ld values under the wrong key", type, i,
		      args[i].bad);
	/* Consistent at rest: bounded, each key once, each value its own. */
	uint32_t cur, nk, n = 0, seen[96] = {0};
	struct val *buf = calloc(visor_map_nr_cpus(m), sizeof(*buf));
	int rc;
	for (rc = visor_map_get_next_key(m, NULL, &nk); !rc && n < 1000;
	     rc = visor_map_get_next_key(m, &cur, &nk), n++) {
		CHECK(nk < 96 && !seen[nk]++, "key %u once", nk);
		CHECK(visor_map_lookup(m, &nk, buf) == 0 && (buf[0].key == nk || buf[0].key == 0),
		      "value of key %u", nk);
		cur = nk;
	}
	CHECK(n <= visor_map_max_entries(m), "type %u: %u elements, max %u", type, n,
	      visor_map_max_entries(m));
	free(buf);
	visor_map_destroy(m);
}

/* ---- LPM: readers always get a prefix that contains the address --------- */

static void *lpm_writer(void *p)
{
	struct targ *a = p;
	while (!atomic_load(&stop)) {
		uint32_t plen = 8 + rnd(&a->seed) % 25;
		uint32_t addr = (10U << 24) | (rnd(&a->seed) & 0x00ff0f00);
		addr &= plen ? ~0U << (32 - plen) : 0;
		struct {
			uint32_t plen;
			uint8_t d[4];
		} k = {plen, {addr >> 24, addr >> 16, addr >> 8, addr}};
		uint64_t v = ((uint64_t)plen << 32) | addr;
		if (rnd(&a->seed) % 2)
			visor_map_update(a->m, &k, &v, 0);
		else
			visor_map_delete(a->m, &k);
	}
	return NULL;
}

static void *lpm_reader(void *p)
{
	struct targ *a = p;
	for (long i = 0; i < a->n; i++) {
		uint32_t addr = (10U << 24) | (rnd(&a->seed) & 0x00ff0fff);
		struct {
			uint32_t plen;
			uint8_t d[4];
		} k = {32, {addr >> 24, addr >> 16, addr >> 8, addr}};
		visor_map_read_lock();
		uint64_t *v = visor_map_lookup_ptr(a->m, &k);
		if (v) {
			uint32_t plen = (uint32_t)(*v >> 32), pfx = (uint32_t)*v;
			uint32_t mask = plen ? ~0U << (32 - plen) : 0;
			if ((addr & mask) != pfx)
				a->bad++;
		}
		visor_map_read_unlock();
	}
	return NULL;
}

static void test_lpm(void)
{
	struct visor_map *m = mk(VISOR_MAP_TYPE_LPM_TRIE, 8, 8, 4096, VISOR_F_NO_PREALLOC);
	uint64_t v = 8ULL << 32 | 10U << 24;
	struct {
		uint32_t plen;
		uint8_t d[4];
	} k = {8, {10, 0, 0, 0}};
	visor_map_update(m, &k, &v, 0);
	atomic_store(&stop, 0);
	pthread_t w[2];
	struct targ wa[2] = {{.m = m, .seed = 11}, {.m = m, .seed = 13}};
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, lpm_writer, &wa[i]);
	run(THREADS, lpm_reader, m, iters(200000));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < THREADS; i++)
		CHECK(!args[i].bad, "lpm: thread %d got %ld non-containing prefixes", i, args[i].bad);
	visor_map_destroy(m);
}

/* ---- Map-in-map: inner maps swapped under readers ----------------------- */

static void *inner_swapper(void *p)
{
	struct targ *a = p;
	uint32_t k = 0;
	while (!atomic_load(&stop)) {
		struct visor_map *in = mk(VISOR_MAP_TYPE_ARRAY, 4, 8, 4, 0);
		if (rnd(&a->seed) % 4)
			visor_map_update_ref(a->m, &k, in, 0, 0);
		else
			visor_map_delete(a->m, &k);
		visor_map_destroy(in); /* the outer map keeps it alive */
	}
	return NULL;
}

static void *inner_user(void *p)
{
	struct targ *a = p;
	uint32_t k = 0, ik = 1;
	for (long i = 0; i < a->n; i++) {
		visor_map_read_lock();
		struct visor_map *in = visor_map_lookup_ptr(a->m, &k);
		if (in) {
			uint64_t *v = visor_map_lookup_ptr(in, &ik);
			if (v)
				__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
			else
				a->bad++;
		}
		visor_map_read_unlock();
	}
	return NULL;
}

static void test_map_in_map(uint32_t type)
{
	struct visor_map *tmpl = mk(VISOR_MAP_TYPE_ARRAY, 4, 8, 4, 0), *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = 4, .value_size = 4,
		   .max_entries = 2, .inner_map = tmpl);
	CHECK(visor_map_create(&o, &m) == 0, "outer");
	visor_map_destroy(tmpl);
	atomic_store(&stop, 0);
	pthread_t sw;
	struct targ sa = {.m = m, .seed = 5};
	pthread_create(&sw, NULL, inner_swapper, &sa);
	run(THREADS, inner_user, m, iters(100000));
	atomic_store(&stop, 1);
	pthread_join(sw, NULL);
	for (int i = 0; i < THREADS; i++)
		CHECK(!args[i].bad, "inner map unusable %ld times", args[i].bad);
	visor_map_destroy(m);
}

/* ---- Queue: every pushed value popped once ------------------------------ */

static _Atomic uint64_t popped_sum, popped_n;

static void *q_worker(void *p)
{
	struct targ *a = p;
	for (long i = 0; i < a->n; i++) {
		uint64_t v = (uint64_t)a->id * 1000000000ULL + (uint64_t)i;
		while (visor_map_push(a->m, &v, 0) == -E2BIG) {
			uint64_t o;
			if (!visor_map_pop(a->m, &o)) {
				atomic_fetch_add(&popped_sum, o);
				atomic_fetch_add(&popped_n, 1);
			}
		}
	}
	return NULL;
}

static void test_queue(uint32_t type)
{
	struct visor_map *m = mk(type, 0, 8, 64, 0);
	atomic_store(&popped_sum, 0);
	atomic_store(&popped_n, 0);
	long n = iters(100000);
	run(THREADS, q_worker, m, n);
	uint64_t o;
	while (!visor_map_pop(m, &o)) {
		atomic_fetch_add(&popped_sum, o);
		atomic_fetch_add(&popped_n, 1);
	}
	uint64_t want = 0;
	for (int t = 0; t < THREADS; t++)
		want += (uint64_t)t * 1000000000ULL * (uint64_t)n + (uint64_t)n * (uint64_t)(n - 1) / 2;
	CHECK(atomic_load(&popped_n) == (uint64_t)THREADS * n && atomic_load(&popped_sum) == want,
	      "type %u: %llu values popped", type, (unsigned long long)atomic_load(&popped_n));
	visor_map_destroy(m);
}

int main(void)
{
	test_atomic_adds(VISOR_MAP_TYPE_ARRAY);
	test_atomic_adds(VISOR_MAP_TYPE_HASH);
	test_atomic_adds(VISOR_MAP_TYPE_LRU_HASH);
	test_percpu(VISOR_MAP_TYPE_PERCPU_ARRAY);
	test_percpu(VISOR_MAP_TYPE_PERCPU_HASH);
	test_stress(VISOR_MAP_TYPE_HASH, 0);
	test_stress(VISOR_MAP_TYPE_HASH, VISOR_F_NO_PREALLOC);
	test_stress(VISOR_MAP_TYPE_PERCPU_HASH, 0);
	test_stress(VISOR_MAP_TYPE_LRU_HASH, 0);
	test_stress(VISOR_MAP_TYPE_LRU_HASH, VISOR_F_NO_COMMON_LRU);
	test_stress(VISOR_MAP_TYPE_LRU_PERCPU_HASH, 0);
	test_lpm();
	test_map_in_map(VISOR_MAP_TYPE_ARRAY_OF_MAPS);
	test_map_in_map(VISOR_MAP_TYPE_HASH_OF_MAPS);
	test_queue(VISOR_MAP_TYPE_QUEUE);
	test_queue(VISOR_MAP_TYPE_STACK);
	return test_summary("test_maps_concurrency");
}
