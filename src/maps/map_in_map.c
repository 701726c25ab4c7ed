/* Map-in-map: the inner map template and the references outer maps hold.
 *
 * As in the kernel, only a description of the template is kept; an inner map
 * must match its type, key and value sizes and flags (and max_entries for
 * plain arrays unless the template has VISOR_F_INNER_MAP). An outer map holds a
 * reference on each inner map; one that is replaced or deleted is released
 * after a grace period, so a program that looked it up keeps using it. */
#include <stdlib.h>

#include "map_internal.h"

int visor_mim_init(struct visor_map *outer, const struct visor_map_create_opts *o, char *err,
		   size_t errlen)
{
	const struct visor_map *t = o->inner_map;
	if (!t)
		return visor_errf(err, errlen, -EINVAL,
				      "an inner map template (inner_map) is required");
	if (t->type == VISOR_MAP_TYPE_ARRAY_OF_MAPS || t->type == VISOR_MAP_TYPE_HASH_OF_MAPS)
		return visor_errf(err, errlen, -EINVAL,
				      "inner map template is itself a map-in-map (one level only)");
	if (t->type == VISOR_MAP_TYPE_PROG_ARRAY)
		return visor_errf(err, errlen, -VISOR_ENOTSUPP,
				      "a prog array cannot be an inner map");
	outer->inner.type = t->type;
	outer->inner.key_size = t->key_size;
	outer->inner.value_size = t->value_size;
	outer->inner.max_entries = t->max_entries;
	outer->inner.map_flags = t->map_flags;
	outer->inner.set = true;
	outer->inner.nr_cpus = t->nr_cpus;
	return 0;
}

int visor_mim_check(struct visor_map *outer, struct visor_map *inner)
{
	/* Only plain arrays compare max_entries (the kernel's array_map_meta_equal). */
	bool arr = inner->type == VISOR_MAP_TYPE_ARRAY;
	/* User-space access flags belong to the kernel's file descriptors, not
	 * to the map (bpf_map_flags_retain_permanent): they do not count. */
	uint32_t fd_flags = VISOR_F_RDONLY | VISOR_F_WRONLY;
	if (inner->type != outer->inner.type || inner->key_size != outer->inner.key_size ||
	    inner->value_size != outer->inner.value_size ||
	    (inner->map_flags & ~fd_flags) != (outer->inner.map_flags & ~fd_flags)) {
		visor_map_detail = "inner map type, sizes or flags differ from the template";
		return -EINVAL;
	}
	if (arr && !(outer->inner.map_flags & VISOR_F_INNER_MAP) &&
	    inner->max_entries != outer->inner.max_entries) {
		visor_map_detail = "inner array max_entries differs from the template "
				   "(create both with VISOR_F_INNER_MAP to allow it)";
		return -EINVAL;
	}
	if (map_is_percpu(inner->type) && inner->nr_cpus != outer->inner.nr_cpus) {
		visor_map_detail = "inner map nr_cpus differs from the template";
		return -EINVAL;
	}
	return 0;
}

int visor_mim_resolve(struct visor_map *outer, uint32_t id, struct visor_map **inner)
{
	struct visor_map *m = visor_map_get_by_id(id);
	if (!m) {
		visor_map_detail = "no map with this id";
		return -EBADF;
	}
	int err = visor_mim_check(outer, m);
	if (err) {
		visor_map_put(m);
		return err;
	}
	*inner = m;
	return 0;
}

struct mim_put {
	struct visor_defer d;
	struct visor_map *inner;
};

static void mim_put_fn(struct visor_defer *d)
{
	struct mim_put *p = container_of(d, struct mim_put, d);
	visor_map_put(p->inner);
	free(p);
}

void visor_mim_put_deferred(struct visor_defer_list *l, struct visor_map *inner)
{
	struct mim_put *p = malloc(sizeof(*p));
	if (!p) {
		visor_map_synchronize();
		visor_map_put(inner);
		return;
	}
	p->inner = inner;
	visor_defer_add(l, &p->d, mim_put_fn);
}

int visor_map_inner_desc(const struct visor_map *outer, uint32_t *type, uint32_t *key_size,
			 uint32_t *value_size, uint32_t *flags)
{
	if (!outer || !outer->inner.set)
		return -EINVAL;
	*type = outer->inner.type;
	*key_size = outer->inner.key_size;
	*value_size = outer->inner.value_size;
	*flags = outer->inner.map_flags;
	return 0;
}
