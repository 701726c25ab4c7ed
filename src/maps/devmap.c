/* Device maps, the targets of bpf_redirect_map: DEVMAP (an array of network
 * devices indexed by a u32) and DEVMAP_HASH (the same keyed by any u32),
 * with the kernel's rules (kernel/bpf/devmap.c). A value is the device's
 * ifindex (4 bytes) or struct bpf_devmap_val {u32 ifindex; u32 prog} (8
 * bytes; the program reads back as id 0). Updates need a device that
 * exists in this network namespace (-EINVAL otherwise, as the kernel);
 * visor runs no devmap programs, so a program fd > 0 is -EINVAL too.
 * Programs may only read values (the kernel sets BPF_F_RDONLY_PROG). */
#include <net/if.h>
#include <stdlib.h>

#include "map_internal.h"

struct devmap_val {
	_Atomic uint32_t ifindex; /* 0: no device in this slot */
	uint32_t prog_id;         /* always 0: no devmap programs */
};

/* ---- creation and values shared by both types ---------------------------- */

static int devmap_check(const struct visor_map_create_opts *o, char *err, size_t errlen)
{
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (o->key_size != 4)
		return visor_errf(err, errlen, -EINVAL, "key_size %u, must be 4", o->key_size);
	if (o->value_size != 4 && o->value_size != 8)
		return visor_errf(err, errlen, -EINVAL,
				      "value_size %u, must be 4 (ifindex) or 8 (struct bpf_devmap_val)",
				      o->value_size);
	if (o->type == VISOR_MAP_TYPE_DEVMAP_HASH && o->max_entries > 1U << 31)
		return visor_errf(err, errlen, -EINVAL, "max_entries %u is above 2^31",
				      o->max_entries);
	return 0;
}

/* The value user space wrote, checked as __dev_map_alloc_node checks it. */
static int devmap_parse(const struct visor_map *m, const void *value, uint32_t *ifindex)
{
	struct {
		uint32_t ifindex;
		int32_t prog_fd;
	} v = {0};
	memcpy(&v, value, m->value_size);
	*ifindex = v.ifindex;
	if (!v.ifindex) {
		if (v.prog_fd > 0) {
			visor_map_detail = "a program fd needs an ifindex";
			return -EINVAL;
		}
		return 0;
	}
	char name[IF_NAMESIZE];
	if (!if_indextoname(v.ifindex, name)) {
		visor_map_detail = "no network device has that ifindex";
		return -EINVAL;
	}
	if (v.prog_fd > 0) {
		visor_map_detail = "devmap programs are not supported by visor";
		return -EINVAL;
	}
	return 0;
}

static void devmap_copy_out(const struct visor_map *m, const struct devmap_val *v, void *value)
{
	struct {
		uint32_t ifindex, prog_id;
	} out = {atomic_load(&v->ifindex), v->prog_id};
	memcpy(value, &out, m->value_size);
}

static void devmap_set_rdonly_prog(struct visor_map *m)
{
	/* Lookups return the value itself: programs must not write it. */
	m->map_flags |= VISOR_F_RDONLY_PROG;
}

/* ---- DEVMAP: an array of slots ------------------------------------------- */

struct devmap {
	struct visor_map map;
	struct devmap_val *slots;
};

#define DEV(m) container_of(m, struct devmap, map)

static int devmap_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
			size_t errlen)
{
	int e = devmap_check(o, err, errlen);
	if (e)
		return e;
	struct devmap *d = calloc(1, sizeof(*d));
	if (!d || !(d->slots = calloc(o->max_entries, sizeof(*d->slots)))) {
		free(d);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %u slots",
				      o->max_entries);
	}
	visor_map_init_common(&d->map, o, &visor_devmap_ops);
	devmap_set_rdonly_prog(&d->map);
	*out = &d->map;
	return 0;
}

static void devmap_free(struct visor_map *m)
{
	free(DEV(m)->slots);
	free(DEV(m));
}

static void *devmap_lookup_ptr(struct visor_map *m, const void *key)
{
	uint32_t i = *(const uint32_t *)key;
	if (i >= m->max_entries || !atomic_load(&DEV(m)->slots[i].ifindex))
		return NULL;
	return &DEV(m)->slots[i];
}

static int devmap_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct devmap_val *v = devmap_lookup_ptr(m, key);
	if (!v)
		return -ENOENT;
	devmap_copy_out(m, v, value);
	return 0;
}

static int devmap_update_sys(struct visor_map *m, const void *key, const void *value,
			     uint64_t flags)
{
	uint32_t i = *(const uint32_t *)key, ifindex;
	if (flags > VISOR_EXIST)
		return -EINVAL;
	if (i >= m->max_entries) {
		visor_map_detail = "index out of range";
		return -E2BIG;
	}
	if (flags == VISOR_NOEXIST)
		return -EEXIST; /* every slot exists, as in an array */
	int err = devmap_parse(m, value, &ifindex);
	if (err)
		return err;
	/* ifindex 0 empties the slot. */
	atomic_store(&DEV(m)->slots[i].ifindex, ifindex);
	return 0;
}

static int devmap_delete(struct visor_map *m, const void *key)
{
	uint32_t i = *(const uint32_t *)key;
	if (i >= m->max_entries) {
		visor_map_detail = "index out of range";
		return -EINVAL;
	}
	atomic_store(&DEV(m)->slots[i].ifindex, 0); /* empty or not: 0, as the kernel */
	return 0;
}

static bool devmap_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	const struct devmap *d = container_of(m, struct devmap, map);
	uintptr_t p = (uintptr_t)ptr, base = (uintptr_t)d->slots;
	if (p < base || p >= base + (size_t)m->max_entries * sizeof(*d->slots))
		return false;
	return (p - base) % sizeof(*d->slots) + len <= m->value_size;
}

/* Every index, empty or not (dev_map_get_next_key): the array order. */
const struct visor_map_ops visor_devmap_ops = {
	.alloc = devmap_alloc,
	.free = devmap_free,
	.lookup_sys = devmap_lookup_sys,
	.update_sys = devmap_update_sys,
	.delete_elem = devmap_delete,
	.get_next_key = visor_array_get_next_key,
	.lookup_ptr = devmap_lookup_ptr,
	.value_ok = devmap_value_ok,
	.batch_unsupported = true,
};

/* ---- DEVMAP_HASH: buckets of u32 keys -------------------------------------- */

/* The kernel's layout, so iteration order is the kernel's: a power of two
 * of buckets, key & (n - 1), newest element first in its bucket. Readers
 * walk the chains without a lock; removed elements are retired to the pool
 * (reused after a grace period). */
struct devhash_elem {
	_Atomic(struct devhash_elem *) next;
	uint32_t key;
	struct devmap_val val;
};

struct devhash {
	struct visor_map map;
	pthread_mutex_t lock; /* writers */
	uint32_t n_buckets, items;
	_Atomic(struct devhash_elem *) *buckets;
	struct visor_pool pool;
};

#define DH(m) container_of(m, struct devhash, map)

static int devhash_alloc(const struct visor_map_create_opts *o, struct visor_map **out,
			 char *err, size_t errlen)
{
	int e = devmap_check(o, err, errlen);
	if (e)
		return e;
	uint32_t n = 1;
	while (n < o->max_entries)
		n <<= 1;
	struct devhash *h = calloc(1, sizeof(*h));
	if (!h || !(h->buckets = calloc(n, sizeof(*h->buckets))) ||
	    visor_pool_init(&h->pool, sizeof(struct devhash_elem), 0,
			    o->max_entries < 64 ? 64 : o->max_entries, 0, 1, NULL)) {
		if (h)
			free(h->buckets);
		free(h);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %u buckets", n);
	}
	h->pool.value_off = offsetof(struct devhash_elem, val);
	h->pool.value_len = o->value_size;
	h->n_buckets = n;
	pthread_mutex_init(&h->lock, NULL);
	visor_map_init_common(&h->map, o, &visor_devmap_hash_ops);
	devmap_set_rdonly_prog(&h->map);
	*out = &h->map;
	return 0;
}

static void devhash_free(struct visor_map *m)
{
	struct devhash *h = DH(m);
	visor_pool_destroy(&h->pool);
	pthread_mutex_destroy(&h->lock);
	free(h->buckets);
	free(h);
}

static _Atomic(struct devhash_elem *) *bucket(struct devhash *h, uint32_t key)
{
	return &h->buckets[key & (h->n_buckets - 1)];
}

static struct devhash_elem *devhash_find(struct devhash *h, uint32_t key)
{
	for (struct devhash_elem *e = atomic_load(bucket(h, key)); e; e = atomic_load(&e->next))
		if (e->key == key)
			return e;
	return NULL;
}

static void *devhash_lookup_ptr(struct visor_map *m, const void *key)
{
	struct devhash_elem *e = devhash_find(DH(m), *(const uint32_t *)key);
	return e ? &e->val : NULL;
}

static int devhash_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct devhash_elem *e = devhash_find(DH(m), *(const uint32_t *)key);
	if (!e)
		return -ENOENT;
	devmap_copy_out(m, &e->val, value);
	return 0;
}

/* Unlinks e from its bucket; the caller holds the lock. */
static void devhash_unlink(struct devhash *h, struct devhash_elem *e)
{
	_Atomic(struct devhash_elem *) *pp = bucket(h, e->key);
	while (atomic_load(pp) != e)
		pp = &atomic_load(pp)->next;
	atomic_store(pp, atomic_load(&e->next));
}

/* __dev_map_hash_update_elem: ifindex 0 is -EINVAL; BPF_EXIST does not
 * require the key (the kernel does not check it); a replaced element's
 * successor goes to the head of the bucket. */
static int devhash_update_sys(struct visor_map *m, const void *key, const void *value,
			      uint64_t flags)
{
	struct devhash *h = DH(m);
	uint32_t k = *(const uint32_t *)key, ifindex;
	if (flags > VISOR_EXIST)
		return -EINVAL;
	uint32_t raw_ifindex;
	memcpy(&raw_ifindex, value, 4);
	if (!raw_ifindex) {
		visor_map_detail = "ifindex 0 (a devmap_hash entry needs a device)";
		return -EINVAL;
	}
	pthread_mutex_lock(&h->lock);
	struct devhash_elem *old = devhash_find(h, k);
	int err = 0;
	if (old && flags == VISOR_NOEXIST)
		err = -EEXIST;
	else
		err = devmap_parse(m, value, &ifindex);
	if (!err && !old && h->items >= m->max_entries)
		err = -E2BIG;
	struct devhash_elem *e = err ? NULL : visor_pool_alloc(&h->pool);
	if (!err && !e)
		err = -ENOMEM;
	if (err) {
		pthread_mutex_unlock(&h->lock);
		return err;
	}
	e->key = k;
	atomic_store(&e->val.ifindex, ifindex);
	e->val.prog_id = 0;
	if (old)
		devhash_unlink(h, old);
	else
		h->items++;
	atomic_store(&e->next, atomic_load(bucket(h, k)));
	atomic_store(bucket(h, k), e);
	pthread_mutex_unlock(&h->lock);
	if (old)
		visor_pool_retire(&h->pool, old);
	return 0;
}

static int devhash_delete(struct visor_map *m, const void *key)
{
	struct devhash *h = DH(m);
	pthread_mutex_lock(&h->lock);
	struct devhash_elem *e = devhash_find(h, *(const uint32_t *)key);
	if (e) {
		devhash_unlink(h, e);
		h->items--;
	}
	pthread_mutex_unlock(&h->lock);
	if (!e)
		return -ENOENT;
	visor_pool_retire(&h->pool, e);
	return 0;
}

/* dev_map_hash_get_next_key: the next element of the key's chain, else the
 * first of the following buckets; a missing key starts over. */
static int devhash_get_next_key(struct visor_map *m, const void *key, void *next)
{
	struct devhash *h = DH(m);
	uint32_t i = 0;
	if (key) {
		uint32_t k = *(const uint32_t *)key;
		struct devhash_elem *e = devhash_find(h, k);
		if (e) {
			struct devhash_elem *n = atomic_load(&e->next);
			if (n) {
				*(uint32_t *)next = n->key;
				return 0;
			}
			i = (k & (h->n_buckets - 1)) + 1;
		}
	}
	for (; i < h->n_buckets; i++) {
		struct devhash_elem *e = atomic_load(&h->buckets[i]);
		if (e) {
			*(uint32_t *)next = e->key;
			return 0;
		}
	}
	return -ENOENT;
}

static bool devhash_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	return visor_pool_contains(&container_of(m, struct devhash, map)->pool, ptr, len);
}

const struct visor_map_ops visor_devmap_hash_ops = {
	.alloc = devhash_alloc,
	.free = devhash_free,
	.lookup_sys = devhash_lookup_sys,
	.update_sys = devhash_update_sys,
	.delete_elem = devhash_delete,
	.get_next_key = devhash_get_next_key,
	.lookup_ptr = devhash_lookup_ptr,
	.value_ok = devhash_value_ok,
	.batch_unsupported = true,
};
