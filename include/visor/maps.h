/* visor — maps: the kernel's eBPF map types with the kernel's semantics
 * (Linux type numbers, update flags, negative errno results), usable from
 * user space and, through the *_from_prog / pointer-returning calls, by the
 * helpers that programs running in the VM call. See docs/MAPS.md. */
#ifndef VISOR_MAPS_H
#define VISOR_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Map types: the Linux numbering (enum bpf_map_type). */
enum visor_map_type {
	VISOR_MAP_TYPE_UNSPEC = 0,
	VISOR_MAP_TYPE_HASH = 1,
	VISOR_MAP_TYPE_ARRAY = 2,
	VISOR_MAP_TYPE_PROG_ARRAY = 3,
	VISOR_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	VISOR_MAP_TYPE_PERCPU_HASH = 5,
	VISOR_MAP_TYPE_PERCPU_ARRAY = 6,
	VISOR_MAP_TYPE_LRU_HASH = 9,
	VISOR_MAP_TYPE_LRU_PERCPU_HASH = 10,
	VISOR_MAP_TYPE_LPM_TRIE = 11,
	VISOR_MAP_TYPE_ARRAY_OF_MAPS = 12,
	VISOR_MAP_TYPE_HASH_OF_MAPS = 13,
	VISOR_MAP_TYPE_DEVMAP = 14,
	VISOR_MAP_TYPE_QUEUE = 22,
	VISOR_MAP_TYPE_STACK = 23,
	VISOR_MAP_TYPE_DEVMAP_HASH = 25,
	VISOR_MAP_TYPE_RINGBUF = 27,
};

/* Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). */
#define VISOR_ANY 0
#define VISOR_NOEXIST 1
#define VISOR_EXIST 2
#define VISOR_F_LOCK 4 /* copy under the value's bpf_spin_lock (-EINVAL without one) */

/* Creation flags (map_flags), same bits as the kernel's BPF_F_*. Which ones a
 * type accepts follows the kernel; unknown bits give -EINVAL. */
#define VISOR_F_NO_PREALLOC (1U << 0)   /* hash family: grow on demand; LPM: required */
#define VISOR_F_NO_COMMON_LRU (1U << 1) /* LRU: one LRU list per CPU */
#define VISOR_F_NUMA_NODE (1U << 2)     /* accepted, ignored */
#define VISOR_F_RDONLY (1U << 3)        /* user space may not update/delete (-EPERM) */
#define VISOR_F_WRONLY (1U << 4)        /* user space may not read (-EPERM) */
#define VISOR_F_ZERO_SEED (1U << 6)     /* hash: fixed hash seed (reproducible order) */
#define VISOR_F_RDONLY_PROG (1U << 7)   /* programs may not update/delete (-EPERM) */
#define VISOR_F_WRONLY_PROG (1U << 8)
#define VISOR_F_MMAPABLE (1U << 10)     /* array: accepted (values are always addressable) */
#define VISOR_F_INNER_MAP (1U << 12)    /* template: inner maps may differ in max_entries */

/* The kernel's internal "not supported" code, which bpf() returns to user
 * space for operations a map type lacks (e.g. delete on a ring buffer). */
#define VISOR_ENOTSUPP 524

/* Key of an LPM trie: prefix length in bits, then the address bytes
 * (struct bpf_lpm_trie_key_u8). key_size = 4 + address bytes (1..256). */
struct visor_lpm_key {
	uint32_t prefixlen;
	uint8_t data[];
};

/* Ring buffer records: an 8-byte header {u32 len, u32 pg_off} before each
 * sample, records 8-byte aligned, as the kernel's layout. */
#define VISOR_RINGBUF_BUSY_BIT (1U << 31)
#define VISOR_RINGBUF_DISCARD_BIT (1U << 30)
#define VISOR_RINGBUF_HDR_SZ 8
#define VISOR_RB_NO_WAKEUP 1    /* submit/discard/output flags */
#define VISOR_RB_FORCE_WAKEUP 2
enum visor_ringbuf_query { /* visor_ringbuf_query() */
	VISOR_RB_AVAIL_DATA = 0,
	VISOR_RB_RING_SIZE = 1,
	VISOR_RB_CONS_POS = 2,
	VISOR_RB_PROD_POS = 3,
};

#define VISOR_MAP_NAME_LEN 16   /* 15 characters [A-Za-z0-9_.] + NUL */
#define VISOR_MAP_MAX_CPUS 1024

struct visor_map;

/* How a prog array turns the u32 written by visor_map_update() into a
 * program reference, and releases references it drops (after every program
 * that could still see them has finished). All fields optional: without
 * resolve, the id alone is stored (visor_map_prog_array_get gives NULL and
 * the id). */
struct visor_map_ref_ops {
	void *(*resolve)(void *ctx, uint32_t id); /* NULL: no such program (-EBADF) */
	void (*release)(void *ctx, void *ref);
	void *ctx;
	/* May the array hold ref (resolved, or given to visor_map_update_ref)?
	 * 0, or the negative errno the update fails with: the kernel's -EINVAL
	 * for a program of another type than the array's owner. */
	int (*check)(void *ctx, void *ref);
};

/* Creation options. Zero-initialise, set .sz = sizeof(opts) (VISOR_OPTS) so
 * the struct can grow without breaking callers. */
struct visor_map_create_opts {
	size_t sz;
	uint32_t type;          /* enum visor_map_type */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;     /* VISOR_F_* */
	const char *name;       /* optional, <= 15 characters */
	/* ARRAY_OF_MAPS / HASH_OF_MAPS: a map whose type, sizes and flags every
	 * inner map must have (the kernel's inner_map_fd). Only its description
	 * is kept. */
	struct visor_map *inner_map;
	uint32_t nr_cpus;       /* per-CPU maps: 0 = visor_map_possible_cpus() */
	const struct visor_map_ref_ops *ref_ops; /* PROG_ARRAY only (copied) */
	char *errbuf;           /* optional: why creation failed */
	size_t errbuf_len;
	/* The value holds a struct bpf_spin_lock (4 bytes, 4-aligned) at
	 * spin_lock_off; hash and array maps only, as the kernel. User-space
	 * copies never carry it (lookups give zeros there, updates leave it
	 * alone) and VISOR_F_LOCK copies under it. */
	bool spin_lock;
	uint32_t spin_lock_off;
};

#ifndef VISOR_OPTS
#define VISOR_OPTS(type, name, ...) \
	struct type name = {.sz = sizeof(struct type), __VA_ARGS__}
#endif

/* ---- Lifetime ----------------------------------------------------------- */

/* Creates a map. Returns 0 and *map, or a negative errno (-EINVAL bad type,
 * sizes or flags; -E2BIG sizes beyond the kernel's limits; -ENOMEM;
 * -VISOR_ENOTSUPP where the kernel says so) with a one-line reason in
 * opts->errbuf. */
int visor_map_create(const struct visor_map_create_opts *opts, struct visor_map **map);

/* Maps are reference counted: create gives one reference, outer maps and
 * (later) loaded programs hold their own. destroy drops the caller's
 * reference; the memory goes with the last one. NULL is ignored. */
void visor_map_destroy(struct visor_map *map);
struct visor_map *visor_map_get(struct visor_map *map); /* +1 reference */
#define visor_map_put visor_map_destroy

/* Every map has a process-unique id (never reused), the value user space
 * writes into map-in-map slots and reads back from them, as map ids in the
 * kernel. get_by_id returns a new reference or NULL. */
uint32_t visor_map_id(const struct visor_map *map);
struct visor_map *visor_map_get_by_id(uint32_t id);

/* Description. value size as stored; per-CPU maps exchange
 * visor_map_user_value_size() bytes with user space (one 8-byte-rounded
 * value per CPU). */
uint32_t visor_map_type(const struct visor_map *map);
uint32_t visor_map_key_size(const struct visor_map *map);
uint32_t visor_map_value_size(const struct visor_map *map);
uint32_t visor_map_max_entries(const struct visor_map *map);
uint32_t visor_map_flags(const struct visor_map *map);
uint32_t visor_map_nr_cpus(const struct visor_map *map); /* 1 unless per-CPU */
const char *visor_map_name(const struct visor_map *map);
size_t visor_map_user_value_size(const struct visor_map *map);
const char *visor_map_type_name(uint32_t type); /* "hash", ... or NULL */

/* The message of the last failed user-space call on this map ("" if none).
 * With several threads failing at once, the message of one of them. */
const char *visor_map_errmsg(const struct visor_map *map);

/* ---- User-space element API (the bpf() commands) ------------------------ */

/* Copies the value out: value_size bytes, or nr_cpus x round_up(value_size,
 * 8) for per-CPU maps; map-in-map and prog arrays give the u32 id. Queue and
 * stack: key must be NULL, this is peek. -ENOENT when missing. */
int visor_map_lookup(struct visor_map *map, const void *key, void *value);
int visor_map_lookup_flags(struct visor_map *map, const void *key, void *value,
			   uint64_t flags);
/* flags: VISOR_ANY / VISOR_NOEXIST / VISOR_EXIST. Queue and stack: key NULL,
 * this is push (VISOR_EXIST replaces the oldest value when full). */
int visor_map_update(struct visor_map *map, const void *key, const void *value,
		     uint64_t flags);
int visor_map_delete(struct visor_map *map, const void *key);
/* key NULL (or, as the kernel, a key not in the map) gives the first key;
 * -ENOENT after the last. Order: index (arrays), bucket (hashes), postorder
 * of the trie (LPM: more specific prefixes first). */
int visor_map_get_next_key(struct visor_map *map, const void *key, void *next_key);
/* Hash family: atomically remove and return. Queue/stack: pop (key NULL). */
int visor_map_lookup_and_delete(struct visor_map *map, const void *key, void *value);
int visor_map_lookup_and_delete_flags(struct visor_map *map, const void *key,
				      void *value, uint64_t flags);

struct visor_map_batch_opts {
	size_t sz;
	uint64_t elem_flags; /* must be 0 (VISOR_F_LOCK unsupported) */
	uint64_t flags;
};
/* libbpf's bpf_map_lookup_batch(): in_batch NULL starts at the beginning;
 * out_batch receives the position to pass as in_batch next time (hashes: a
 * u32 bucket index; other maps: the last key visited, key_size bytes).
 * *count: in, room in keys/values; out, elements copied. Returns 0, or
 * -ENOENT once the end was reached (elements may still have been copied),
 * -ENOSPC when the next hash bucket holds more than *count elements. */
int visor_map_lookup_batch(struct visor_map *map, const void *in_batch, void *out_batch,
			   void *keys, void *values, uint32_t *count,
			   const struct visor_map_batch_opts *opts);

/* Calls cb for each element (arrays and the hash family) with a pointer to
 * the value of the current CPU, like bpf_for_each_map_elem(); cb returns 0 to
 * go on, 1 to stop. Returns the number of elements visited or -EINVAL. */
typedef long (*visor_map_elem_cb)(struct visor_map *map, const void *key, void *value,
				  void *ctx);
long visor_map_for_each_elem(struct visor_map *map, visor_map_elem_cb cb, void *ctx);

/* Stores a reference directly: a program (PROG_ARRAY, with its id) or an
 * inner map (map-in-map; id ignored, a reference is taken). Same flags and
 * errors as visor_map_update. */
int visor_map_update_ref(struct visor_map *map, const void *key, void *ref, uint32_t id,
			 uint64_t flags);

/* ---- CPUs, threads and the read side ------------------------------------ */

/* Number of CPUs per-CPU maps created from now on have (default: online
 * CPUs). n in 1..VISOR_MAP_MAX_CPUS, else -EINVAL. */
uint32_t visor_map_possible_cpus(void);
int visor_map_set_possible_cpus(uint32_t n);
/* The CPU slot of the calling thread (default 0): which per-CPU value and
 * which per-CPU LRU list its program operations use. Give each thread that
 * runs programs concurrently its own slot; -EINVAL if slot >= possible CPUs. */
int visor_map_set_cpu(uint32_t slot);
uint32_t visor_map_cpu(void);

/* A read-side section, RCU-like (epoch-based). Pointers obtained from maps
 * inside it (values, inner maps, prog references, ring buffer samples keep
 * their own rule) keep their memory *and identity* until the matching
 * unlock: a deleted element is not reused, an inner map not freed. The VM
 * holds one around each program run. Nestable, cheap (two stores). Outside a
 * section, pointers still point into live map memory, but a deleted element
 * may be reused for another key (the kernel's behaviour with preallocated
 * hash maps). */
void visor_map_read_lock(void);
void visor_map_read_unlock(void);
/* Waits until every read-side section that started before the call ended
 * (the calling thread's own section, if any, excepted). */
void visor_map_synchronize(void);

/* ---- In-program operations (what the helpers call) ---------------------- */

/* bpf_map_lookup_elem(): a pointer to the value in the map, for the current
 * CPU on per-CPU maps; the inner struct visor_map * for map-in-map; NULL
 * when missing or for types without lookup from programs. Lock-free. */
void *visor_map_lookup_ptr(struct visor_map *map, const void *key);
/* bpf_map_update_elem() / bpf_map_delete_elem(): per-CPU maps take one
 * value (value_size bytes) for the current CPU; new per-CPU hash elements
 * start with zeros on the other CPUs. */
int visor_map_update_from_prog(struct visor_map *map, const void *key, const void *value,
			       uint64_t flags);
int visor_map_delete_from_prog(struct visor_map *map, const void *key);
/* bpf_map_push_elem() / pop / peek on QUEUE and STACK. */
int visor_map_push(struct visor_map *map, const void *value, uint64_t flags);
int visor_map_pop(struct visor_map *map, void *value);
int visor_map_peek(struct visor_map *map, void *value);
/* Tail-call target at index: the reference stored with
 * visor_map_update_ref() or resolved from the id (NULL if empty); *id (if
 * non-NULL) receives the id. Lock-free. */
void *visor_map_prog_array_get(struct visor_map *map, uint32_t index, uint32_t *id);
/* Is [ptr, ptr + len) inside one value of this map (any CPU's for per-CPU
 * maps; inside the data area for ring buffers)? For memory checks in the VM. */
bool visor_map_value_ok(const struct visor_map *map, const void *ptr, size_t len);

/* ---- Ring buffer --------------------------------------------------------- */

/* bpf_ringbuf_reserve(): a sample of size bytes, or NULL (no room, flags !=
 * 0, size too large). Reservations are committed in any order but consumed
 * in reservation order. */
void *visor_ringbuf_reserve(struct visor_map *map, uint64_t size, uint64_t flags);
/* bpf_ringbuf_submit() / bpf_ringbuf_discard(): the ring is found from the
 * sample, as in the kernel. Returns 0, or -EINVAL when sample is not a
 * pending reservation of a visor ring buffer. */
int visor_ringbuf_submit(void *sample, uint64_t flags);
int visor_ringbuf_discard(void *sample, uint64_t flags);
/* bpf_ringbuf_output(): copy data as one record. 0, -EAGAIN (no room),
 * -EINVAL (flags). */
int visor_ringbuf_output(struct visor_map *map, const void *data, uint64_t size,
			 uint64_t flags);
/* bpf_ringbuf_query(): enum visor_ringbuf_query; unknown -> 0. */
uint64_t visor_ringbuf_query(struct visor_map *map, uint64_t flags);

/* Consumer side, libbpf's ring_buffer__consume(): calls cb for every
 * committed record in order, skipping discarded ones, until the first record
 * still being written. Returns the number of records passed to cb, or the
 * negative value cb returned (that record counts as consumed). One consumer
 * at a time (serialised internally). */
typedef int (*visor_ringbuf_sample_fn)(void *ctx, void *data, size_t size);
int visor_ringbuf_consume(struct visor_map *map, visor_ringbuf_sample_fn cb, void *ctx);
/* Waits up to timeout_ms (-1: forever) for a notification when nothing is
 * pending, then consumes. Returns records consumed, 0 on timeout. */
int visor_ringbuf_poll(struct visor_map *map, visor_ringbuf_sample_fn cb, void *ctx,
		       int timeout_ms);
/* An eventfd readable after a producer notified (for epoll loops), -EINVAL
 * if map is not a ring buffer. */
int visor_ringbuf_fd(const struct visor_map *map);

/* ---- Perf event array ---------------------------------------------------- */

/* bpf_perf_event_output() flags: the low 32 bits are the index (or
 * VISOR_F_CURRENT_CPU); XDP and skb programs put how many packet bytes to
 * append after the data in bits 32..51. */
#define VISOR_F_INDEX_MASK 0xffffffffULL
#define VISOR_F_CURRENT_CPU VISOR_F_INDEX_MASK
#define VISOR_F_CTXLEN_MASK (0xfffffULL << 32)

/* The consumer of a PERF_EVENT_ARRAY, libbpf's perf_buffer: one ring of
 * page_cnt pages (a power of two) per CPU index below min(max_entries,
 * possible CPUs), installed in the map where the kernel has a perf event
 * per CPU. sample_cb gets each sample, in order per CPU, with the kernel's
 * raw size (data zero-padded to a u64 boundary counting the u32 size
 * before it); lost_cb (optional) how many found the ring full. One perf
 * buffer per map at a time (-EBUSY); free uninstalls it. */
typedef void (*visor_perf_sample_fn)(void *ctx, int cpu, void *data, uint32_t size);
typedef void (*visor_perf_lost_fn)(void *ctx, int cpu, uint64_t cnt);
struct visor_perf_buffer_opts {
	size_t sz;
	size_t page_cnt;
	visor_perf_sample_fn sample_cb;
	visor_perf_lost_fn lost_cb;
	void *ctx;
	char *errbuf; /* optional: why creation failed */
	size_t errbuf_len;
};
struct visor_perf_buffer;
int visor_perf_buffer_new(struct visor_map *map, const struct visor_perf_buffer_opts *opts,
			  struct visor_perf_buffer **pb);
/* Delivers every pending sample (and lost count); returns how many samples. */
int visor_perf_buffer_consume(struct visor_perf_buffer *pb);
/* Waits up to timeout_ms (-1: forever) when nothing is pending, then consumes. */
int visor_perf_buffer_poll(struct visor_perf_buffer *pb, int timeout_ms);
void visor_perf_buffer_free(struct visor_perf_buffer *pb);

/* bpf_perf_event_output(): size bytes of data, then ctx_size bytes of
 * ctx_data, as one sample to the ring at the index flags name (the calling
 * thread's CPU slot for VISOR_F_CURRENT_CPU). 0, -E2BIG (index past
 * max_entries), -ENOENT (no ring installed there), -EOPNOTSUPP (the ring of
 * another CPU, as the kernel's event->oncpu check), -ENOSPC (ring full:
 * counted as lost). The helper checks the flags' other bits. */
int visor_perf_event_output(struct visor_map *map, uint64_t flags, const void *data,
			    uint64_t size, const void *ctx_data, uint64_t ctx_size);

/* ---- bpf_spin_lock ------------------------------------------------------- */

/* Map-in-map: what every inner map of outer is (type, key and value size,
 * flags; the template's description). 0, or -EINVAL if outer holds no maps. */
int visor_map_inner_desc(const struct visor_map *outer, uint32_t *type, uint32_t *key_size,
			 uint32_t *value_size, uint32_t *flags);

/* Offset of the value's struct bpf_spin_lock, -1 if it has none. */
int32_t visor_map_spin_lock_off(const struct visor_map *map);
/* Is lock exactly the spin lock field of one value of map? */
bool visor_map_spin_lock_ok(const struct visor_map *map, const void *lock);
/* bpf_spin_lock() / bpf_spin_unlock() on the 4-byte lock: test-and-set,
 * pausing while held; the same lock VISOR_F_LOCK copies take. */
void visor_map_value_lock(void *lock);
void visor_map_value_unlock(void *lock);

/* ---- Proxy maps (src/maps/proxy.c) ---------------------------------------
 * A map whose elements live elsewhere (e.g. in the kernel, behind a map fd),
 * its user-space operations supplied by a backend. visor_map_lookup,
 * _update, _delete and _get_next_key check their arguments as for any map
 * and then call ops (a NULL op: -VISOR_ENOTSUPP); the same negative errno
 * values are expected back (-ENOENT, -EEXIST, -E2BIG ...). Per-CPU values
 * use visor_map_user_value_size()'s layout, which is the kernel's (one
 * 8-byte-rounded value per CPU). Programs on visor's engine cannot use a
 * proxy map: its program-side operations report -EOPNOTSUPP. A proxy gets
 * an id like every map; VISOR_F_LOCK is refused. release
 * (may be NULL) is called with ctx when the last reference goes. */
struct visor_map_proxy_ops {
	int (*lookup)(void *ctx, const void *key, void *value);
	int (*update)(void *ctx, const void *key, const void *value, uint64_t flags);
	int (*delete_elem)(void *ctx, const void *key);
	int (*get_next_key)(void *ctx, const void *key, void *next);
	void (*release)(void *ctx);
};
/* desc gives type, key_size, value_size, max_entries, map_flags, name
 * (truncated to 15 characters), nr_cpus (per-CPU types; 0 =
 * visor_map_possible_cpus()) and errbuf; other fields are ignored. */
int visor_map_create_proxy(const struct visor_map_create_opts *desc,
			   const struct visor_map_proxy_ops *ops, void *ctx,
			   struct visor_map **out);

#ifdef __cplusplus
}
#endif

#endif
