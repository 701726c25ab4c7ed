/* Arrays of references: the prog array (tail-call targets) and the array of
 * maps. User space writes a u32 (a program id, an inner map id: the kernel
 * takes a file descriptor) and reads the id back; programs get the reference
 * itself. Slots are atomic pointers, so lookups are one load; a replaced
 * reference is released after a grace period. Kernel rules: only VISOR_ANY,
 * out-of-range index -E2BIG on update and delete, empty slot -ENOENT. */
#include <stdlib.h>

#include "map_internal.h"

struct prog_ent {
	struct visor_defer d;
	struct fd_array *owner;
	void *ref;
	uint32_t id;
};

struct fd_array {
	struct visor_map map;
	struct visor_defer_list defer;
	struct visor_map_ref_ops ref_ops;
	bool progs;
	_Atomic(void *) *slots; /* struct prog_ent * or struct visor_map * */
};

#define FDA(m) container_of(m, struct fd_array, map)

static int fd_array_alloc(const struct visor_map_create_opts *o, struct visor_map **out,
			  char *err, size_t errlen)
{
	bool progs = o->type == VISOR_MAP_TYPE_PROG_ARRAY;
	if (o->value_size != 4)
		return visor_errf(err, errlen, -EINVAL, "value_size %u, must be 4 (an id)",
				      o->value_size);
	if (o->key_size != 4)
		return visor_errf(err, errlen, -EINVAL, "key_size %u, must be 4", o->key_size);
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	struct fd_array *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	int e = progs ? 0 : visor_mim_init(&a->map, o, err, errlen);
	if (!e) {
		a->slots = calloc(o->max_entries, sizeof(*a->slots));
		if (!a->slots)
			e = visor_errf(err, errlen, -ENOMEM, "cannot allocate %u slots",
					   o->max_entries);
	}
	if (e) {
		free(a);
		return e;
	}
	a->progs = progs;
	if (progs && o->ref_ops)
		a->ref_ops = *o->ref_ops;
	visor_defer_init(&a->defer);
	visor_map_init_common(&a->map, o, progs ? &visor_prog_array_ops : &visor_array_of_maps_ops);
	*out = &a->map;
	return 0;
}

static void prog_ent_free(struct visor_defer *d)
{
	struct prog_ent *p = container_of(d, struct prog_ent, d);
	struct fd_array *a = p->owner;
	if (p->ref && a->ref_ops.release)
		a->ref_ops.release(a->ref_ops.ctx, p->ref);
	free(p);
}

static void release_old(struct fd_array *a, void *old)
{
	if (!old)
		return;
	if (a->progs) {
		struct prog_ent *p = old;
		visor_defer_add(&a->defer, &p->d, prog_ent_free);
	} else {
		visor_mim_put_deferred(&a->defer, old);
	}
}

static void fd_array_free(struct visor_map *m)
{
	struct fd_array *a = FDA(m);
	visor_defer_flush(&a->defer);
	for (uint32_t i = 0; i < m->max_entries; i++) {
		void *p = atomic_load(&a->slots[i]);
		if (!p)
			continue;
		if (a->progs)
			prog_ent_free(&((struct prog_ent *)p)->d);
		else
			visor_map_put(p);
	}
	free(a->slots);
	pthread_mutex_destroy(&a->defer.lock);
	free(a);
}

static int fd_array_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct fd_array *a = FDA(m);
	uint32_t idx = *(const uint32_t *)key;
	if (idx >= m->max_entries)
		return -ENOENT;
	void *p = atomic_load_explicit(&a->slots[idx], memory_order_acquire);
	if (!p)
		return -ENOENT;
	uint32_t id = a->progs ? ((struct prog_ent *)p)->id : ((struct visor_map *)p)->id;
	memcpy(value, &id, 4);
	return 0;
}

/* Stores ref (already resolved and, for maps, referenced) at key. */
static int store(struct fd_array *a, uint32_t idx, void *ref, uint32_t id)
{
	void *slot = ref;
	if (a->progs) {
		struct prog_ent *p = malloc(sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->owner = a;
		p->ref = ref;
		p->id = id;
		slot = p;
	}
	void *old = atomic_exchange_explicit(&a->slots[idx], slot, memory_order_acq_rel);
	release_old(a, old);
	return 0;
}

static int check_update(struct visor_map *m, uint32_t idx, uint64_t flags)
{
	if (flags != VISOR_ANY) {
		visor_map_detail = "only VISOR_ANY is allowed on prog arrays and arrays of maps";
		return -EINVAL;
	}
	return idx >= m->max_entries ? -E2BIG : 0;
}

static int fd_array_update_sys(struct visor_map *m, const void *key, const void *value,
			       uint64_t flags)
{
	struct fd_array *a = FDA(m);
	uint32_t idx = *(const uint32_t *)key, id;
	int err = check_update(m, idx, flags);
	if (err)
		return err;
	memcpy(&id, value, 4);
	if (a->progs) {
		void *ref = NULL;
		if (a->ref_ops.resolve && !(ref = a->ref_ops.resolve(a->ref_ops.ctx, id))) {
			visor_map_detail = "no program with this id";
			return -EBADF;
		}
		if (a->ref_ops.check && (err = a->ref_ops.check(a->ref_ops.ctx, ref)))
			visor_map_detail = "the program does not fit this prog array (another type)";
		else
			err = store(a, idx, ref, id);
		if (err && ref && a->ref_ops.release)
			a->ref_ops.release(a->ref_ops.ctx, ref);
		return err;
	}
	struct visor_map *inner;
	if ((err = visor_mim_resolve(m, id, &inner)))
		return err;
	if ((err = store(a, idx, inner, 0)))
		visor_map_put(inner);
	return err;
}

static int fd_array_update_ref(struct visor_map *m, const void *key, void *ref, uint32_t id,
			       uint64_t flags)
{
	struct fd_array *a = FDA(m);
	uint32_t idx = *(const uint32_t *)key;
	int err = check_update(m, idx, flags);
	if (err)
		return err;
	if (a->progs) {
		if (a->ref_ops.check && (err = a->ref_ops.check(a->ref_ops.ctx, ref))) {
			visor_map_detail = "the program does not fit this prog array (another type)";
			return err;
		}
		return store(a, idx, ref, id);
	}
	if ((err = visor_mim_check(m, ref)))
		return err;
	visor_map_get(ref);
	if ((err = store(a, idx, ref, 0)))
		visor_map_put(ref);
	return err;
}

static int fd_array_delete(struct visor_map *m, const void *key)
{
	struct fd_array *a = FDA(m);
	uint32_t idx = *(const uint32_t *)key;
	if (idx >= m->max_entries)
		return -E2BIG;
	void *old = atomic_exchange_explicit(&a->slots[idx], NULL, memory_order_acq_rel);
	if (!old)
		return -ENOENT;
	release_old(a, old);
	return 0;
}

static void *aom_lookup_ptr(struct visor_map *m, const void *key)
{
	uint32_t idx = *(const uint32_t *)key;
	if (idx >= m->max_entries)
		return NULL;
	return atomic_load_explicit(&FDA(m)->slots[idx], memory_order_acquire);
}

static void *prog_get(struct visor_map *m, uint32_t idx, uint32_t *id)
{
	struct prog_ent *p = NULL;
	if (idx < m->max_entries)
		p = atomic_load_explicit(&FDA(m)->slots[idx], memory_order_acquire);
	if (id)
		*id = p ? p->id : 0;
	return p ? p->ref : NULL;
}

static bool aom_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	return false; /* programs get inner maps, never memory to read */
}

const struct visor_map_ops visor_prog_array_ops = {
	.alloc = fd_array_alloc,
	.free = fd_array_free,
	.lookup_sys = fd_array_lookup_sys,
	.update_sys = fd_array_update_sys,
	.delete_elem = fd_array_delete,
	.get_next_key = visor_array_get_next_key,
	.update_ref = fd_array_update_ref,
	.prog_get = prog_get,
	.batch_unsupported = true,
};

const struct visor_map_ops visor_array_of_maps_ops = {
	.alloc = fd_array_alloc,
	.free = fd_array_free,
	.lookup_sys = fd_array_lookup_sys,
	.update_sys = fd_array_update_sys,
	.delete_elem = fd_array_delete,
	.get_next_key = visor_array_get_next_key,
	.lookup_ptr = aom_lookup_ptr,
	.update_ref = fd_array_update_ref,
	.value_ok = aom_value_ok,
};
