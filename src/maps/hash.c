/* The hash map family: hash, per-CPU hash, LRU hash, LRU per-CPU hash and
 * hash of maps.
 *
 * Buckets (a power of two >= max_entries, as the kernel) hold singly linked
 * chains ending in a "nulls" marker that names the bucket. Readers walk
 * chains without locks; if an element they stand on was recycled into
 * another bucket they end on a foreign marker and restart (the kernel's
 * hlist_nulls). Writers take a per-bucket spinlock. Elements come from a
 * pool (pool.c): removed ones are reused only after a grace period, so a
 * value pointer given to a program keeps its key while the program runs.
 *
 * Updates of an existing key replace the element (readers see the old or
 * the new value, never a mix), except per-CPU maps, which copy in place, as
 * the kernel does. */
#include <stdlib.h>
#include <time.h>

#include "map_internal.h"

/* What a lookup reads (next, hash, key, value) is contiguous: a small
 * element is one cache line (pool.c aligns them). */
struct hash_elem {
	struct visor_pool_node pnode; /* first: the pool's link */
	_Atomic uintptr_t next;       /* chain; odd = nulls marker */
	uint32_t hash;
	uint8_t in_hash;              /* written under the bucket lock */
	uint8_t key[] __attribute__((aligned(8)));
	/* then the value (not per-CPU maps), then struct hash_extra (LRU and
	 * per-CPU maps only) */
};

struct hash_extra {
	struct visor_lru_node lru;
	uint8_t *pcpu;                /* per-CPU values: CPU c at pcpu + c * pcpu_stride */
	size_t pcpu_stride;
};

struct hash_bucket {
	_Atomic uintptr_t first;
	visor_spin_t lock;
};

struct hash_map {
	struct visor_map map;
	struct hash_bucket *buckets;
	uint32_t n_buckets;
	uint64_t seed;
	_Atomic uint32_t count; /* elements, for max_entries (not LRU) */
	size_t key_rsz, value_rsz;
	size_t extra_off; /* of struct hash_extra in an element */
	bool percpu, lru, of_maps;
	struct visor_pool pool;
	struct visor_lru lrus;
	struct visor_defer_list defer; /* inner map references (hash of maps) */
};

#define HT(m) container_of(m, struct hash_map, map)
#define NULLS(i) (((uintptr_t)(i) << 1) | 1)

/* Chain ends: an element's next is the nulls marker of its bucket; an empty
 * bucket head may also be 0, so a huge table costs nothing until used. */
static inline bool is_end(uintptr_t p)
{
	return (p & 1) || !p;
}

enum { FROM_USER, FROM_PROG, FROM_REF };

static inline uint8_t *val(struct hash_map *h, struct hash_elem *e)
{
	return e->key + h->key_rsz;
}

static inline struct hash_extra *extra(const struct hash_map *h, struct hash_elem *e)
{
	return (struct hash_extra *)((uint8_t *)e + h->extra_off);
}

static inline struct hash_elem *elem_of_lru(const struct hash_map *h, struct visor_lru_node *n)
{
	return (struct hash_elem *)((uint8_t *)n - offsetof(struct hash_extra, lru) - h->extra_off);
}

static inline uint8_t *pcpu_val(const struct hash_map *h, struct hash_elem *e, uint32_t cpu)
{
	struct hash_extra *x = extra(h, e);
	return x->pcpu + cpu * x->pcpu_stride;
}

static inline struct visor_map *inner_of(struct hash_map *h, struct hash_elem *e)
{
	struct visor_map *m;
	memcpy(&m, val(h, e), sizeof(m));
	return m;
}

/* ---- Creation ----------------------------------------------------------- */

static bool lru_evict(struct visor_lru_node *n, void *ctx);

static void elem_init(struct visor_pool *pool, void *p, uint8_t *pcpu, size_t stride)
{
	struct hash_map *h = container_of(pool, struct hash_map, pool);
	if (h->percpu) {
		extra(h, p)->pcpu = pcpu;
		extra(h, p)->pcpu_stride = stride;
	}
}

static uint64_t new_seed(const void *salt)
{
	static _Atomic uint64_t ctr;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return visor_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			   (uintptr_t)salt ^ atomic_fetch_add(&ctr, 0x9e3779b97f4a7c15ULL));
}

static int hash_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		      size_t errlen)
{
	uint32_t t = o->type;
	bool percpu = t == VISOR_MAP_TYPE_PERCPU_HASH || t == VISOR_MAP_TYPE_LRU_PERCPU_HASH;
	bool lru = t == VISOR_MAP_TYPE_LRU_HASH || t == VISOR_MAP_TYPE_LRU_PERCPU_HASH;
	bool of_maps = t == VISOR_MAP_TYPE_HASH_OF_MAPS;
	bool percpu_lru = o->map_flags & VISOR_F_NO_COMMON_LRU;
	uint32_t max = o->max_entries;

	if (of_maps && o->value_size != 4)
		return visor_errf(err, errlen, -EINVAL, "value_size %u, must be 4 (a map id)",
				      o->value_size);
	if (lru && (o->map_flags & VISOR_F_NO_PREALLOC))
		return visor_errf(err, errlen, -VISOR_ENOTSUPP,
				      "LRU maps are always preallocated (VISOR_F_NO_PREALLOC)");
	if (percpu_lru && (o->map_flags & VISOR_F_NUMA_NODE))
		return visor_errf(err, errlen, -EINVAL,
				      "VISOR_F_NUMA_NODE with VISOR_F_NO_COMMON_LRU");
	if (!max)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (!o->key_size)
		return visor_errf(err, errlen, -EINVAL, "key_size is 0");
	if (!o->value_size)
		return visor_errf(err, errlen, -EINVAL, "value_size is 0");
	if ((uint64_t)o->key_size + o->value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE)
		return visor_errf(err, errlen, -E2BIG,
				      "key_size + value_size = %llu, the limit is %u",
				      (unsigned long long)o->key_size + o->value_size,
				      KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE - 1);
	if (percpu && ROUND8(o->value_size) > PCPU_MIN_UNIT_SIZE)
		return visor_errf(err, errlen, -E2BIG,
				      "value_size %u is above the per-CPU limit %u", o->value_size,
				      PCPU_MIN_UNIT_SIZE);
	/* Per-CPU LRU lists share max_entries equally, rounded up as the kernel. */
	if (percpu_lru && max % o->nr_cpus) {
		uint64_t r = ((uint64_t)max + o->nr_cpus - 1) / o->nr_cpus * o->nr_cpus;
		max = r > UINT32_MAX ? max / o->nr_cpus * o->nr_cpus : (uint32_t)r;
	}
	if (max > HTAB_MAX_ENTRIES)
		return visor_errf(err, errlen, -E2BIG, "max_entries %u is above %u", max,
				      HTAB_MAX_ENTRIES);

	struct hash_map *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int e = of_maps ? visor_mim_init(&h->map, o, err, errlen) : 0;
	if (e) {
		free(h);
		return e;
	}
	h->percpu = percpu;
	h->lru = lru;
	h->of_maps = of_maps;
	h->key_rsz = ROUND8(o->key_size);
	h->value_rsz = of_maps ? sizeof(void *) : ROUND8(o->value_size);
	h->seed = (o->map_flags & VISOR_F_ZERO_SEED) ? 0 : new_seed(h);
	h->n_buckets = 1;
	while (h->n_buckets < max)
		h->n_buckets <<= 1;
	h->map.max_entries = max;
	h->map.nr_cpus = percpu ? o->nr_cpus : 1;
	visor_defer_init(&h->defer);

	h->buckets = calloc(h->n_buckets, sizeof(*h->buckets));
	h->extra_off = sizeof(struct hash_elem) + h->key_rsz + (percpu ? 0 : h->value_rsz);
	size_t esz = h->extra_off + (lru || percpu ? sizeof(struct hash_extra) : 0);
	/* Preallocated maps reserve max_entries plus room for replacements in
	 * flight; the pages are touched only as elements are used. */
	size_t prealloc = (o->map_flags & VISOR_F_NO_PREALLOC) ? 0 : (size_t)max + 64;
	if (!h->buckets ||
	    visor_pool_init(&h->pool, esz, prealloc, max < 64 ? 64 : max,
			    percpu ? h->value_rsz : 0, h->map.nr_cpus, elem_init)) {
		free(h->buckets);
		free(h);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %u elements", max);
	}
	h->pool.value_off = offsetof(struct hash_elem, key) + h->key_rsz;
	h->pool.value_len = percpu || of_maps ? 0 : o->value_size;
	h->pool.pcpu_value_len = o->value_size;
	if (lru) {
		uint32_t nd = percpu_lru ? o->nr_cpus : 1;
		if (visor_lru_init(&h->lrus, nd, max / nd, lru_evict, h)) {
			visor_pool_destroy(&h->pool);
			free(h->buckets);
			free(h);
			return -ENOMEM;
		}
	}
	const struct visor_map_ops *ops = of_maps ? &visor_hash_of_maps_ops
				       : lru && percpu ? &visor_lru_percpu_hash_ops
				       : lru ? &visor_lru_hash_ops
				       : percpu ? &visor_percpu_hash_ops
				       : &visor_hash_ops;
	visor_map_init_common(&h->map, o, ops);
	*out = &h->map;
	return 0;
}

static void hash_free(struct visor_map *m)
{
	struct hash_map *h = HT(m);
	visor_defer_flush(&h->defer);
	if (h->of_maps) {
		for (uint32_t i = 0; i < h->n_buckets; i++) {
			uintptr_t p = atomic_load(&h->buckets[i].first);
			for (; !is_end(p); p = atomic_load(&((struct hash_elem *)p)->next))
				visor_map_put(inner_of(h, (struct hash_elem *)p));
		}
	}
	if (h->lru)
		visor_lru_destroy(&h->lrus);
	visor_pool_destroy(&h->pool);
	pthread_mutex_destroy(&h->defer.lock);
	free(h->buckets);
	free(h);
}

/* ---- Hashing and chains -------------------------------------------------- */

/* 64x64 -> 128-bit multiply folded to 64 bits (wyhash's mum): one
 * multiplication mixes every input bit into every output bit. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define HK0 0xa0761d6478bd642fULL
#define HK1 0xe7037ed1a0b428dbULL
#define HK2 0x8ebc6af09c88c6e3ULL

/* Key hash, seeded per map. Keys of 4 and 8 bytes (the common ones) are
 * one word: two multiplications, no loop, no byte copies. */
static inline uint32_t hash_word(uint64_t w, uint64_t seed, size_t n)
{
	uint64_t x = fold_mul(w ^ seed ^ HK0, HK1 ^ n);
	return (uint32_t)(fold_mul(x, (HK2 ^ seed) | 1) >> 7); /* | 1: never a zero factor */
}

static uint32_t hash_bytes(const uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed ^ HK0 ^ n;
	size_t left = n;
	while (left >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		x = fold_mul(x ^ v, HK1);
		p += 8;
		left -= 8;
	}
	if (left) {
		uint64_t v = 0;
		memcpy(&v, p, left);
		x = fold_mul(x ^ v ^ HK2, HK1 ^ left);
	}
	return hash_word(x, seed, n);
}

static inline __attribute__((always_inline)) uint32_t hash_key_n(const void *key, size_t n,
								 uint64_t seed)
{
	if (n == 4) {
		uint32_t v;
		memcpy(&v, key, 4);
		return hash_word(v, seed, 4);
	}
	if (n == 8) {
		uint64_t v;
		memcpy(&v, key, 8);
		return hash_word(v, seed, 8);
	}
	return hash_bytes(key, n, seed);
}

static inline uint32_t hash_of(struct hash_map *h, const void *key)
{
	return hash_key_n(key, h->map.key_size, h->seed);
}

/* Does e hold key? 4- and 8-byte keys: one compare (the hash adds nothing). */
static inline __attribute__((always_inline)) bool elem_is(const struct hash_elem *e,
							  uint32_t hash, const void *key,
							  size_t n)
{
	if (n == 4) {
		uint32_t a, b;
		memcpy(&a, e->key, 4);
		memcpy(&b, key, 4);
		return a == b;
	}
	if (n == 8) {
		uint64_t a, b;
		memcpy(&a, e->key, 8);
		memcpy(&b, key, 8);
		return a == b;
	}
	return e->hash == hash && !memcmp(e->key, key, n);
}

/* Lock-free lookup; n is the key size (a constant where inlined). */
static inline __attribute__((always_inline)) struct hash_elem *
find_n(struct hash_map *h, uint32_t hash, const void *key, size_t n)
{
	uint32_t bi = hash & (h->n_buckets - 1);
	uintptr_t p;
again:
	p = atomic_load_explicit(&h->buckets[bi].first, memory_order_acquire);
	while (!is_end(p)) {
		struct hash_elem *e = (struct hash_elem *)p;
		if (elem_is(e, hash, key, n))
			return e;
		p = atomic_load_explicit(&e->next, memory_order_acquire);
	}
	if (p && p != NULLS(bi))
		goto again; /* walked onto a recycled element */
	return NULL;
}

static struct hash_elem *find(struct hash_map *h, uint32_t hash, const void *key)
{
	return find_n(h, hash, key, h->map.key_size);
}

/* Hash and lookup, specialised for the common key sizes. */
static struct hash_elem *find_key(struct hash_map *h, const void *key)
{
	switch (h->map.key_size) {
	case 4:
		return find_n(h, hash_key_n(key, 4, h->seed), key, 4);
	case 8:
		return find_n(h, hash_key_n(key, 8, h->seed), key, 8);
	default:
		return find(h, hash_of(h, key), key);
	}
}

/* Under the bucket lock: the element and the link that points to it. */
static struct hash_elem *find_link(struct hash_map *h, struct hash_bucket *b, uint32_t hash,
				   const void *key, _Atomic uintptr_t **link)
{
	_Atomic uintptr_t *pp = &b->first;
	uintptr_t p;
	while (!is_end(p = atomic_load_explicit(pp, memory_order_relaxed))) {
		struct hash_elem *e = (struct hash_elem *)p;
		if (elem_is(e, hash, key, h->map.key_size)) {
			*link = pp;
			return e;
		}
		pp = &e->next;
	}
	return NULL;
}

static void link_head(struct hash_map *h, struct hash_bucket *b, struct hash_elem *e)
{
	uintptr_t first = atomic_load_explicit(&b->first, memory_order_relaxed);
	atomic_store_explicit(&e->next, first ? first : NULLS(b - h->buckets),
			      memory_order_relaxed);
	atomic_store_explicit(&b->first, (uintptr_t)e, memory_order_release);
	e->in_hash = 1;
}

static void unlink_at(_Atomic uintptr_t *link, struct hash_elem *e)
{
	/* e->next stays intact: a reader standing on e walks on. */
	atomic_store_explicit(link, atomic_load_explicit(&e->next, memory_order_relaxed),
			      memory_order_release);
	e->in_hash = 0;
}

static inline struct hash_bucket *bucket(struct hash_map *h, uint32_t hash)
{
	return &h->buckets[hash & (h->n_buckets - 1)];
}

/* ---- Element life cycle ------------------------------------------------- */

/* A new element with key and hash set: counted against max_entries (or
 * given room in its LRU list, evicting if needed). */
static struct hash_elem *elem_get(struct hash_map *h, const void *key, uint32_t hash,
				  bool count, int *err)
{
	struct hash_elem *e;
	if (h->lru) {
		struct visor_lru_node *victim;
		int d = visor_lru_reserve(&h->lrus, &victim);
		if (d < 0) {
			*err = -ENOMEM;
			return NULL;
		}
		if (victim)
			visor_pool_retire(&h->pool, elem_of_lru(h, victim));
		if (!(e = visor_pool_alloc(&h->pool))) {
			visor_lru_unreserve(&h->lrus, (uint32_t)d);
			*err = -ENOMEM;
			return NULL;
		}
		e->hash = hash;
		e->in_hash = 0;
		memcpy(e->key, key, h->map.key_size);
		/* Listed before it is in the map: the evictor skips it until then. */
		visor_lru_add(&h->lrus, &extra(h, e)->lru, (uint32_t)d);
		return e;
	}
	if (count && atomic_fetch_add(&h->count, 1) >= h->map.max_entries) {
		atomic_fetch_sub(&h->count, 1);
		*err = -E2BIG;
		return NULL;
	}
	if (!(e = visor_pool_alloc(&h->pool))) {
		if (count)
			atomic_fetch_sub(&h->count, 1);
		*err = -ENOMEM;
		return NULL;
	}
	e->hash = hash;
	e->in_hash = 0;
	memcpy(e->key, key, h->map.key_size);
	return e;
}

/* An element that never became visible goes straight back. */
static void elem_put_unpublished(struct hash_map *h, struct hash_elem *e, bool counted)
{
	if (h->lru)
		visor_lru_remove(&h->lrus, &extra(h, e)->lru);
	else if (counted)
		atomic_fetch_sub(&h->count, 1);
	visor_pool_free_now(&h->pool, e);
}

/* An element just unlinked from its chain: reused after a grace period. */
static void elem_retire(struct hash_map *h, struct hash_elem *e, bool counted)
{
	if (h->lru)
		visor_lru_remove(&h->lrus, &extra(h, e)->lru);
	else if (counted)
		atomic_fetch_sub(&h->count, 1);
	if (h->of_maps)
		visor_mim_put_deferred(&h->defer, inner_of(h, e));
	visor_pool_retire(&h->pool, e);
}

static bool lru_evict(struct visor_lru_node *n, void *ctx)
{
	struct hash_map *h = ctx;
	struct hash_elem *e = elem_of_lru(h, n);
	struct hash_bucket *b = bucket(h, e->hash);
	bool done = false;
	visor_spin_lock(&b->lock);
	if (e->in_hash) {
		_Atomic uintptr_t *pp = &b->first;
		uintptr_t p;
		while (!is_end(p = atomic_load_explicit(pp, memory_order_relaxed))) {
			if ((struct hash_elem *)p == e) {
				unlink_at(pp, e);
				done = true;
				break;
			}
			pp = &((struct hash_elem *)p)->next;
		}
	}
	visor_spin_unlock(&b->lock);
	return done;
}

/* ---- Values ------------------------------------------------------------- */

static void value_set_new(struct hash_map *h, struct hash_elem *e, const void *value, int mode)
{
	uint32_t vs = h->map.value_size;
	if (mode == FROM_REF) {
		memcpy(val(h, e), value, sizeof(void *));
	} else if (!h->percpu) {
		if (h->map.spin_lock_off < 0) /* inline: the update path's copy */
			visor_long_memcpy(val(h, e), value, vs);
		else
			visor_value_copy_zero_lock(&h->map, val(h, e), value); /* a new lock is free */
		if (h->value_rsz > vs)
			memset(val(h, e) + vs, 0, h->value_rsz - vs);
	} else if (mode == FROM_USER) {
		for (uint32_t c = 0; c < h->map.nr_cpus; c++)
			visor_long_memcpy(pcpu_val(h, e, c), (const uint8_t *)value + c * h->value_rsz,
					  h->value_rsz);
	} else {
		/* From a program: this CPU's value, zeros elsewhere (a recycled
		 * element must not show old values). */
		uint32_t cpu = visor_cur_cpu();
		for (uint32_t c = 0; c < h->map.nr_cpus; c++) {
			if (c == cpu) {
				visor_long_memcpy(pcpu_val(h, e, c), value, vs);
				memset(pcpu_val(h, e, c) + vs, 0, h->value_rsz - vs);
			} else {
				memset(pcpu_val(h, e, c), 0, h->value_rsz);
			}
		}
	}
}

static void value_set_existing(struct hash_map *h, struct hash_elem *e, const void *value,
			       int mode)
{
	if (mode == FROM_USER) {
		for (uint32_t c = 0; c < h->map.nr_cpus; c++)
			visor_long_memcpy(pcpu_val(h, e, c), (const uint8_t *)value + c * h->value_rsz,
					  h->value_rsz);
	} else {
		visor_long_memcpy(pcpu_val(h, e, visor_cur_cpu()), value, h->map.value_size);
	}
}

static void value_copy_out(struct hash_map *h, struct hash_elem *e, void *out)
{
	if (h->of_maps) {
		uint32_t id = inner_of(h, e)->id;
		memcpy(out, &id, 4);
	} else if (h->percpu) {
		for (uint32_t c = 0; c < h->map.nr_cpus; c++)
			visor_long_memcpy((uint8_t *)out + c * h->value_rsz, pcpu_val(h, e, c),
					  h->value_rsz);
	} else {
		visor_value_copy_zero_lock(&h->map, out, val(h, e));
	}
}

/* ---- Update ------------------------------------------------------------- */

static int check_flags(struct hash_elem *old, uint64_t flags)
{
	if (old && flags == VISOR_NOEXIST)
		return -EEXIST;
	if (!old && flags == VISOR_EXIST)
		return -ENOENT;
	return 0;
}

/* Per-CPU maps: copy into an existing element, insert a new one otherwise. */
static int update_in_place(struct hash_map *h, const void *key, const void *value,
			   uint64_t flags, int mode)
{
	uint32_t hash = hash_of(h, key);
	struct hash_bucket *b = bucket(h, hash);
	_Atomic uintptr_t *pp;
	struct hash_elem *e;
	int err;

	visor_spin_lock(&b->lock);
	e = find_link(h, b, hash, key, &pp);
	if ((err = check_flags(e, flags)) || e) {
		if (e && !err) {
			value_set_existing(h, e, value, mode);
			if (h->lru)
				visor_lru_touch(&extra(h, e)->lru);
		}
		visor_spin_unlock(&b->lock);
		return err;
	}
	visor_spin_unlock(&b->lock);

	/* Allocate outside the bucket lock: LRU eviction takes bucket locks. */
	struct hash_elem *n = elem_get(h, key, hash, true, &err);
	if (!n)
		return err;
	value_set_new(h, n, value, mode);
	visor_spin_lock(&b->lock);
	e = find_link(h, b, hash, key, &pp);
	if (e) { /* inserted meanwhile */
		if (!(err = check_flags(e, flags)))
			value_set_existing(h, e, value, mode);
		visor_spin_unlock(&b->lock);
		elem_put_unpublished(h, n, true);
		return err;
	}
	link_head(h, b, n);
	visor_spin_unlock(&b->lock);
	return 0;
}

/* Other maps: a new element replaces the old one in a single pointer store. */
static int update_replace(struct hash_map *h, const void *key, const void *value,
			  uint64_t flags, int mode)
{
	uint32_t hash = hash_of(h, key);
	struct hash_bucket *b = bucket(h, hash);
	_Atomic uintptr_t *pp;
	struct hash_elem *e;
	int err;

	if (h->lru) {
		/* Fail before allocating: a refused update must not evict. */
		visor_spin_lock(&b->lock);
		err = check_flags(find_link(h, b, hash, key, &pp), flags);
		visor_spin_unlock(&b->lock);
		if (err)
			return err;
	}
	struct hash_elem *n = elem_get(h, key, hash, false, &err);
	if (!n)
		return err;
	value_set_new(h, n, value, mode);

	visor_spin_lock(&b->lock);
	e = find_link(h, b, hash, key, &pp);
	if ((err = check_flags(e, flags)))
		goto fail;
	if (e) {
		atomic_store_explicit(&n->next, atomic_load_explicit(&e->next, memory_order_relaxed),
				      memory_order_relaxed);
		n->in_hash = 1;
		atomic_store_explicit(pp, (uintptr_t)n, memory_order_release);
		e->in_hash = 0;
		visor_spin_unlock(&b->lock);
		elem_retire(h, e, false);
		return 0;
	}
	if (!h->lru && atomic_fetch_add(&h->count, 1) >= h->map.max_entries) {
		atomic_fetch_sub(&h->count, 1);
		err = -E2BIG;
		goto fail;
	}
	link_head(h, b, n);
	visor_spin_unlock(&b->lock);
	return 0;
fail:
	visor_spin_unlock(&b->lock);
	elem_put_unpublished(h, n, false);
	return err;
}

static int hash_update(struct visor_map *m, const void *key, const void *value, uint64_t flags,
		       int mode)
{
	struct hash_map *h = HT(m);
	if (flags > VISOR_EXIST)
		return -EINVAL;
	if (mode == FROM_PROG && h->percpu && visor_cur_cpu() >= m->nr_cpus)
		return -EINVAL;
	return h->percpu ? update_in_place(h, key, value, flags, mode)
			 : update_replace(h, key, value, flags, mode);
}

static int hash_update_sys(struct visor_map *m, const void *key, const void *value,
			   uint64_t flags)
{
	return hash_update(m, key, value, flags, FROM_USER);
}

static int hash_update_prog(struct visor_map *m, const void *key, const void *value,
			    uint64_t flags)
{
	return hash_update(m, key, value, flags, FROM_PROG);
}

/* Hash of maps: the value written is a map id. */
static int hom_update_sys(struct visor_map *m, const void *key, const void *value,
			  uint64_t flags)
{
	uint32_t id;
	struct visor_map *inner;
	memcpy(&id, value, 4);
	int err = visor_mim_resolve(m, id, &inner); /* before the flags, as the kernel */
	if (err)
		return err;
	if ((err = hash_update(m, key, &inner, flags, FROM_REF)))
		visor_map_put(inner);
	return err;
}

static int hom_update_ref(struct visor_map *m, const void *key, void *ref, uint32_t id,
			  uint64_t flags)
{
	struct visor_map *inner = ref;
	int err = visor_mim_check(m, inner);
	if (err)
		return err;
	visor_map_get(inner);
	if ((err = hash_update(m, key, &inner, flags, FROM_REF)))
		visor_map_put(inner);
	return err;
}

/* ---- Lookup, delete, iteration ------------------------------------------ */

static int hash_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct hash_map *h = HT(m);
	struct hash_elem *e = find_key(h, key);
	if (!e)
		return -ENOENT;
	value_copy_out(h, e, value); /* user lookups do not mark LRU use, as the kernel */
	return 0;
}

static void *hash_lookup_ptr(struct visor_map *m, const void *key)
{
	struct hash_map *h = HT(m);
	struct hash_elem *e = find_key(h, key);
	if (!e)
		return NULL;
	if (h->lru)
		visor_lru_touch(&extra(h, e)->lru);
	if (h->percpu) {
		uint32_t cpu = visor_cur_cpu();
		return cpu < m->nr_cpus ? pcpu_val(h, e, cpu) : NULL;
	}
	if (h->of_maps)
		return inner_of(h, e);
	return val(h, e);
}

static int delete_common(struct visor_map *m, const void *key, void *out)
{
	struct hash_map *h = HT(m);
	uint32_t hash = hash_of(h, key);
	struct hash_bucket *b = bucket(h, hash);
	_Atomic uintptr_t *pp;
	visor_spin_lock(&b->lock);
	struct hash_elem *e = find_link(h, b, hash, key, &pp);
	if (!e) {
		visor_spin_unlock(&b->lock);
		return -ENOENT;
	}
	if (out)
		value_copy_out(h, e, out);
	unlink_at(pp, e);
	visor_spin_unlock(&b->lock);
	elem_retire(h, e, true);
	return 0;
}

static int hash_delete(struct visor_map *m, const void *key)
{
	return delete_common(m, key, NULL);
}

static int hash_lookup_and_delete(struct visor_map *m, const void *key, void *value)
{
	return delete_common(m, key, value);
}

static struct hash_elem *first_in(struct hash_map *h, uint32_t bi)
{
	uintptr_t p = atomic_load_explicit(&h->buckets[bi].first, memory_order_acquire);
	return is_end(p) ? NULL : (struct hash_elem *)p;
}

/* The kernel's order: the rest of the key's chain, then the following
 * buckets; a key not in the map restarts from the first bucket. */
static int hash_get_next_key(struct visor_map *m, const void *key, void *next)
{
	struct hash_map *h = HT(m);
	uint32_t i = 0;
	if (key) {
		uint32_t hash = hash_of(h, key);
		struct hash_elem *e = find(h, hash, key);
		if (e) {
			uintptr_t p = atomic_load_explicit(&e->next, memory_order_acquire);
			if (!is_end(p)) {
				memcpy(next, ((struct hash_elem *)p)->key, m->key_size);
				return 0;
			}
			i = (hash & (h->n_buckets - 1)) + 1;
		}
	}
	for (; i < h->n_buckets; i++) {
		struct hash_elem *e = first_in(h, i);
		if (e) {
			memcpy(next, e->key, m->key_size);
			return 0;
		}
	}
	return -ENOENT;
}

/* The kernel's htab batch: whole buckets only; the position is a bucket. */
static int hash_lookup_batch(struct visor_map *m, const void *in_batch, void *out_batch,
			     void *keys, void *values, uint32_t *count)
{
	struct hash_map *h = HT(m);
	uint32_t max = *count, total = 0, bi = 0;
	size_t vs = visor_map_user_value_size(m);
	int ret = 0;

	if (in_batch)
		memcpy(&bi, in_batch, 4);
	if (bi >= h->n_buckets) {
		*count = 0;
		return -ENOENT;
	}
	for (;;) {
		struct hash_bucket *b = &h->buckets[bi];
		uint32_t n = 0;
		visor_spin_lock(&b->lock);
		uintptr_t p;
		for (p = atomic_load(&b->first); !is_end(p); p = atomic_load(&((struct hash_elem *)p)->next))
			n++;
		if (n > max - total) {
			visor_spin_unlock(&b->lock);
			if (!total)
				ret = -ENOSPC;
			break;
		}
		for (p = atomic_load(&b->first); !is_end(p); p = atomic_load(&((struct hash_elem *)p)->next)) {
			struct hash_elem *e = (struct hash_elem *)p;
			memcpy((uint8_t *)keys + (size_t)total * m->key_size, e->key, m->key_size);
			value_copy_out(h, e, (uint8_t *)values + (size_t)total * vs);
			total++;
		}
		visor_spin_unlock(&b->lock);
		if (++bi >= h->n_buckets) {
			ret = -ENOENT;
			break;
		}
	}
	*count = total;
	memcpy(out_batch, &bi, 4);
	return ret;
}

static long hash_for_each(struct visor_map *m, visor_map_elem_cb cb, void *ctx)
{
	struct hash_map *h = HT(m);
	uint32_t cpu = visor_cur_cpu();
	long n = 0;
	if (h->percpu && cpu >= m->nr_cpus)
		return -EINVAL;
	for (uint32_t i = 0; i < h->n_buckets; i++) {
		uintptr_t p = atomic_load_explicit(&h->buckets[i].first, memory_order_acquire);
		for (; !is_end(p); p = atomic_load_explicit(&((struct hash_elem *)p)->next,
							  memory_order_acquire)) {
			struct hash_elem *e = (struct hash_elem *)p;
			void *v = h->percpu ? pcpu_val(h, e, cpu) : h->of_maps ? (void *)inner_of(h, e)
							       : val(h, e);
			n++;
			if (cb(m, e->key, v, ctx))
				return n;
		}
	}
	return n;
}

static bool hash_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	const struct hash_map *h = container_of(m, struct hash_map, map);
	return !h->of_maps && visor_pool_contains(&h->pool, ptr, len);
}

#define HASH_OPS(update_sys_fn, update_prog_fn, lad_fn, update_ref_fn)	\
	{								\
		.alloc = hash_alloc,					\
		.free = hash_free,					\
		.lookup_sys = hash_lookup_sys,				\
		.update_sys = update_sys_fn,				\
		.delete_elem = hash_delete,				\
		.get_next_key = hash_get_next_key,			\
		.lookup_and_delete = lad_fn,				\
		.lookup_batch = hash_lookup_batch,			\
		.lookup_ptr = hash_lookup_ptr,				\
		.update_prog = update_prog_fn,				\
		.for_each = hash_for_each,				\
		.value_ok = hash_value_ok,				\
		.update_ref = update_ref_fn,				\
	}

const struct visor_map_ops visor_hash_ops =
	HASH_OPS(hash_update_sys, hash_update_prog, hash_lookup_and_delete, NULL);
const struct visor_map_ops visor_percpu_hash_ops =
	HASH_OPS(hash_update_sys, hash_update_prog, hash_lookup_and_delete, NULL);
const struct visor_map_ops visor_lru_hash_ops =
	HASH_OPS(hash_update_sys, hash_update_prog, hash_lookup_and_delete, NULL);
const struct visor_map_ops visor_lru_percpu_hash_ops =
	HASH_OPS(hash_update_sys, hash_update_prog, hash_lookup_and_delete, NULL);
const struct visor_map_ops visor_hash_of_maps_ops =
	HASH_OPS(hom_update_sys, NULL, NULL, hom_update_ref);
