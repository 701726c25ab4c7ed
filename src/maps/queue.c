/* Queue (FIFO) and stack (LIFO): a ring of max_entries + 1 value slots
 * under a spinlock, as the kernel's queue_stack_maps.c. No key; values are
 * copied in and out, never pointed to. A push with VISOR_EXIST on a full
 * map drops the oldest value; VISOR_NOEXIST is invalid. */
#include <stdlib.h>

#include "map_internal.h"

struct qs_map {
	struct visor_map map;
	visor_spin_t lock;
	uint32_t head, tail, size; /* size = max_entries + 1 slots */
	uint8_t *elems;
};

#define QS(m) container_of(m, struct qs_map, map)

static int qs_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		    size_t errlen)
{
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (o->key_size)
		return visor_errf(err, errlen, -EINVAL, "key_size %u, must be 0", o->key_size);
	if (!o->value_size)
		return visor_errf(err, errlen, -EINVAL, "value_size is 0");
	if (o->value_size > KMALLOC_MAX_SIZE)
		return visor_errf(err, errlen, -E2BIG, "value_size %u is above %u",
				      o->value_size, KMALLOC_MAX_SIZE);
	uint64_t bytes = ((uint64_t)o->max_entries + 1) * o->value_size;
	struct qs_map *q = calloc(1, sizeof(*q));
	if (!q || bytes > ((uint64_t)1 << 40) || !(q->elems = malloc(bytes))) {
		free(q);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %llu bytes",
				      (unsigned long long)bytes);
	}
	q->size = o->max_entries + 1;
	visor_map_init_common(&q->map, o,
			      o->type == VISOR_MAP_TYPE_QUEUE ? &visor_queue_ops : &visor_stack_ops);
	*out = &q->map;
	return 0;
}

static void qs_free(struct visor_map *m)
{
	free(QS(m)->elems);
	free(QS(m));
}

static int qs_push(struct visor_map *m, const void *value, uint64_t flags)
{
	struct qs_map *q = QS(m);
	int err = 0;
	if ((flags & VISOR_NOEXIST) || flags > VISOR_EXIST)
		return -EINVAL;
	visor_spin_lock(&q->lock);
	uint32_t next = q->head + 1 >= q->size ? 0 : q->head + 1;
	if (next == q->tail) { /* full */
		if (!(flags & VISOR_EXIST)) {
			err = -E2BIG;
			goto out;
		}
		if (++q->tail >= q->size) /* overwrite the oldest */
			q->tail = 0;
	}
	memcpy(q->elems + (size_t)q->head * m->value_size, value, m->value_size);
	q->head = next;
out:
	visor_spin_unlock(&q->lock);
	return err;
}

/* Queue: take at tail (oldest); stack: take below head (newest). */
static int qs_pop(struct visor_map *m, void *value, bool remove)
{
	struct qs_map *q = QS(m);
	visor_spin_lock(&q->lock);
	if (q->head == q->tail) {
		visor_spin_unlock(&q->lock);
		return -ENOENT;
	}
	uint32_t idx;
	if (m->type == VISOR_MAP_TYPE_QUEUE) {
		idx = q->tail;
		if (remove && ++q->tail >= q->size)
			q->tail = 0;
	} else {
		idx = q->head ? q->head - 1 : q->size - 1;
		if (remove)
			q->head = idx;
	}
	memcpy(value, q->elems + (size_t)idx * m->value_size, m->value_size);
	visor_spin_unlock(&q->lock);
	return 0;
}

static int qs_lookup_sys(struct visor_map *m, const void *key, void *value)
{
	return qs_pop(m, value, false);
}

static int qs_update_sys(struct visor_map *m, const void *key, const void *value,
			 uint64_t flags)
{
	return qs_push(m, value, flags);
}

static int qs_lookup_and_delete(struct visor_map *m, const void *key, void *value)
{
	return qs_pop(m, value, true);
}

static int qs_delete(struct visor_map *m, const void *key)
{
	visor_map_detail = "queues and stacks have no keys to delete (use pop)";
	return -EINVAL;
}

static int qs_get_next_key(struct visor_map *m, const void *key, void *next)
{
	visor_map_detail = "queues and stacks have no keys to iterate";
	return -EINVAL;
}

#define QS_OPS								\
	{								\
		.alloc = qs_alloc,					\
		.free = qs_free,					\
		.lookup_sys = qs_lookup_sys,				\
		.update_sys = qs_update_sys,				\
		.delete_elem = qs_delete,				\
		.get_next_key = qs_get_next_key,			\
		.lookup_and_delete = qs_lookup_and_delete,		\
		.update_prog = qs_update_sys,				\
		.push = qs_push,					\
		.pop = qs_pop,						\
		.batch_unsupported = true,				\
	}

const struct visor_map_ops visor_queue_ops = QS_OPS;
const struct visor_map_ops visor_stack_ops = QS_OPS;
