/* Approximate LRU for the LRU hash maps: CLOCK-style second chance.
 *
 * Each domain (one for the map, or one per CPU with BPF_F_NO_COMMON_LRU) is
 * a list, newest first, with a capacity. Program lookups set a "referenced"
 * bit without taking any lock. When a full domain must make room, the oldest
 * elements are examined: a referenced one loses its bit and moves to the
 * front, the first unreferenced one still in the map is evicted. The kernel
 * uses active/inactive lists with the same reference bit; the outcome is the
 * same kind of approximation (recently used elements survive). Lock order:
 * domain lock, then the map's bucket lock (inside the evict callback). */
#include <stdlib.h>

#include "map_internal.h"

static void list_del(struct visor_lru_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static void list_add_front(struct visor_lru_domain *d, struct visor_lru_node *n)
{
	n->next = d->head.next;
	n->prev = &d->head;
	d->head.next->prev = n;
	d->head.next = n;
}

int visor_lru_init(struct visor_lru *l, uint32_t ndomains, uint32_t capacity_each,
		   bool (*evict)(struct visor_lru_node *, void *), void *ctx)
{
	if (posix_memalign((void **)&l->domains, 64, ndomains * sizeof(*l->domains)))
		return -ENOMEM;
	memset(l->domains, 0, ndomains * sizeof(*l->domains));
	for (uint32_t i = 0; i < ndomains; i++) {
		struct visor_lru_domain *d = &l->domains[i];
		pthread_mutex_init(&d->lock, NULL);
		d->head.next = d->head.prev = &d->head;
		d->capacity = capacity_each;
	}
	l->ndomains = ndomains;
	l->evict = evict;
	l->ctx = ctx;
	return 0;
}

void visor_lru_destroy(struct visor_lru *l)
{
	for (uint32_t i = 0; i < l->ndomains; i++)
		pthread_mutex_destroy(&l->domains[i].lock);
	free(l->domains);
	l->domains = NULL;
}

int visor_lru_reserve(struct visor_lru *l, struct visor_lru_node **victim)
{
	uint32_t idx = l->ndomains == 1 ? 0 : visor_cur_cpu() % l->ndomains;
	struct visor_lru_domain *d = &l->domains[idx];
	*victim = NULL;
	pthread_mutex_lock(&d->lock);
	if (d->count < d->capacity) {
		d->count++;
		pthread_mutex_unlock(&d->lock);
		return (int)idx;
	}
	/* Two passes at most: the first may only clear reference bits. */
	size_t budget = 2 * (size_t)d->count + 2;
	struct visor_lru_node *n = d->head.prev;
	while (n != &d->head && budget--) {
		struct visor_lru_node *prev = n->prev;
		if (atomic_load_explicit(&n->ref, memory_order_relaxed)) {
			atomic_store_explicit(&n->ref, 0, memory_order_relaxed);
			list_del(n);
			list_add_front(d, n);
			if (prev == &d->head)
				prev = d->head.prev;
		} else if (l->evict(n, l->ctx)) {
			/* The victim's room goes to the caller's new element. */
			list_del(n);
			*victim = n;
			pthread_mutex_unlock(&d->lock);
			return (int)idx;
		}
		/* else: being deleted or not yet inserted; its owner unlinks it */
		n = prev;
	}
	pthread_mutex_unlock(&d->lock);
	return -ENOMEM;
}

void visor_lru_unreserve(struct visor_lru *l, uint32_t domain)
{
	struct visor_lru_domain *d = &l->domains[domain];
	pthread_mutex_lock(&d->lock);
	d->count--;
	pthread_mutex_unlock(&d->lock);
}

void visor_lru_add(struct visor_lru *l, struct visor_lru_node *n, uint32_t domain)
{
	struct visor_lru_domain *d = &l->domains[domain];
	n->domain = (uint16_t)domain;
	atomic_store_explicit(&n->ref, 0, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	list_add_front(d, n);
	pthread_mutex_unlock(&d->lock);
}

void visor_lru_remove(struct visor_lru *l, struct visor_lru_node *n)
{
	struct visor_lru_domain *d = &l->domains[n->domain];
	pthread_mutex_lock(&d->lock);
	list_del(n);
	d->count--;
	pthread_mutex_unlock(&d->lock);
}
