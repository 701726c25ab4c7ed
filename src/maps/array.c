/* Array and per-CPU array: max_entries values of round_up(value_size, 8)
 * bytes, indexed by a u32 key, allocated (zeroed) at creation and never
 * deleted. Lookups are a bounds check and an address computation. Per-CPU
 * arrays keep one area per CPU (CPU-major), so CPUs updating the same index
 * do not share cache lines. */
#include <stdlib.h>

#include "map_internal.h"

struct array_map {
	struct visor_map map;
	size_t elem_size;   /* round_up(value_size, 8) */
	size_t cpu_stride;  /* bytes of one CPU's area */
	uint8_t *values;
};

#define ARR(m) container_of(m, struct array_map, map)

static int array_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		       size_t errlen)
{
	bool percpu = o->type == VISOR_MAP_TYPE_PERCPU_ARRAY;
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (o->key_size != 4)
		return visor_errf(err, errlen, -EINVAL, "key_size %u, must be 4", o->key_size);
	if (!o->value_size)
		return visor_errf(err, errlen, -EINVAL, "value_size is 0");
	if (o->value_size > INT32_MAX)
		return visor_errf(err, errlen, -E2BIG, "value_size %u is too large",
				      o->value_size);
	if (percpu && ROUND8(o->value_size) > PCPU_MIN_UNIT_SIZE)
		return visor_errf(err, errlen, -E2BIG,
				      "value_size %u is above the per-CPU limit %u", o->value_size,
				      PCPU_MIN_UNIT_SIZE);
	uint32_t ncpu = percpu ? o->nr_cpus : 1;
	size_t es = ROUND8(o->value_size);
	if ((unsigned __int128)es * o->max_entries * ncpu > ((unsigned __int128)1 << 40))
		return visor_errf(err, errlen, -ENOMEM, "%u x %zu bytes%s is too much memory",
				      o->max_entries, es, percpu ? " per CPU" : "");
	struct array_map *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->elem_size = es;
	a->cpu_stride = es * o->max_entries;
	a->values = calloc(ncpu, a->cpu_stride);
	if (!a->values) {
		size_t bytes = a->cpu_stride * ncpu;
		free(a);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %zu bytes", bytes);
	}
	a->map.nr_cpus = ncpu;
	visor_map_init_common(&a->map, o, &visor_array_ops);
	*out = &a->map;
	return 0;
}

static void array_free(struct visor_map *m)
{
	free(ARR(m)->values);
	free(ARR(m));
}

static inline uint8_t *elem(struct array_map *a, uint32_t cpu, uint32_t idx)
{
	return a->values + cpu * a->cpu_stride + (size_t)idx * a->elem_size;
}

static int array_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	struct array_map *a = ARR(m);
	uint32_t idx = *(const uint32_t *)key;
	if (idx >= m->max_entries)
		return -ENOENT;
	if (m->nr_cpus == 1 && m->type == VISOR_MAP_TYPE_ARRAY) {
		visor_value_copy_zero_lock(m, value, elem(a, 0, idx));
		return 0;
	}
	/* Per-CPU: one rounded value per CPU, padding included, as the kernel. */
	for (uint32_t c = 0; c < m->nr_cpus; c++)
		visor_long_memcpy((uint8_t *)value + c * a->elem_size, elem(a, c, idx),
				  a->elem_size);
	return 0;
}

static int array_check_update(struct visor_map *m, uint32_t idx, uint64_t flags)
{
	if ((flags & ~(uint64_t)VISOR_F_LOCK) > VISOR_EXIST)
		return -EINVAL;
	if (idx >= m->max_entries)
		return -E2BIG;
	if (flags & VISOR_NOEXIST)
		return -EEXIST; /* every index always exists */
	return 0;
}

static int array_update_sys(struct visor_map *m, const void *key, const void *value,
			    uint64_t flags)
{
	struct array_map *a = ARR(m);
	uint32_t idx = *(const uint32_t *)key;
	int err = array_check_update(m, idx, flags);
	if (err)
		return err;
	if (m->type == VISOR_MAP_TYPE_ARRAY) {
		visor_value_copy_keep_lock(m, elem(a, 0, idx), value);
		return 0;
	}
	for (uint32_t c = 0; c < m->nr_cpus; c++)
		visor_long_memcpy(elem(a, c, idx), (const uint8_t *)value + c * a->elem_size,
				  a->elem_size);
	return 0;
}

static int array_update_prog(struct visor_map *m, const void *key, const void *value,
			     uint64_t flags)
{
	struct array_map *a = ARR(m);
	uint32_t idx = *(const uint32_t *)key, cpu = 0;
	int err = array_check_update(m, idx, flags);
	if (err)
		return err;
	if (m->type == VISOR_MAP_TYPE_PERCPU_ARRAY && (cpu = visor_cur_cpu()) >= m->nr_cpus)
		return -EINVAL;
	visor_value_copy_keep_lock(m, elem(a, cpu, idx), value);
	return 0;
}

static int array_delete(struct visor_map *m, const void *key)
{
	visor_map_detail = "array elements cannot be deleted";
	return -EINVAL;
}

/* The kernel's order: a missing or out-of-range key restarts at 0. */
int visor_array_get_next_key(struct visor_map *m, const void *key, void *next)
{
	uint32_t idx = key ? *(const uint32_t *)key : m->max_entries;
	uint32_t *n = next;
	if (idx >= m->max_entries) {
		*n = 0;
		return 0;
	}
	if (idx == m->max_entries - 1)
		return -ENOENT;
	*n = idx + 1;
	return 0;
}

static void *array_lookup_ptr(struct visor_map *m, const void *key)
{
	uint32_t idx = *(const uint32_t *)key, cpu = 0;
	if (idx >= m->max_entries)
		return NULL;
	if (m->type == VISOR_MAP_TYPE_PERCPU_ARRAY && (cpu = visor_cur_cpu()) >= m->nr_cpus)
		return NULL;
	return elem(ARR(m), cpu, idx);
}

static long array_for_each(struct visor_map *m, visor_map_elem_cb cb, void *ctx)
{
	long n = 0;
	uint32_t cpu = m->type == VISOR_MAP_TYPE_PERCPU_ARRAY ? visor_cur_cpu() : 0;
	if (cpu >= m->nr_cpus)
		return -EINVAL;
	for (uint32_t i = 0; i < m->max_entries; i++) {
		n++;
		if (cb(m, &i, elem(ARR(m), cpu, i), ctx))
			break;
	}
	return n;
}

static bool array_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	const struct array_map *a = container_of(m, struct array_map, map);
	uintptr_t p = (uintptr_t)ptr, base = (uintptr_t)a->values;
	if (p < base || p >= base + a->cpu_stride * m->nr_cpus)
		return false;
	return (p - base) % a->elem_size + len <= m->value_size;
}

/* One table for array and per-CPU array: every operation reads the CPU
 * count from the map, so the two types share their code. */
const struct visor_map_ops visor_array_ops = {
	.alloc = array_alloc,
	.free = array_free,
	.lookup_sys = array_lookup_sys,
	.update_sys = array_update_sys,
	.delete_elem = array_delete,
	.get_next_key = visor_array_get_next_key,
	.lookup_ptr = array_lookup_ptr,
	.update_prog = array_update_prog,
	.for_each = array_for_each,
	.value_ok = array_value_ok,
};
