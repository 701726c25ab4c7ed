/* The common map layer: creation checks shared by all types, reference
 * counting and the id registry, the user-space API with the kernel's
 * argument checks (in the kernel's order) and error messages, the generic
 * batch lookup, and the entry points the helpers call. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "map_internal.h"

/* A more precise reason for the current failure, set by the types. */
__thread const char *visor_map_detail;

/* ---- Types and the flags each accepts (as the kernel, see docs) --------- */

#define F_ACCESS (VISOR_F_RDONLY | VISOR_F_WRONLY | VISOR_F_RDONLY_PROG | VISOR_F_WRONLY_PROG)
#define F_HASH (VISOR_F_NO_PREALLOC | VISOR_F_NUMA_NODE | F_ACCESS | VISOR_F_ZERO_SEED)

static const struct map_type {
	uint32_t type;
	const char *name;
	const struct visor_map_ops *ops;
	uint32_t flags;
} map_types[] = {
	{VISOR_MAP_TYPE_HASH, "hash", &visor_hash_ops, F_HASH},
	{VISOR_MAP_TYPE_ARRAY, "array", &visor_array_ops,
	 VISOR_F_NUMA_NODE | F_ACCESS | VISOR_F_MMAPABLE | VISOR_F_INNER_MAP},
	{VISOR_MAP_TYPE_PROG_ARRAY, "prog_array", &visor_prog_array_ops,
	 VISOR_F_NUMA_NODE | VISOR_F_RDONLY | VISOR_F_WRONLY},
	{VISOR_MAP_TYPE_PERF_EVENT_ARRAY, "perf_event_array", &visor_perf_event_array_ops,
	 VISOR_F_NUMA_NODE | VISOR_F_RDONLY | VISOR_F_WRONLY},
	{VISOR_MAP_TYPE_PERCPU_HASH, "percpu_hash", &visor_percpu_hash_ops,
	 F_HASH & ~VISOR_F_NUMA_NODE},
	{VISOR_MAP_TYPE_PERCPU_ARRAY, "percpu_array", &visor_array_ops, F_ACCESS},
	{VISOR_MAP_TYPE_LRU_HASH, "lru_hash", &visor_lru_hash_ops, F_HASH | VISOR_F_NO_COMMON_LRU},
	{VISOR_MAP_TYPE_LRU_PERCPU_HASH, "lru_percpu_hash", &visor_lru_percpu_hash_ops,
	 (F_HASH | VISOR_F_NO_COMMON_LRU) & ~VISOR_F_NUMA_NODE},
	{VISOR_MAP_TYPE_LPM_TRIE, "lpm_trie", &visor_lpm_ops,
	 VISOR_F_NO_PREALLOC | VISOR_F_NUMA_NODE | F_ACCESS},
	{VISOR_MAP_TYPE_ARRAY_OF_MAPS, "array_of_maps", &visor_array_of_maps_ops,
	 VISOR_F_NUMA_NODE | VISOR_F_RDONLY | VISOR_F_WRONLY},
	{VISOR_MAP_TYPE_HASH_OF_MAPS, "hash_of_maps", &visor_hash_of_maps_ops, F_HASH},
	{VISOR_MAP_TYPE_QUEUE, "queue", &visor_queue_ops, VISOR_F_NUMA_NODE | F_ACCESS},
	{VISOR_MAP_TYPE_STACK, "stack", &visor_stack_ops, VISOR_F_NUMA_NODE | F_ACCESS},
	{VISOR_MAP_TYPE_RINGBUF, "ringbuf", &visor_ringbuf_ops, VISOR_F_NUMA_NODE},
	{VISOR_MAP_TYPE_DEVMAP, "devmap", &visor_devmap_ops,
	 VISOR_F_NUMA_NODE | VISOR_F_RDONLY | VISOR_F_WRONLY},
	{VISOR_MAP_TYPE_DEVMAP_HASH, "devmap_hash", &visor_devmap_hash_ops,
	 VISOR_F_NUMA_NODE | VISOR_F_RDONLY | VISOR_F_WRONLY},
};

static const struct map_type *find_type(uint32_t type)
{
	for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (map_types[i].type == type)
			return &map_types[i];
	return NULL;
}

/* Linux map types visor's engine does not implement: named all the same,
 * because kernel maps of these types are reached through proxies
 * (src/maps/proxy.c) and printed by name. */
static const char *const kernel_only_types[] = {
	[7] = "stack_trace",     [8] = "cgroup_array",   [15] = "sockmap",
	[16] = "cpumap",         [17] = "xskmap",        [18] = "sockhash",
	[19] = "cgroup_storage", [20] = "reuseport_sockarray",
	[21] = "percpu_cgroup_storage", [24] = "sk_storage", [26] = "struct_ops",
	[28] = "inode_storage",  [29] = "task_storage",  [30] = "bloom_filter",
	[31] = "user_ringbuf",   [32] = "cgrp_storage",  [33] = "arena",
};

const char *visor_map_type_name(uint32_t type)
{
	const struct map_type *t = find_type(type);
	if (t)
		return t->name;
	if (type < sizeof(kernel_only_types) / sizeof(kernel_only_types[0]))
		return kernel_only_types[type];
	return NULL;
}


int visor_map_fail(struct visor_map *map, int err, const char *fmt, ...)
{
	pthread_mutex_lock(&map->err_lock);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(map->errmsg, sizeof(map->errmsg), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&map->err_lock);
	return err;
}

const char *visor_map_errmsg(const struct visor_map *map)
{
	return map ? map->errmsg : "no map";
}

/* ---- Registry and references -------------------------------------------- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct visor_map *reg_head;
static _Atomic uint32_t next_id = 1;

void visor_map_register(struct visor_map *m)
{
	pthread_mutex_lock(&reg_lock);
	m->id = atomic_fetch_add(&next_id, 1);
	m->reg_prev = NULL;
	m->reg_next = reg_head;
	if (reg_head)
		reg_head->reg_prev = m;
	reg_head = m;
	pthread_mutex_unlock(&reg_lock);
}

static void reg_del(struct visor_map *m)
{
	pthread_mutex_lock(&reg_lock);
	if (m->reg_prev)
		m->reg_prev->reg_next = m->reg_next;
	else
		reg_head = m->reg_next;
	if (m->reg_next)
		m->reg_next->reg_prev = m->reg_prev;
	pthread_mutex_unlock(&reg_lock);
}

struct visor_map *visor_map_get_by_id(uint32_t id)
{
	struct visor_map *found = NULL;
	pthread_mutex_lock(&reg_lock);
	for (struct visor_map *m = reg_head; m; m = m->reg_next) {
		if (m->id != id)
			continue;
		long c = atomic_load(&m->refcnt);
		while (c > 0 && !atomic_compare_exchange_weak(&m->refcnt, &c, c + 1))
			;
		if (c > 0)
			found = m;
		break;
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

struct visor_map *visor_map_get(struct visor_map *map)
{
	if (map)
		atomic_fetch_add(&map->refcnt, 1);
	return map;
}

void visor_map_destroy(struct visor_map *map)
{
	if (!map || atomic_fetch_sub(&map->refcnt, 1) != 1)
		return;
	reg_del(map);
	/* Lock-free readers that found the map through an outer map are gone
	 * after a grace period (the outer's reference was dropped after one). */
	visor_map_synchronize();
	pthread_mutex_destroy(&map->err_lock);
	map->ops->free(map);
}

uint32_t visor_map_id(const struct visor_map *map) { return map ? map->id : 0; }
uint32_t visor_map_type(const struct visor_map *map) { return map->type; }
uint32_t visor_map_key_size(const struct visor_map *map) { return map->key_size; }
uint32_t visor_map_value_size(const struct visor_map *map) { return map->value_size; }
uint32_t visor_map_max_entries(const struct visor_map *map) { return map->max_entries; }
uint32_t visor_map_flags(const struct visor_map *map) { return map->map_flags; }
uint32_t visor_map_nr_cpus(const struct visor_map *map) { return map->nr_cpus; }
const char *visor_map_name(const struct visor_map *map) { return map->name; }

size_t visor_map_user_value_size(const struct visor_map *map)
{
	if (map_is_percpu(map->type))
		return ROUND8(map->value_size) * map->nr_cpus;
	return map->value_size;
}

/* ---- Creation ----------------------------------------------------------- */

void visor_map_init_common(struct visor_map *map, const struct visor_map_create_opts *o,
			   const struct visor_map_ops *ops)
{
	map->ops = ops;
	map->type = o->type;
	map->key_size = o->key_size;
	map->value_size = o->value_size;
	if (!map->max_entries)
		map->max_entries = o->max_entries;
	map->map_flags = o->map_flags;
	if (!map->nr_cpus)
		map->nr_cpus = 1;
	if (o->name)
		snprintf(map->name, sizeof(map->name), "%s", o->name);
	map->spin_lock_off = o->spin_lock ? (int32_t)o->spin_lock_off : -1;
	atomic_init(&map->refcnt, 1);
	pthread_mutex_init(&map->err_lock, NULL);
	map->errmsg[0] = 0;
}

int visor_map_create(const struct visor_map_create_opts *opts, struct visor_map **out)
{
	struct visor_map_create_opts o = {0};
	char *eb = NULL;
	size_t el = 0;

	if (out)
		*out = NULL;
	if (!opts || !out)
		return -EINVAL;
	if (opts->sz >= offsetof(struct visor_map_create_opts, errbuf_len) + sizeof(size_t)) {
		eb = opts->errbuf;
		el = opts->errbuf_len;
	}
	if (opts->sz < offsetof(struct visor_map_create_opts, map_flags) + sizeof(uint32_t))
		return visor_errf(eb, el, -EINVAL, "create options: sz %zu is too small",
				      opts->sz);
	if (opts->sz > sizeof(o)) {
		for (size_t i = sizeof(o); i < opts->sz; i++)
			if (((const uint8_t *)opts)[i])
				return visor_errf(eb, el, -EINVAL,
						      "create options: unknown fields set (sz %zu)",
						      opts->sz);
	}
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	o.errbuf = eb;
	o.errbuf_len = el;

	const struct map_type *t = find_type(o.type);
	if (!t && visor_map_type_name(o.type))
		return visor_errf(eb, el, -EOPNOTSUPP,
				      "map type %s (%u) is not implemented in visor's engine",
				      visor_map_type_name(o.type), o.type);
	if (!t)
		return visor_errf(eb, el, -EINVAL, "unknown map type %u", o.type);
	if (o.name) {
		size_t n = strlen(o.name);
		if (n >= VISOR_MAP_NAME_LEN)
			return visor_errf(eb, el, -EINVAL,
					      "map name '%s' is longer than %d characters", o.name,
					      VISOR_MAP_NAME_LEN - 1);
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)o.name[i]) && o.name[i] != '_' &&
			    o.name[i] != '.')
				return visor_errf(eb, el, -EINVAL,
						      "map name '%s': only letters, digits, '_' "
						      "and '.' are allowed", o.name);
	}
	if (o.map_flags & ~t->flags)
		return visor_errf(eb, el, -EINVAL,
				      "%s map: map_flags 0x%x has bits not valid for this type "
				      "(0x%x)", t->name, o.map_flags, o.map_flags & ~t->flags);
	if ((o.map_flags & VISOR_F_RDONLY) && (o.map_flags & VISOR_F_WRONLY))
		return visor_errf(eb, el, -EINVAL,
				      "%s map: VISOR_F_RDONLY and VISOR_F_WRONLY together", t->name);
	if ((o.map_flags & VISOR_F_RDONLY_PROG) && (o.map_flags & VISOR_F_WRONLY_PROG))
		return visor_errf(eb, el, -EINVAL,
				      "%s map: VISOR_F_RDONLY_PROG and VISOR_F_WRONLY_PROG together",
				      t->name);
	if (o.spin_lock) {
		/* The kernel's map_check_btf(). */
		if (o.type != VISOR_MAP_TYPE_HASH && o.type != VISOR_MAP_TYPE_ARRAY)
			return visor_errf(eb, el, -EOPNOTSUPP,
					      "%s map: a bpf_spin_lock in the value needs a hash or "
					      "array map", t->name);
		if (o.spin_lock_off % 4 || (uint64_t)o.spin_lock_off + 4 > o.value_size)
			return visor_errf(eb, el, -EINVAL,
					      "%s map: spin_lock_off %u is not a 4-aligned offset "
					      "inside the %u-byte value", t->name, o.spin_lock_off,
					      o.value_size);
		if (o.map_flags & VISOR_F_RDONLY_PROG)
			return visor_errf(eb, el, -EACCES,
					      "%s map: a bpf_spin_lock in a read-only (for programs) "
					      "value", t->name);
	}
	if (o.nr_cpus > VISOR_MAP_MAX_CPUS)
		return visor_errf(eb, el, -EINVAL, "nr_cpus %u is above %d", o.nr_cpus,
				      VISOR_MAP_MAX_CPUS);
	if (!o.nr_cpus)
		o.nr_cpus = visor_map_possible_cpus();

	struct visor_map *m = NULL;
	char msg[MAP_ERRMSG_LEN] = "";
	int err = t->ops->alloc(&o, &m, msg, sizeof(msg));
	if (err) {
		visor_errf(eb, el, err, "%s map: %s", t->name, msg[0] ? msg : strerror(-err));
		return err;
	}
	visor_map_register(m);
	*out = m;
	if (eb && el)
		eb[0] = 0;
	return 0;
}

/* ---- User-space API ----------------------------------------------------- */

enum map_op { OP_LOOKUP, OP_UPDATE, OP_DELETE, OP_NEXT, OP_LAD, OP_BATCH };
static const char *const op_names[] = {"lookup", "update", "delete", "get_next_key",
				       "lookup_and_delete", "lookup_batch"};

static bool is_stackish(const struct visor_map *m)
{
	return m->type == VISOR_MAP_TYPE_QUEUE || m->type == VISOR_MAP_TYPE_STACK;
}

/* The message for a failed user-space call: the type's detail if it gave one,
 * else what the error code means for this operation. */
static int user_fail(struct visor_map *m, enum map_op op, int err)
{
	const char *d = visor_map_detail;
	const char *t = visor_map_type_name(m->type);
	visor_map_detail = NULL;
	if (d)
		return visor_map_fail(m, err, "%s: %s", op_names[op], d);
	switch (err) {
	case -ENOENT:
		if (op == OP_NEXT)
			return visor_map_fail(m, err, "%s: no more keys", op_names[op]);
		if (op == OP_BATCH)
			return visor_map_fail(m, err, "%s: end of the map", op_names[op]);
		if (is_stackish(m))
			return visor_map_fail(m, err, "%s: %s is empty", op_names[op], t);
		if (op == OP_UPDATE)
			return visor_map_fail(m, err, "%s: key not found (VISOR_EXIST)",
					      op_names[op]);
		return visor_map_fail(m, err, "%s: key not found", op_names[op]);
	case -EEXIST:
		return visor_map_fail(m, err, "%s: key exists (VISOR_NOEXIST)", op_names[op]);
	case -E2BIG:
		if (is_stackish(m))
			return visor_map_fail(m, err, "%s: %s is full (max_entries %u; "
					      "VISOR_EXIST replaces the oldest)", op_names[op], t,
					      m->max_entries);
		if (m->key_size == 4 && (m->type == VISOR_MAP_TYPE_ARRAY ||
					 m->type == VISOR_MAP_TYPE_PERCPU_ARRAY ||
					 m->type == VISOR_MAP_TYPE_PROG_ARRAY ||
					 m->type == VISOR_MAP_TYPE_ARRAY_OF_MAPS))
			return visor_map_fail(m, err, "%s: index out of range (max_entries %u)",
					      op_names[op], m->max_entries);
		return visor_map_fail(m, err, "%s: map is full (max_entries %u)", op_names[op],
				      m->max_entries);
	case -ENOSPC:
		if (op == OP_BATCH)
			return visor_map_fail(m, err, "%s: count is smaller than the next bucket",
					      op_names[op]);
		return visor_map_fail(m, err, "%s: map is full (max_entries %u)", op_names[op],
				      m->max_entries);
	case -VISOR_ENOTSUPP:
		return visor_map_fail(m, err, "%s is not supported by %s maps", op_names[op], t);
	case -EPERM:
		return visor_map_fail(m, err, "%s: map is %s from user space", op_names[op],
				      (m->map_flags & VISOR_F_RDONLY) ? "read-only" : "write-only");
	case -EFAULT:
		return visor_map_fail(m, err, "%s: NULL key or value", op_names[op]);
	case -EINVAL:
		return visor_map_fail(m, err, "%s: invalid argument for %s maps", op_names[op], t);
	default:
		return visor_map_fail(m, err, "%s: %s", op_names[op], strerror(-err));
	}
}

static bool can_read(const struct visor_map *m) { return !(m->map_flags & VISOR_F_WRONLY); }
static bool can_write(const struct visor_map *m) { return !(m->map_flags & VISOR_F_RDONLY); }

/* The kernel's __bpf_copy_key(): a key is required exactly when key_size > 0. */
static int check_key(struct visor_map *m, const void *key)
{
	if (m->key_size && !key) {
		visor_map_detail = "key is NULL";
		return -EFAULT;
	}
	if (!m->key_size && key) {
		visor_map_detail = "this map type takes no key (pass NULL)";
		return -EINVAL;
	}
	return 0;
}

static int flags_fail(struct visor_map *m, enum map_op op, uint64_t flags)
{
	return visor_map_fail(m, -EINVAL, "%s: invalid flags 0x%llx%s", op_names[op],
			      (unsigned long long)flags,
			      (flags & VISOR_F_LOCK) ? " (VISOR_F_LOCK: values have no spin lock)"
						     : "");
}

int visor_map_lookup_flags(struct visor_map *m, const void *key, void *value, uint64_t flags)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (flags && (flags != VISOR_F_LOCK || m->spin_lock_off < 0))
		return flags_fail(m, OP_LOOKUP, flags);
	if (!can_read(m))
		return user_fail(m, OP_LOOKUP, -EPERM);
	if ((err = check_key(m, key)))
		return user_fail(m, OP_LOOKUP, err);
	if (!value)
		return user_fail(m, OP_LOOKUP, -EFAULT);
	if (!m->ops->lookup_sys)
		return user_fail(m, OP_LOOKUP, -VISOR_ENOTSUPP);
	visor_map_read_lock();
	err = flags ? visor_value_lookup_locked(m, key, value) : m->ops->lookup_sys(m, key, value);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_LOOKUP, err) : 0;
}

int visor_map_lookup(struct visor_map *m, const void *key, void *value)
{
	return visor_map_lookup_flags(m, key, value, 0);
}

int visor_map_update(struct visor_map *m, const void *key, const void *value, uint64_t flags)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (!can_write(m))
		return user_fail(m, OP_UPDATE, -EPERM);
	if ((flags & VISOR_F_LOCK) && m->spin_lock_off < 0)
		return flags_fail(m, OP_UPDATE, flags);
	if ((err = check_key(m, key)))
		return user_fail(m, OP_UPDATE, err);
	if (!value)
		return user_fail(m, OP_UPDATE, -EFAULT);
	if (!m->ops->update_sys)
		return user_fail(m, OP_UPDATE, -VISOR_ENOTSUPP);
	visor_map_read_lock();
	err = (flags & VISOR_F_LOCK) ? visor_value_update_locked(m, key, value, flags, false)
				     : m->ops->update_sys(m, key, value, flags);
	visor_map_read_unlock();
	if (err == -EINVAL && !visor_map_detail)
		return flags_fail(m, OP_UPDATE, flags);
	return err ? user_fail(m, OP_UPDATE, err) : 0;
}

int visor_map_update_ref(struct visor_map *m, const void *key, void *ref, uint32_t id,
			 uint64_t flags)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (!m->ops->update_ref) {
		visor_map_detail = "only prog arrays and map-in-map hold references";
		return user_fail(m, OP_UPDATE, -EINVAL);
	}
	if (!can_write(m))
		return user_fail(m, OP_UPDATE, -EPERM);
	if ((err = check_key(m, key)))
		return user_fail(m, OP_UPDATE, err);
	if (!ref)
		return user_fail(m, OP_UPDATE, -EFAULT);
	visor_map_read_lock();
	err = m->ops->update_ref(m, key, ref, id, flags);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_UPDATE, err) : 0;
}

int visor_map_delete(struct visor_map *m, const void *key)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (!can_write(m))
		return user_fail(m, OP_DELETE, -EPERM);
	if ((err = check_key(m, key)))
		return user_fail(m, OP_DELETE, err);
	if (!m->ops->delete_elem)
		return user_fail(m, OP_DELETE, -VISOR_ENOTSUPP);
	visor_map_read_lock();
	err = m->ops->delete_elem(m, key);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_DELETE, err) : 0;
}

int visor_map_get_next_key(struct visor_map *m, const void *key, void *next)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (!can_read(m))
		return user_fail(m, OP_NEXT, -EPERM);
	if (key && (err = check_key(m, key)))
		return user_fail(m, OP_NEXT, err);
	if (!m->ops->get_next_key)
		return user_fail(m, OP_NEXT, -VISOR_ENOTSUPP);
	if (!next && m->key_size)
		return user_fail(m, OP_NEXT, -EFAULT);
	visor_map_read_lock();
	err = m->ops->get_next_key(m, key, next);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_NEXT, err) : 0;
}

int visor_map_lookup_and_delete_flags(struct visor_map *m, const void *key, void *value,
				      uint64_t flags)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	if (flags)
		return flags_fail(m, OP_LAD, flags);
	if (!can_read(m) || !can_write(m))
		return user_fail(m, OP_LAD, -EPERM);
	if ((err = check_key(m, key)))
		return user_fail(m, OP_LAD, err);
	if (!m->ops->lookup_and_delete)
		return user_fail(m, OP_LAD, -VISOR_ENOTSUPP);
	if (!value)
		return user_fail(m, OP_LAD, -EFAULT);
	visor_map_read_lock();
	err = m->ops->lookup_and_delete(m, key, value);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_LAD, err) : 0;
}

int visor_map_lookup_and_delete(struct visor_map *m, const void *key, void *value)
{
	return visor_map_lookup_and_delete_flags(m, key, value, 0);
}

/* The kernel's generic_map_lookup_batch(): walk with get_next_key, skip keys
 * that vanished, out_batch = the last key visited. */
static int generic_lookup_batch(struct visor_map *m, const void *in_batch, void *out_batch,
				void *keys, void *values, uint32_t *count)
{
	uint32_t max = *count, cp = 0;
	size_t vs = visor_map_user_value_size(m);
	uint8_t *prev = malloc(m->key_size), *key = malloc(m->key_size), *val = malloc(vs);
	bool have_prev = false;
	int err = 0;

	if (!prev || !key || !val) {
		err = -ENOMEM;
		goto out;
	}
	if (in_batch) {
		memcpy(prev, in_batch, m->key_size);
		have_prev = true;
	}
	while (cp < max) {
		err = m->ops->get_next_key(m, have_prev ? prev : NULL, key);
		if (err)
			break;
		err = m->ops->lookup_sys(m, key, val);
		if (!err) {
			memcpy((uint8_t *)keys + (size_t)cp * m->key_size, key, m->key_size);
			memcpy((uint8_t *)values + (size_t)cp * vs, val, vs);
			cp++;
		} else if (err != -ENOENT) {
			break;
		}
		err = 0;
		uint8_t *t = prev;
		prev = key;
		key = t;
		have_prev = true;
	}
	*count = cp;
	if (cp)
		memcpy(out_batch, prev, m->key_size);
out:
	free(prev);
	free(key);
	free(val);
	return err;
}

int visor_map_lookup_batch(struct visor_map *m, const void *in_batch, void *out_batch,
			   void *keys, void *values, uint32_t *count,
			   const struct visor_map_batch_opts *opts)
{
	int err;
	visor_map_detail = NULL;
	if (!m)
		return -EINVAL;
	uint64_t elem_flags = 0;
	if (opts && opts->sz >= offsetof(struct visor_map_batch_opts, elem_flags) + 8)
		elem_flags = opts->elem_flags;
	if (m->ops->batch_unsupported || !m->ops->get_next_key)
		return user_fail(m, OP_BATCH, -VISOR_ENOTSUPP);
	if (!can_read(m))
		return user_fail(m, OP_BATCH, -EPERM);
	if (elem_flags) {
		visor_map_detail = "elem_flags must be 0";
		return user_fail(m, OP_BATCH, -EINVAL);
	}
	if (!count)
		return user_fail(m, OP_BATCH, -EFAULT);
	if (!*count)
		return 0;
	if (!keys || !values || !out_batch)
		return user_fail(m, OP_BATCH, -EFAULT);
	visor_map_read_lock();
	if (m->ops->lookup_batch)
		err = m->ops->lookup_batch(m, in_batch, out_batch, keys, values, count);
	else
		err = generic_lookup_batch(m, in_batch, out_batch, keys, values, count);
	visor_map_read_unlock();
	return err ? user_fail(m, OP_BATCH, err) : 0;
}

long visor_map_for_each_elem(struct visor_map *m, visor_map_elem_cb cb, void *ctx)
{
	if (!m || !cb || !m->ops->for_each)
		return -EINVAL;
	visor_map_read_lock();
	long n = m->ops->for_each(m, cb, ctx);
	visor_map_read_unlock();
	return n;
}

/* ---- In-program entry points -------------------------------------------- */

void *visor_map_lookup_ptr(struct visor_map *m, const void *key)
{
	if (!m->ops->lookup_ptr)
		return NULL;
	return m->ops->lookup_ptr(m, key);
}

int visor_map_update_from_prog(struct visor_map *m, const void *key, const void *value,
			       uint64_t flags)
{
	if (m->map_flags & VISOR_F_RDONLY_PROG)
		return -EPERM;
	if ((flags & VISOR_F_LOCK) && m->spin_lock_off < 0)
		return -EINVAL;
	if (!m->ops->update_prog)
		return -VISOR_ENOTSUPP;
	if (flags & VISOR_F_LOCK)
		return visor_value_update_locked(m, key, value, flags, true);
	return m->ops->update_prog(m, key, value, flags);
}

int visor_map_delete_from_prog(struct visor_map *m, const void *key)
{
	if (m->map_flags & VISOR_F_RDONLY_PROG)
		return -EPERM;
	if (!m->ops->delete_elem)
		return -VISOR_ENOTSUPP;
	return m->ops->delete_elem(m, key);
}

int visor_map_push(struct visor_map *m, const void *value, uint64_t flags)
{
	if (!m->ops->push)
		return -VISOR_ENOTSUPP;
	if (m->map_flags & VISOR_F_RDONLY_PROG)
		return -EPERM;
	return m->ops->push(m, value, flags);
}

int visor_map_pop(struct visor_map *m, void *value)
{
	if (!m->ops->pop)
		return -VISOR_ENOTSUPP;
	return m->ops->pop(m, value, true);
}

int visor_map_peek(struct visor_map *m, void *value)
{
	if (!m->ops->pop)
		return -VISOR_ENOTSUPP;
	return m->ops->pop(m, value, false);
}

void *visor_map_prog_array_get(struct visor_map *m, uint32_t index, uint32_t *id)
{
	if (!m->ops->prog_get) {
		if (id)
			*id = 0;
		return NULL;
	}
	return m->ops->prog_get(m, index, id);
}

bool visor_map_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	return m && m->ops->value_ok && m->ops->value_ok(m, ptr, len);
}
