/* Internals shared by the map types: the common map header and its
 * operations table, the read-side epochs, the element pool, the LRU lists
 * and small locking and hashing helpers. */
#ifndef VISOR_MAP_INTERNAL_H
#define VISOR_MAP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <visor/maps.h>

#include "../common/errf.h"

#define MAP_ERRMSG_LEN 160
#define ROUND8(x) (((size_t)(x) + 7) & ~(size_t)7)
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Kernel limits the creation checks reproduce. */
#define KMALLOC_MAX_SIZE (4U << 20)
#define PCPU_MIN_UNIT_SIZE 32768U   /* largest per-CPU value */
#define HTAB_ELEM_SIZE 48U          /* the kernel's sizeof(struct htab_elem) */
#define HTAB_MAX_ENTRIES (1U << 27) /* more buckets than this: -E2BIG */
#define LPM_DATA_SIZE_MAX 256U
#define LPM_VAL_SIZE_MAX (KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - 24U)

struct visor_map_ops;

/* Common header, first member of every map type. */
struct visor_map {
	const struct visor_map_ops *ops;
	uint32_t type, key_size, value_size, max_entries, map_flags;
	uint32_t nr_cpus;  /* per-CPU maps: values per element; else 1 */
	uint32_t id;
	char name[VISOR_MAP_NAME_LEN];
	_Atomic long refcnt;
	struct visor_map *reg_prev, *reg_next; /* id registry */
	pthread_mutex_t err_lock;
	char errmsg[MAP_ERRMSG_LEN];
	/* Map-in-map: what every inner map must look like. */
	struct {
		uint32_t type, key_size, value_size, max_entries, map_flags, nr_cpus;
		bool set;
	} inner;
	int32_t spin_lock_off; /* struct bpf_spin_lock in the value; -1: none */
};

/* Gives m an id and enters it in the registry (visor_map_get_by_id);
 * visor_map_destroy takes it out. For map kinds made outside map.c's
 * visor_map_create (proxy.c). */
void visor_map_register(struct visor_map *m);

/* Per-type operations. Missing user ops report what the kernel reports
 * (see map.c); "sys" ops copy values for user space, "prog" ops are the
 * helpers'. All are called inside a read-side section. */
struct visor_map_ops {
	/* Type-specific creation checks and allocation; err names the problem. */
	int (*alloc)(const struct visor_map_create_opts *o, struct visor_map **out,
		     char *err, size_t errlen);
	void (*free)(struct visor_map *map);
	int (*lookup_sys)(struct visor_map *map, const void *key, void *value);
	int (*update_sys)(struct visor_map *map, const void *key, const void *value,
			  uint64_t flags);
	int (*delete_elem)(struct visor_map *map, const void *key);
	int (*get_next_key)(struct visor_map *map, const void *key, void *next);
	int (*lookup_and_delete)(struct visor_map *map, const void *key, void *value);
	/* NULL: the generic get_next_key based batch. */
	int (*lookup_batch)(struct visor_map *map, const void *in_batch, void *out_batch,
			    void *keys, void *values, uint32_t *count);
	void *(*lookup_ptr)(struct visor_map *map, const void *key);
	int (*update_prog)(struct visor_map *map, const void *key, const void *value,
			   uint64_t flags);
	int (*push)(struct visor_map *map, const void *value, uint64_t flags);
	int (*pop)(struct visor_map *map, void *value, bool remove);
	long (*for_each)(struct visor_map *map, visor_map_elem_cb cb, void *ctx);
	bool (*value_ok)(const struct visor_map *map, const void *ptr, size_t len);
	/* Map-in-map and prog arrays: store a reference directly. */
	int (*update_ref)(struct visor_map *map, const void *key, void *ref, uint32_t id,
			  uint64_t flags);
	void *(*prog_get)(struct visor_map *map, uint32_t index, uint32_t *id);
	bool batch_unsupported;
	bool no_lookup_flags_check; /* key_size 0 maps: lookup is peek */
};

extern const struct visor_map_ops visor_array_ops,
	visor_prog_array_ops, visor_array_of_maps_ops, visor_hash_ops, visor_percpu_hash_ops,
	visor_lru_hash_ops, visor_lru_percpu_hash_ops, visor_hash_of_maps_ops,
	visor_lpm_ops, visor_queue_ops, visor_stack_ops, visor_ringbuf_ops,
	visor_perf_event_array_ops;
extern const struct visor_map_ops visor_devmap_ops, visor_devmap_hash_ops; /* devmap.c */

/* Why the current user-space call failed, when the error code alone is not
 * enough (a static string; map.c turns it into the map's message). */
extern __thread const char *visor_map_detail;

/* Array iteration order, shared with the fd arrays (array.c). */
int visor_array_get_next_key(struct visor_map *m, const void *key, void *next);

/* Fills the common header from validated options (map.c). */
void visor_map_init_common(struct visor_map *map, const struct visor_map_create_opts *o,
			   const struct visor_map_ops *ops);
int visor_map_fail(struct visor_map *map, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline bool map_is_percpu(uint32_t type)
{
	return type == VISOR_MAP_TYPE_PERCPU_ARRAY || type == VISOR_MAP_TYPE_PERCPU_HASH ||
	       type == VISOR_MAP_TYPE_LRU_PERCPU_HASH;
}

/* ---- Thread records: read-side epochs and the CPU slot (ebr.c) ---------- */

struct visor_thread {
	_Atomic uint64_t epoch; /* epoch at entry of the outer section; 0 = outside */
	uint32_t depth;
	uint32_t cpu;
	_Atomic int in_use;
	struct visor_thread *next;
} __attribute__((aligned(64)));

extern __thread struct visor_thread *visor_tls_thread;
struct visor_thread *visor_thread_self(void);

static inline uint32_t visor_cur_cpu(void)
{
	struct visor_thread *t = visor_tls_thread;
	return t ? t->cpu : 0;
}

/* The epoch to stamp on something just unlinked. */
uint64_t visor_ebr_stamp(void);
/* The same, called right after taking a visor_spin_t: on x86 the lock's
 * atomic exchange is already the fence the stamp needs. */
uint64_t visor_ebr_stamp_locked(void);
/* Advances the epoch and returns the oldest epoch still in use: anything
 * stamped strictly before it can no longer be seen by a reader. */
uint64_t visor_ebr_safe_before(void);

/* Deferred releases of objects that are not pool elements (inner map
 * references, prog array entries). */
struct visor_defer {
	struct visor_defer *next;
	uint64_t epoch;
	void (*fn)(struct visor_defer *d);
};
struct visor_defer_list {
	pthread_mutex_t lock;
	struct visor_defer *head;
	size_t n;
};
void visor_defer_init(struct visor_defer_list *l);
void visor_defer_add(struct visor_defer_list *l, struct visor_defer *d,
		     void (*fn)(struct visor_defer *d));
/* Waits for a grace period and runs everything still pending. */
void visor_defer_flush(struct visor_defer_list *l);

typedef struct {
	_Atomic int v;
} visor_spin_t;

/* ---- Element pool (pool.c) ---------------------------------------------- */

/* Fixed-size elements carved from chunks that live as long as the pool, so a
 * pointer into an element is always valid memory; freed elements wait one
 * grace period before reuse. Optional per-CPU value areas per element. */
struct visor_pool_node {
	struct visor_pool_node *next;
	uint64_t epoch;
};
struct visor_pool_chunk {
	struct visor_pool_chunk *next;
	uint8_t *elems; /* 64-byte aligned inside elems_raw */
	uint8_t *elems_raw;
	uint8_t *pcpu;  /* nr_cpus areas of n * pcpu_size bytes, or NULL */
	size_t n;       /* capacity */
	size_t used;    /* carved so far */
};
struct visor_pool {
	visor_spin_t lock; /* short sections; a spinlock costs one atomic, a mutex two */
	size_t elem_size;
	size_t pcpu_size;   /* per-CPU value bytes per element (0: none) */
	uint32_t nr_cpus;
	size_t value_off, value_len; /* values inside elements, for value_ok */
	size_t pcpu_value_len;       /* bytes of each per-CPU value, for value_ok */
	uint64_t elem_magic, pcpu_magic; /* offset % size without a division (pool.c) */
	size_t reclaim_at;           /* pending count that triggers a scan */
	size_t grow;                 /* next chunk size */
	size_t max_chunk;
	_Atomic(struct visor_pool_chunk *) chunks;
	struct visor_pool_node *free;
	struct visor_pool_node *pending, **pending_tail;
	size_t npending;
	/* Called once per element when carved (to record its per-CPU area). */
	void (*init)(struct visor_pool *p, void *elem, uint8_t *pcpu, size_t pcpu_stride);
};
/* Elements of 64 bytes or less are rounded up to a power of two and never
 * straddle a cache line. */
int visor_pool_init(struct visor_pool *p, size_t elem_size, size_t prealloc, size_t max_chunk,
		    size_t pcpu_size, uint32_t nr_cpus,
		    void (*init)(struct visor_pool *p, void *elem, uint8_t *pcpu, size_t stride));
void visor_pool_destroy(struct visor_pool *p);
void *visor_pool_alloc(struct visor_pool *p);
/* Back to the pool now: the element was never visible to readers. */
void visor_pool_free_now(struct visor_pool *p, void *elem);
/* Back to the pool after a grace period. */
void visor_pool_retire(struct visor_pool *p, void *elem);
bool visor_pool_contains(const struct visor_pool *p, const void *ptr, size_t len);

/* ---- Approximate LRU (lru.c) -------------------------------------------- */

struct visor_lru_node {
	struct visor_lru_node *prev, *next;
	_Atomic uint8_t ref;  /* set by program lookups; second chance */
	uint16_t domain;
};
struct visor_lru_domain {
	pthread_mutex_t lock;
	struct visor_lru_node head; /* sentinel: head.next newest, head.prev oldest */
	uint32_t count;             /* reserved + listed */
	uint32_t capacity;
} __attribute__((aligned(64)));
struct visor_lru {
	struct visor_lru_domain *domains;
	uint32_t ndomains;
	/* Unlinks node from the map if it is still there; true = it was. */
	bool (*evict)(struct visor_lru_node *n, void *ctx);
	void *ctx;
};
int visor_lru_init(struct visor_lru *l, uint32_t ndomains, uint32_t capacity_each,
		   bool (*evict)(struct visor_lru_node *, void *), void *ctx);
void visor_lru_destroy(struct visor_lru *l);
/* Reserves room for one element in the current CPU's domain, evicting if
 * full. Returns the domain or -ENOMEM; *victim receives an evicted node
 * (already unlinked from the map, to be retired by the caller) or NULL. */
int visor_lru_reserve(struct visor_lru *l, struct visor_lru_node **victim);
void visor_lru_unreserve(struct visor_lru *l, uint32_t domain);
void visor_lru_add(struct visor_lru *l, struct visor_lru_node *n, uint32_t domain);
/* Removes a listed node and releases its room. */
void visor_lru_remove(struct visor_lru *l, struct visor_lru_node *n);
static inline void visor_lru_touch(struct visor_lru_node *n)
{
	/* Write only when needed: keeps the cache line shared between readers. */
	if (!atomic_load_explicit(&n->ref, memory_order_relaxed))
		atomic_store_explicit(&n->ref, 1, memory_order_relaxed);
}

/* ---- bpf_spin_lock in values (value_lock.c) ----------------------------- */

/* Value copies that never carry the lock field, as the kernel's
 * copy_map_value: keep_lock leaves dst's lock alone (an update in place),
 * zero_lock zeroes it (a copy for user space, a new element). Plain
 * visor_long_memcpy for maps without a lock. */
void visor_value_copy_keep_lock(const struct visor_map *m, void *dst, const void *src);
void visor_value_copy_zero_lock(const struct visor_map *m, void *dst, const void *src);
/* VISOR_F_LOCK: lookup copies out, update copies in under the value's
 * lock (hash: a key not in the map is inserted as without the flag). */
int visor_value_lookup_locked(struct visor_map *m, const void *key, void *value);
int visor_value_update_locked(struct visor_map *m, const void *key, const void *value,
			      uint64_t flags, bool from_prog);

/* ---- Map-in-map references (map_in_map.c) ------------------------------- */

int visor_mim_init(struct visor_map *outer, const struct visor_map_create_opts *o, char *err,
		   size_t errlen);
/* id -> a new reference to a map matching the template (-EBADF, -EINVAL). */
int visor_mim_resolve(struct visor_map *outer, uint32_t id, struct visor_map **inner);
int visor_mim_check(struct visor_map *outer, struct visor_map *inner);
/* Drops an inner map reference after a grace period. */
void visor_mim_put_deferred(struct visor_defer_list *l, struct visor_map *inner);

/* ---- Small helpers ------------------------------------------------------ */

/* A test-and-test-and-set lock for the short critical sections of bucket
 * writers, queues and pools; yields when a holder was preempted
 * (visor_spin_t is defined above the pool, which holds one). */

static inline void visor_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void visor_spin_lock(visor_spin_t *l)
{
	unsigned n = 0;
	while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire)) {
		while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
			if (++n < 64)
				visor_cpu_relax();
			else
				sched_yield();
		}
	}
}

static inline void visor_spin_unlock(visor_spin_t *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* Key hash: 8 bytes at a time, multiply-xorshift mixing, seeded per map. */
static inline uint64_t visor_mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	return x;
}

static inline uint32_t visor_hash_key(const void *key, size_t n, uint64_t seed)
{
	const uint8_t *p = key;
	uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = visor_mix64(h ^ v) + 0x9e3779b97f4a7c15ULL;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = 0;
		memcpy(&v, p, n);
		h = visor_mix64(h ^ v ^ ((uint64_t)n << 59));
	}
	return (uint32_t)(visor_mix64(h) >> 16);
}

/* Copies 8-byte words where possible so per-CPU values move like the
 * kernel's bpf_long_memcpy (never torn within a word). */
static inline void visor_long_memcpy(void *dst, const void *src, size_t n)
{
	if (!(((uintptr_t)dst | (uintptr_t)src | n) & 7)) {
		uint64_t *d = dst;
		const uint64_t *s = src;
		for (size_t i = 0; i < n / 8; i++)
			atomic_store_explicit((_Atomic uint64_t *)&d[i],
					      atomic_load_explicit((_Atomic uint64_t *)&s[i],
								   memory_order_relaxed),
					      memory_order_relaxed);
	} else {
		memcpy(dst, src, n);
	}
}

#endif
