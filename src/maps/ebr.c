/* Thread records: the CPU slot of each thread and epoch-based reclamation
 * (the RCU-like read side of the maps).
 *
 * A reader publishes the global epoch when it enters its outer section and
 * clears it when it leaves. Something unlinked is stamped with the epoch
 * current after the unlink; it may be reused once every active reader
 * entered at a later epoch. All the ordering points are sequentially
 * consistent, so "reader entered after the stamp" implies "reader's
 * traversal started after the unlink". Records are never freed, only reused
 * by later threads, so scanning them needs no lock. */
#include <stdlib.h>
#include <unistd.h>

#include "map_internal.h"

__thread struct visor_thread *visor_tls_thread;

static _Atomic uint64_t g_epoch = 1;
static _Atomic(struct visor_thread *) g_threads;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t g_possible_cpus;

static void thread_exit(void *arg)
{
	struct visor_thread *t = arg;
	atomic_store(&t->epoch, 0);
	t->depth = 0;
	t->cpu = 0;
	atomic_store(&t->in_use, 0);
	visor_tls_thread = NULL;
}

static void key_init(void)
{
	/* Without a key, records of exited threads are simply never reused. */
	if (pthread_key_create(&g_key, thread_exit))
		g_key = (pthread_key_t)-1;
}

static struct visor_thread *thread_register(void)
{
	pthread_once(&g_once, key_init);
	struct visor_thread *t;
	for (t = atomic_load(&g_threads); t; t = t->next) {
		int zero = 0;
		if (!atomic_load_explicit(&t->in_use, memory_order_relaxed) &&
		    atomic_compare_exchange_strong(&t->in_use, &zero, 1))
			break;
	}
	if (!t) {
		if (posix_memalign((void **)&t, 64, sizeof(*t)))
			return NULL;
		memset(t, 0, sizeof(*t));
		atomic_store(&t->in_use, 1);
		struct visor_thread *head = atomic_load(&g_threads);
		do
			t->next = head;
		while (!atomic_compare_exchange_weak(&g_threads, &head, t));
	}
	t->depth = 0;
	t->cpu = 0;
	atomic_store(&t->epoch, 0);
	if (g_key != (pthread_key_t)-1)
		pthread_setspecific(g_key, t);
	visor_tls_thread = t;
	return t;
}

struct visor_thread *visor_thread_self(void)
{
	struct visor_thread *t = visor_tls_thread;
	return t ? t : thread_register();
}

void visor_map_read_lock(void)
{
	struct visor_thread *t = visor_thread_self();
	if (!t)
		return; /* out of memory: degrade to the unprotected (kernel) rule */
	if (t->depth++ == 0) {
		/* A seq_cst exchange: the store and the full fence in one
		 * instruction on x86 (xchg) instead of a store and an mfence. */
		atomic_exchange(&t->epoch, atomic_load(&g_epoch));
#if !defined(__x86_64__)
		atomic_thread_fence(memory_order_seq_cst); /* elsewhere the exchange may not be one */
#endif
	}
}

void visor_map_read_unlock(void)
{
	struct visor_thread *t = visor_tls_thread;
	if (!t || !t->depth)
		return;
	if (--t->depth == 0)
		atomic_store_explicit(&t->epoch, 0, memory_order_release);
}

/* A full fence. On x86 a locked operation on the own stack (the Linux
 * kernel's smp_mb) is cheaper than mfence and orders the same: earlier
 * stores before later loads. */
static inline void full_fence(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("lock; orq $0, (%%rsp)" ::: "memory", "cc");
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

uint64_t visor_ebr_stamp(void)
{
	full_fence();
	return atomic_load(&g_epoch);
}

uint64_t visor_ebr_stamp_locked(void)
{
#if defined(__x86_64__)
	atomic_signal_fence(memory_order_seq_cst); /* the compiler keeps the order too */
	return atomic_load(&g_epoch);
#else
	return visor_ebr_stamp();
#endif
}

uint64_t visor_ebr_safe_before(void)
{
	uint64_t min = atomic_fetch_add(&g_epoch, 1) + 1;
	for (struct visor_thread *t = atomic_load(&g_threads); t; t = t->next) {
		uint64_t e = atomic_load(&t->epoch);
		if (e && e < min)
			min = e;
	}
	return min;
}

void visor_map_synchronize(void)
{
	struct visor_thread *self = visor_tls_thread;
	uint64_t target = atomic_fetch_add(&g_epoch, 1) + 1;
	for (struct visor_thread *t = atomic_load(&g_threads); t; t = t->next) {
		if (t == self)
			continue;
		unsigned spins = 0;
		for (;;) {
			uint64_t e = atomic_load(&t->epoch);
			if (!e || e >= target)
				break;
			if (++spins < 64)
				visor_cpu_relax();
			else
				sched_yield();
		}
	}
}

/* ---- Deferred releases -------------------------------------------------- */

void visor_defer_init(struct visor_defer_list *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->head = NULL;
	l->n = 0;
}

static void run_list(struct visor_defer *d)
{
	while (d) {
		struct visor_defer *next = d->next;
		d->fn(d);
		d = next;
	}
}

void visor_defer_add(struct visor_defer_list *l, struct visor_defer *d,
		     void (*fn)(struct visor_defer *d))
{
	d->fn = fn;
	d->epoch = visor_ebr_stamp();
	struct visor_defer *ready = NULL;
	pthread_mutex_lock(&l->lock);
	d->next = l->head;
	l->head = d;
	/* Collect in batches so the thread scan is amortised. */
	if (++l->n >= 32) {
		uint64_t safe = visor_ebr_safe_before();
		struct visor_defer **pp = &l->head;
		while (*pp) {
			struct visor_defer *x = *pp;
			if (x->epoch < safe) {
				*pp = x->next;
				x->next = ready;
				ready = x;
				l->n--;
			} else {
				pp = &x->next;
			}
		}
	}
	pthread_mutex_unlock(&l->lock);
	run_list(ready);
}

void visor_defer_flush(struct visor_defer_list *l)
{
	visor_map_synchronize();
	pthread_mutex_lock(&l->lock);
	struct visor_defer *all = l->head;
	l->head = NULL;
	l->n = 0;
	pthread_mutex_unlock(&l->lock);
	run_list(all);
}

/* ---- CPU slots ---------------------------------------------------------- */

uint32_t visor_map_possible_cpus(void)
{
	uint32_t n = atomic_load(&g_possible_cpus);
	if (!n) {
		long on = sysconf(_SC_NPROCESSORS_ONLN);
		n = on < 1 ? 1 : on > VISOR_MAP_MAX_CPUS ? VISOR_MAP_MAX_CPUS : (uint32_t)on;
		uint32_t zero = 0;
		if (!atomic_compare_exchange_strong(&g_possible_cpus, &zero, n))
			n = zero;
	}
	return n;
}

int visor_map_set_possible_cpus(uint32_t n)
{
	if (n < 1 || n > VISOR_MAP_MAX_CPUS)
		return -EINVAL;
	atomic_store(&g_possible_cpus, n);
	return 0;
}

int visor_map_set_cpu(uint32_t slot)
{
	if (slot >= visor_map_possible_cpus())
		return -EINVAL;
	struct visor_thread *t = visor_thread_self();
	if (!t)
		return -ENOMEM;
	t->cpu = slot;
	return 0;
}

uint32_t visor_map_cpu(void)
{
	return visor_cur_cpu();
}
