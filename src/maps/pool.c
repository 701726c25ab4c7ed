/* Element pool of the hash maps and the LPM trie.
 *
 * Elements are carved from chunks that are only freed with the pool: a value
 * pointer handed to a program is valid memory for the map's lifetime, like
 * the kernel's preallocated maps. A removed element is "retired": it waits
 * until no read-side section that could have seen it is still running
 * before it is reused (epochs, ebr.c). "Preallocation" reserves the first
 * chunk up front; its pages are only touched when elements are carved. */
#include <stdlib.h>

#include "map_internal.h"

static struct visor_pool_chunk *chunk_new(struct visor_pool *p, size_t n)
{
	struct visor_pool_chunk *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* calloc keeps untouched pages unmapped; 64 bytes more to align the
	 * elements on cache lines. */
	if (n <= (SIZE_MAX - 64) / p->elem_size)
		c->elems_raw = calloc(1, n * p->elem_size + 64);
	c->elems = (uint8_t *)(((uintptr_t)c->elems_raw + 63) & ~(uintptr_t)63);
	if (p->pcpu_size)
		c->pcpu = calloc((size_t)p->nr_cpus * n, p->pcpu_size);
	if (!c->elems_raw || (p->pcpu_size && !c->pcpu)) {
		free(c->elems_raw);
		free(c->pcpu);
		free(c);
		return NULL;
	}
	c->n = n;
	c->next = atomic_load(&p->chunks);
	atomic_store_explicit(&p->chunks, c, memory_order_release);
	return c;
}

int visor_pool_init(struct visor_pool *p, size_t elem_size, size_t prealloc, size_t max_chunk,
		    size_t pcpu_size, uint32_t nr_cpus,
		    void (*init)(struct visor_pool *p, void *elem, uint8_t *pcpu, size_t stride))
{
	memset(p, 0, sizeof(*p));
	p->elem_size = ROUND8(elem_size);
	while (p->elem_size < 64 && (p->elem_size & (p->elem_size - 1)))
		p->elem_size += 8;
	p->elem_magic = UINT64_MAX / p->elem_size + 1;
	p->pcpu_magic = pcpu_size ? UINT64_MAX / pcpu_size + 1 : 0;
	p->pcpu_size = pcpu_size;
	p->nr_cpus = nr_cpus ? nr_cpus : 1;
	p->init = init;
	p->pending_tail = &p->pending;
	p->max_chunk = max_chunk < 16 ? 16 : max_chunk;
	p->grow = 16;
	p->reclaim_at = 64;
	atomic_init(&p->chunks, NULL);
	if (prealloc) {
		if (!chunk_new(p, prealloc))
			return -ENOMEM;
		p->grow = prealloc / 4 < 16 ? 16 : prealloc / 4;
	}
	return 0;
}

void visor_pool_destroy(struct visor_pool *p)
{
	struct visor_pool_chunk *c = atomic_load(&p->chunks);
	while (c) {
		struct visor_pool_chunk *next = c->next;
		free(c->elems_raw);
		free(c->pcpu);
		free(c);
		c = next;
	}
	atomic_store(&p->chunks, NULL);
}

/* Moves retired elements no reader can still hold to the free list. */
static void reclaim(struct visor_pool *p)
{
	if (!p->pending)
		return;
	uint64_t safe = visor_ebr_safe_before();
	struct visor_pool_node **pp = &p->pending;
	while (*pp) {
		struct visor_pool_node *n = *pp;
		if (n->epoch < safe) {
			*pp = n->next;
			n->next = p->free;
			p->free = n;
			p->npending--;
		} else {
			pp = &n->next;
		}
	}
	p->pending_tail = pp;
	p->reclaim_at = p->npending * 2 < 64 ? 64 : p->npending * 2;
}

static void *carve(struct visor_pool *p, struct visor_pool_chunk *c)
{
	size_t i = c->used++;
	void *e = c->elems + i * p->elem_size;
	if (p->init)
		p->init(p, e, c->pcpu ? c->pcpu + i * p->pcpu_size : NULL, c->n * p->pcpu_size);
	return e;
}

void *visor_pool_alloc(struct visor_pool *p)
{
	void *e = NULL;
	visor_spin_lock(&p->lock);
	if (!p->free) {
		struct visor_pool_chunk *c = atomic_load_explicit(&p->chunks, memory_order_relaxed);
		if (c && c->used < c->n) {
			e = carve(p, c);
			goto out;
		}
		reclaim(p);
	}
	if (p->free) {
		e = p->free;
		p->free = p->free->next;
		goto out;
	}
	struct visor_pool_chunk *c = chunk_new(p, p->grow);
	if (c) {
		e = carve(p, c);
		p->grow = p->grow * 2 > p->max_chunk ? p->max_chunk : p->grow * 2;
	}
out:
	visor_spin_unlock(&p->lock);
	return e;
}

void visor_pool_free_now(struct visor_pool *p, void *elem)
{
	struct visor_pool_node *n = elem;
	visor_spin_lock(&p->lock);
	n->next = p->free;
	p->free = n;
	visor_spin_unlock(&p->lock);
}

void visor_pool_retire(struct visor_pool *p, void *elem)
{
	struct visor_pool_node *n = elem;
	n->next = NULL;
	visor_spin_lock(&p->lock);
	/* After the lock: on x86 its atomic exchange is the fence the stamp
	 * needs (the unlink before the epoch load), so none is added. */
	n->epoch = visor_ebr_stamp_locked();
	*p->pending_tail = n;
	p->pending_tail = &n->next;
	/* Scan in batches; back off while a long reader keeps elements busy. */
	if (++p->npending >= p->reclaim_at)
		reclaim(p);
	visor_spin_unlock(&p->lock);
}

/* off % d, with magic = UINT64_MAX / d + 1: a multiplication instead of a
 * division (Lemire's fastmod), exact for offsets below 2^32. */
static inline size_t mod_size(uint64_t off, size_t d, uint64_t magic)
{
	if (off >> 32)
		return off % d;
	return (size_t)(((unsigned __int128)(magic * off) * d) >> 64);
}

bool visor_pool_contains(const struct visor_pool *p, const void *ptr, size_t len)
{
	uintptr_t a = (uintptr_t)ptr;
	for (struct visor_pool_chunk *c = atomic_load_explicit(
		     &((struct visor_pool *)p)->chunks, memory_order_acquire);
	     c; c = c->next) {
		uintptr_t base = (uintptr_t)c->elems;
		if (p->value_len && a - base < c->n * p->elem_size) {
			size_t off = mod_size(a - base, p->elem_size, p->elem_magic);
			return off >= p->value_off && len <= p->value_len &&
			       off - p->value_off <= p->value_len - len;
		}
		base = (uintptr_t)c->pcpu;
		if (c->pcpu && a - base < (size_t)p->nr_cpus * c->n * p->pcpu_size) {
			size_t off = mod_size(a - base, p->pcpu_size, p->pcpu_magic);
			return len <= p->pcpu_value_len && off <= p->pcpu_value_len - len;
		}
	}
	return false;
}
