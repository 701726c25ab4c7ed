/* Ring buffer (BPF_MAP_TYPE_RINGBUF) with the kernel's layout and protocol.
 *
 * Memory: a page of bookkeeping, the consumer position page, the producer
 * position page, then the data area mapped twice in a row (a memfd mapped
 * at two addresses), so a record that wraps around the end is still one
 * contiguous range, as in the kernel. Records: an 8-byte header {u32 len,
 * u32 pg_off} then the sample, rounded up to 8 bytes. Producers serialise
 * on a spinlock to reserve (write the header with the BUSY bit, advance the
 * producer position); committing clears BUSY (and sets DISCARD to drop)
 * with one atomic exchange, without the lock, in any order. The consumer
 * reads records in order and stops at the first one still BUSY. pg_off
 * lets submit/discard find the ring from the sample pointer alone. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map_internal.h"

#define RB_MAGIC 0x7669736f72726266ULL /* "visorrbf" */
#define RB_META_PAGES 3
#define RINGBUF_MAX_RECORD_SZ (UINT32_MAX / 4)

struct rb_meta { /* page 0 of the mapping */
	uint64_t magic;
	struct rb_map *rb;
};

struct rb_map {
	struct visor_map map;
	uint8_t *base;   /* the mapping */
	size_t map_len;
	size_t page;
	uint8_t *data;   /* base + RB_META_PAGES pages; valid for 2 * size bytes */
	uint64_t mask;
	_Atomic uint64_t *consumer_pos;
	_Atomic uint64_t *producer_pos;
	uint64_t *pending_pos; /* oldest record that may still be BUSY */
	visor_spin_t lock;
	pthread_mutex_t consume_lock;
	int efd;
	struct rb_map *reg_next;
};

struct rb_hdr {
	_Atomic uint32_t len;
	uint32_t pg_off;
};

#define RB(m) container_of(m, struct rb_map, map)

/* Rings by address, to validate the samples given to submit/discard. */
static pthread_rwlock_t rb_reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct rb_map *rb_reg;

static int rb_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		    size_t errlen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t n = o->max_entries;
	if (o->key_size || o->value_size)
		return visor_errf(err, errlen, -EINVAL,
				      "key_size and value_size must be 0 (got %u, %u)", o->key_size,
				      o->value_size);
	if (!n || (n & (n - 1)) || n % page)
		return visor_errf(err, errlen, -EINVAL,
				      "max_entries %u: the size in bytes must be a power of 2 and "
				      "a multiple of the page size %zu", n, page);
	struct rb_map *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	rb->page = page;
	rb->mask = n - 1;
	size_t file_len = RB_META_PAGES * page + n;
	rb->map_len = file_len + n;
	rb->efd = -1;
	int fd = memfd_create("visor-ringbuf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)file_len))
		goto fail;
	void *base = mmap(NULL, rb->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	rb->base = base;
	if (mmap(base, file_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
		    MAP_FAILED ||
	    mmap((uint8_t *)base + file_len, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)(RB_META_PAGES * page)) == MAP_FAILED)
		goto fail;
	close(fd);
	fd = -1;
	if ((rb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		goto fail;
	struct rb_meta *meta = base;
	meta->magic = RB_MAGIC;
	meta->rb = rb;
	rb->consumer_pos = (_Atomic uint64_t *)(rb->base + page);
	rb->producer_pos = (_Atomic uint64_t *)(rb->base + 2 * page);
	rb->pending_pos = (uint64_t *)(rb->base + 2 * page + 8);
	rb->data = rb->base + RB_META_PAGES * page;
	pthread_mutex_init(&rb->consume_lock, NULL);
	visor_map_init_common(&rb->map, o, &visor_ringbuf_ops);
	pthread_rwlock_wrlock(&rb_reg_lock);
	rb->reg_next = rb_reg;
	rb_reg = rb;
	pthread_rwlock_unlock(&rb_reg_lock);
	*out = &rb->map;
	return 0;
fail:
	visor_errf(err, errlen, -ENOMEM, "cannot map %u bytes twice: %s", n, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rb->base)
		munmap(rb->base, rb->map_len);
	free(rb);
	return -ENOMEM;
}

static void rb_free(struct visor_map *m)
{
	struct rb_map *rb = RB(m);
	pthread_rwlock_wrlock(&rb_reg_lock);
	for (struct rb_map **pp = &rb_reg; *pp; pp = &(*pp)->reg_next)
		if (*pp == rb) {
			*pp = rb->reg_next;
			break;
		}
	pthread_rwlock_unlock(&rb_reg_lock);
	munmap(rb->base, rb->map_len);
	close(rb->efd);
	pthread_mutex_destroy(&rb->consume_lock);
	free(rb);
}

static inline uint32_t rec_len(uint32_t hdr_len)
{
	return (uint32_t)ROUND8((hdr_len & ~(VISOR_RINGBUF_BUSY_BIT | VISOR_RINGBUF_DISCARD_BIT)) +
			       VISOR_RINGBUF_HDR_SZ);
}

static void notify(struct rb_map *rb)
{
	uint64_t one = 1;
	ssize_t r = write(rb->efd, &one, sizeof(one));
	(void)r; /* a full counter already means "wake up" */
}

void *visor_ringbuf_reserve(struct visor_map *m, uint64_t size, uint64_t flags)
{
	if (m->type != VISOR_MAP_TYPE_RINGBUF || flags || size > RINGBUF_MAX_RECORD_SZ)
		return NULL;
	struct rb_map *rb = RB(m);
	uint64_t len = ROUND8(size + VISOR_RINGBUF_HDR_SZ);
	if (len > rb->mask + 1)
		return NULL;
	uint64_t cons = atomic_load_explicit(rb->consumer_pos, memory_order_acquire);

	visor_spin_lock(&rb->lock);
	uint64_t prod = atomic_load_explicit(rb->producer_pos, memory_order_relaxed);
	uint64_t pend = *rb->pending_pos;
	while (pend < prod) {
		struct rb_hdr *h = (struct rb_hdr *)(rb->data + (pend & rb->mask));
		uint32_t hl = atomic_load_explicit(&h->len, memory_order_acquire);
		if (hl & VISOR_RINGBUF_BUSY_BIT)
			break;
		pend += rec_len(hl);
	}
	*rb->pending_pos = pend;
	/* At most size - 1 bytes ahead of the consumer and of the oldest
	 * uncommitted record, as the kernel. */
	uint64_t new_prod = prod + len;
	if (new_prod - cons > rb->mask || new_prod - pend > rb->mask) {
		visor_spin_unlock(&rb->lock);
		return NULL;
	}
	struct rb_hdr *h = (struct rb_hdr *)(rb->data + (prod & rb->mask));
	h->pg_off = (uint32_t)(((uint8_t *)h - rb->base) / rb->page);
	atomic_store_explicit(&h->len, (uint32_t)size | VISOR_RINGBUF_BUSY_BIT,
			      memory_order_relaxed);
	atomic_store_explicit(rb->producer_pos, new_prod, memory_order_release);
	visor_spin_unlock(&rb->lock);
	return (uint8_t *)h + VISOR_RINGBUF_HDR_SZ;
}

/* The ring a sample belongs to, or NULL if it is not a pending reservation. */
static struct rb_map *sample_ring(void *sample)
{
	uint8_t *hp = (uint8_t *)sample - VISOR_RINGBUF_HDR_SZ;
	struct rb_map *found = NULL;
	pthread_rwlock_rdlock(&rb_reg_lock);
	for (struct rb_map *rb = rb_reg; rb; rb = rb->reg_next)
		if (hp >= rb->data && hp < rb->data + rb->mask + 1) {
			found = rb;
			break;
		}
	pthread_rwlock_unlock(&rb_reg_lock);
	if (!found || (uintptr_t)hp % 8)
		return NULL;
	struct rb_hdr *h = (struct rb_hdr *)hp;
	/* As the kernel: the page offset leads from the header to the ring. */
	uint8_t *base = (uint8_t *)((uintptr_t)hp & ~(uintptr_t)(found->page - 1)) -
			(size_t)h->pg_off * found->page;
	if (base != found->base || ((struct rb_meta *)base)->magic != RB_MAGIC ||
	    !(atomic_load(&h->len) & VISOR_RINGBUF_BUSY_BIT))
		return NULL;
	return found;
}

static int commit(void *sample, uint64_t flags, bool discard)
{
	struct rb_map *rb = sample_ring(sample);
	if (!rb)
		return -EINVAL;
	struct rb_hdr *h = (struct rb_hdr *)((uint8_t *)sample - VISOR_RINGBUF_HDR_SZ);
	uint32_t len = atomic_load_explicit(&h->len, memory_order_relaxed) & ~VISOR_RINGBUF_BUSY_BIT;
	if (discard)
		len |= VISOR_RINGBUF_DISCARD_BIT;
	atomic_exchange(&h->len, len); /* publishes the sample to the consumer */
	/* Wake the consumer only if it is waiting for this very record. */
	uint64_t rec_pos = (uint64_t)((uint8_t *)h - rb->data);
	uint64_t cons = atomic_load_explicit(rb->consumer_pos, memory_order_acquire) & rb->mask;
	if (flags & VISOR_RB_FORCE_WAKEUP)
		notify(rb);
	else if (cons == rec_pos && !(flags & VISOR_RB_NO_WAKEUP))
		notify(rb);
	return 0;
}

int visor_ringbuf_submit(void *sample, uint64_t flags)
{
	return commit(sample, flags, false);
}

int visor_ringbuf_discard(void *sample, uint64_t flags)
{
	return commit(sample, flags, true);
}

int visor_ringbuf_output(struct visor_map *m, const void *data, uint64_t size, uint64_t flags)
{
	if (flags & ~(uint64_t)(VISOR_RB_NO_WAKEUP | VISOR_RB_FORCE_WAKEUP))
		return -EINVAL;
	void *s = visor_ringbuf_reserve(m, size, 0);
	if (!s)
		return m->type == VISOR_MAP_TYPE_RINGBUF ? -EAGAIN : -EINVAL;
	memcpy(s, data, size);
	return commit(s, flags, false);
}

uint64_t visor_ringbuf_query(struct visor_map *m, uint64_t flags)
{
	if (m->type != VISOR_MAP_TYPE_RINGBUF)
		return 0;
	struct rb_map *rb = RB(m);
	uint64_t cons = atomic_load(rb->consumer_pos), prod = atomic_load(rb->producer_pos);
	switch (flags) {
	case VISOR_RB_AVAIL_DATA:
		return prod - cons;
	case VISOR_RB_RING_SIZE:
		return rb->mask + 1;
	case VISOR_RB_CONS_POS:
		return cons;
	case VISOR_RB_PROD_POS:
		return prod;
	default:
		return 0;
	}
}

int visor_ringbuf_consume(struct visor_map *m, visor_ringbuf_sample_fn cb, void *ctx)
{
	if (!m || m->type != VISOR_MAP_TYPE_RINGBUF || !cb)
		return -EINVAL;
	struct rb_map *rb = RB(m);
	int cnt = 0;
	bool more;
	pthread_mutex_lock(&rb->consume_lock);
	uint64_t cons = atomic_load_explicit(rb->consumer_pos, memory_order_relaxed);
	do {
		more = false;
		uint64_t prod = atomic_load_explicit(rb->producer_pos, memory_order_acquire);
		while (cons < prod) {
			struct rb_hdr *h = (struct rb_hdr *)(rb->data + (cons & rb->mask));
			uint32_t len = atomic_load_explicit(&h->len, memory_order_acquire);
			if (len & VISOR_RINGBUF_BUSY_BIT)
				goto done;
			more = true;
			cons += rec_len(len);
			if (!(len & VISOR_RINGBUF_DISCARD_BIT)) {
				int err = cb(ctx, (uint8_t *)h + VISOR_RINGBUF_HDR_SZ, len);
				if (err < 0) {
					atomic_store_explicit(rb->consumer_pos, cons,
							      memory_order_release);
					pthread_mutex_unlock(&rb->consume_lock);
					return err;
				}
				cnt++;
			}
			/* Released after the callback: the space is reusable now. */
			atomic_store_explicit(rb->consumer_pos, cons, memory_order_release);
		}
	} while (more);
done:
	pthread_mutex_unlock(&rb->consume_lock);
	return cnt;
}

static void drain(struct rb_map *rb)
{
	uint64_t v;
	while (read(rb->efd, &v, sizeof(v)) == sizeof(v))
		;
}

int visor_ringbuf_poll(struct visor_map *m, visor_ringbuf_sample_fn cb, void *ctx,
		       int timeout_ms)
{
	if (!m || m->type != VISOR_MAP_TYPE_RINGBUF || !cb)
		return -EINVAL;
	struct rb_map *rb = RB(m);
	drain(rb);
	int n = visor_ringbuf_consume(m, cb, ctx);
	if (n || !timeout_ms)
		return n;
	struct pollfd p = {.fd = rb->efd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	drain(rb);
	return visor_ringbuf_consume(m, cb, ctx);
}

int visor_ringbuf_fd(const struct visor_map *m)
{
	if (!m || m->type != VISOR_MAP_TYPE_RINGBUF)
		return -EINVAL;
	return container_of(m, struct rb_map, map)->efd;
}

static bool rb_value_ok(const struct visor_map *m, const void *ptr, size_t len)
{
	const struct rb_map *rb = container_of(m, struct rb_map, map);
	const uint8_t *p = ptr;
	return p >= rb->data && p + len <= rb->data + 2 * (rb->mask + 1);
}

const struct visor_map_ops visor_ringbuf_ops = {
	.alloc = rb_alloc,
	.free = rb_free,
	.value_ok = rb_value_ok,
	.batch_unsupported = true,
};
