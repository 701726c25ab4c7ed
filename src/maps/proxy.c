/* Proxy maps: a visor_map whose elements live elsewhere (a map in the
 * kernel, reached through its fd), with user-space operations supplied by
 * the backend that owns them. visor_map_lookup/update/delete/get_next_key
 * check arguments as for any map, then call the backend. Programs on
 * visor's engine cannot reach the elements: the program-side operations
 * report -EOPNOTSUPP (lookups from a program find nothing). */
#include <stdlib.h>

#include "map_internal.h"

struct proxy_map {
	struct visor_map map;
	struct visor_map_proxy_ops ops;
	void *ctx;
};

#define PROXY(m) container_of(m, struct proxy_map, map)

/* Never used: proxies are made by visor_map_create_proxy, not by type. */
static int proxy_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		       size_t errlen)
{
	return visor_errf(err, errlen, -EINVAL, "proxy maps come from visor_map_create_proxy");
}

static void proxy_free(struct visor_map *m)
{
	struct proxy_map *p = PROXY(m);
	if (p->ops.release)
		p->ops.release(p->ctx);
	free(p);
}

static int proxy_lookup(struct visor_map *m, const void *key, void *value)
{
	struct proxy_map *p = PROXY(m);
	return p->ops.lookup ? p->ops.lookup(p->ctx, key, value) : -VISOR_ENOTSUPP;
}

static int proxy_update(struct visor_map *m, const void *key, const void *value, uint64_t flags)
{
	struct proxy_map *p = PROXY(m);
	return p->ops.update ? p->ops.update(p->ctx, key, value, flags) : -VISOR_ENOTSUPP;
}

static int proxy_delete(struct visor_map *m, const void *key)
{
	struct proxy_map *p = PROXY(m);
	return p->ops.delete_elem ? p->ops.delete_elem(p->ctx, key) : -VISOR_ENOTSUPP;
}

static int proxy_next(struct visor_map *m, const void *key, void *next)
{
	struct proxy_map *p = PROXY(m);
	return p->ops.get_next_key ? p->ops.get_next_key(p->ctx, key, next) : -VISOR_ENOTSUPP;
}

/* Program-side operations: the elements are not in this process. */
static int proxy_update_prog(struct visor_map *m, const void *key, const void *value,
			     uint64_t flags)
{
	return -EOPNOTSUPP;
}

static int proxy_push(struct visor_map *m, const void *value, uint64_t flags)
{
	return -EOPNOTSUPP;
}

static int proxy_pop(struct visor_map *m, void *value, bool remove)
{
	return -EOPNOTSUPP;
}

static const struct visor_map_ops proxy_ops = {
	.alloc = proxy_alloc,
	.free = proxy_free,
	.lookup_sys = proxy_lookup,
	.update_sys = proxy_update,
	.delete_elem = proxy_delete,
	.get_next_key = proxy_next,
	.update_prog = proxy_update_prog,
	.push = proxy_push,
	.pop = proxy_pop,
};

int visor_map_create_proxy(const struct visor_map_create_opts *desc,
			   const struct visor_map_proxy_ops *ops, void *ctx,
			   struct visor_map **out)
{
	if (out)
		*out = NULL;
	if (!desc || !ops || !out)
		return -EINVAL;
	char *eb = desc->errbuf;
	size_t el = desc->errbuf_len;
	if (!visor_map_type_name(desc->type))
		return visor_errf(eb, el, -EINVAL, "proxy map: unknown map type %u",
				      desc->type);
	if (desc->nr_cpus > VISOR_MAP_MAX_CPUS)
		return visor_errf(eb, el, -EINVAL, "proxy map: nr_cpus %u is above %d",
				      desc->nr_cpus, VISOR_MAP_MAX_CPUS);
	struct proxy_map *p = calloc(1, sizeof(*p));
	if (!p)
		return visor_errf(eb, el, -ENOMEM, "proxy map: out of memory");
	p->ops = *ops;
	p->ctx = ctx;
	/* Per-CPU values cross in the kernel's layout (one value per CPU,
	 * rounded up to 8 bytes), which is visor_map_user_value_size()'s. */
	p->map.nr_cpus = map_is_percpu(desc->type)
				 ? (desc->nr_cpus ? desc->nr_cpus : visor_map_possible_cpus())
				 : 1;
	visor_map_init_common(&p->map, desc, &proxy_ops);
	p->map.spin_lock_off = -1; /* VISOR_F_LOCK is refused: the lock is not ours to take */
	visor_map_register(&p->map); /* an id, as every map */
	*out = &p->map;
	if (eb && el)
		eb[0] = 0;
	return 0;
}
