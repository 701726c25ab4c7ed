/* Perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY) and its consumer, the
 * perf buffer. In the kernel each slot holds a perf event of one CPU and
 * bpf_perf_event_output() writes a PERF_RECORD_SAMPLE into that event's
 * ring; libbpf's perf_buffer opens one event per CPU and stores it in the
 * slot of that CPU. Here visor_perf_buffer_new installs one ring per CPU
 * index (a visor ring buffer: its producers, consumer and wakeups are
 * reused), and records carry the kernel's raw sample size: the data
 * zero-padded so that size field and data fill whole u64 words. */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "map_internal.h"

struct perf_slot {
	struct visor_map *ring;
	_Atomic uint64_t lost; /* samples that found the ring full */
	uint32_t cpu;
};

struct perf_array {
	struct visor_map map;
	_Atomic(struct perf_slot *) *slots;
	_Atomic(struct visor_perf_buffer *) consumer;
};

struct visor_perf_buffer {
	struct perf_array *pa;
	struct perf_slot *slots; /* n of them, slot i at index i */
	uint32_t n;
	int epfd;
	visor_perf_sample_fn sample_cb;
	visor_perf_lost_fn lost_cb;
	void *ctx;
};

#define PA(m) container_of(m, struct perf_array, map)

static int pa_alloc(const struct visor_map_create_opts *o, struct visor_map **out, char *err,
		    size_t errlen)
{
	if (!o->max_entries)
		return visor_errf(err, errlen, -EINVAL, "max_entries is 0");
	if (o->key_size != 4 || o->value_size != 4)
		return visor_errf(err, errlen, -EINVAL,
				      "key_size %u and value_size %u, both must be 4", o->key_size,
				      o->value_size);
	struct perf_array *pa = calloc(1, sizeof(*pa));
	if (!pa || !(pa->slots = calloc(o->max_entries, sizeof(*pa->slots)))) {
		free(pa);
		return visor_errf(err, errlen, -ENOMEM, "cannot allocate %u slots",
				      o->max_entries);
	}
	visor_map_init_common(&pa->map, o, &visor_perf_event_array_ops);
	*out = &pa->map;
	return 0;
}

static void pa_free(struct visor_map *m)
{
	/* A perf buffer holds a reference: none is left when the map goes. */
	free(PA(m)->slots);
	free(PA(m));
}

const struct visor_map_ops visor_perf_event_array_ops = {
	.alloc = pa_alloc,
	.free = pa_free,
	.get_next_key = visor_array_get_next_key,
	.batch_unsupported = true,
};

/* ---- Producer: bpf_perf_event_output ------------------------------------- */

int visor_perf_event_output(struct visor_map *map, uint64_t flags, const void *data,
			    uint64_t size, const void *ctx_data, uint64_t ctx_size)
{
	if (!map || map->type != VISOR_MAP_TYPE_PERF_EVENT_ARRAY)
		return -EINVAL;
	uint64_t index = flags & VISOR_F_INDEX_MASK;
	uint32_t cpu = visor_cur_cpu();
	if (index == VISOR_F_CURRENT_CPU)
		index = cpu;
	if (index >= map->max_entries)
		return -E2BIG;
	uint64_t sum = size + ctx_size;
	/* perf_prepare_sample(): u32 size + data rounded up to u64 words. */
	uint64_t raw = ((sum + 4 + 7) & ~(uint64_t)7) - 4;
	if (raw > UINT16_MAX)
		return -E2BIG; /* a perf record's size is 16 bits */
	visor_map_read_lock();
	struct perf_slot *s = atomic_load_explicit(&PA(map)->slots[index], memory_order_acquire);
	int err = 0;
	if (!s) {
		err = -ENOENT;
	} else if (s->cpu != cpu) {
		err = -EOPNOTSUPP; /* the event of another CPU (event->oncpu != cpu) */
	} else {
		uint8_t *rec = visor_ringbuf_reserve(s->ring, raw, 0);
		if (!rec) {
			atomic_fetch_add(&s->lost, 1);
			err = -ENOSPC;
		} else {
			memcpy(rec, data, size);
			memcpy(rec + size, ctx_data, ctx_size);
			memset(rec + sum, 0, raw - sum);
			visor_ringbuf_submit(rec, 0);
		}
	}
	visor_map_read_unlock();
	return err;
}

/* ---- Consumer: the perf buffer ------------------------------------------- */

void visor_perf_buffer_free(struct visor_perf_buffer *pb)
{
	if (!pb)
		return;
	struct perf_array *pa = pb->pa;
	for (uint32_t i = 0; i < pb->n; i++)
		atomic_store_explicit(&pa->slots[i], NULL, memory_order_release);
	visor_map_synchronize(); /* no producer still writes into the rings */
	for (uint32_t i = 0; i < pb->n; i++)
		visor_map_destroy(pb->slots[i].ring);
	atomic_store(&pa->consumer, NULL);
	if (pb->epfd >= 0)
		close(pb->epfd);
	free(pb->slots);
	visor_map_put(&pa->map);
	free(pb);
}

int visor_perf_buffer_new(struct visor_map *map, const struct visor_perf_buffer_opts *opts,
			  struct visor_perf_buffer **out)
{
	struct visor_perf_buffer_opts o = {0};
	if (out)
		*out = NULL;
	if (!opts || !out || opts->sz < offsetof(struct visor_perf_buffer_opts, ctx) + sizeof(void *))
		return -EINVAL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	char *eb = o.errbuf;
	size_t el = o.errbuf_len;
	if (!map || map->type != VISOR_MAP_TYPE_PERF_EVENT_ARRAY)
		return visor_errf(eb, el, -EINVAL, "perf buffer: not a perf_event_array map");
	if (!o.sample_cb)
		return visor_errf(eb, el, -EINVAL, "perf buffer: sample_cb is required");
	if (!o.page_cnt || (o.page_cnt & (o.page_cnt - 1)) || o.page_cnt > (1u << 16))
		return visor_errf(eb, el, -EINVAL,
				      "perf buffer: page_cnt %zu must be a power of two (at most 65536)",
				      o.page_cnt);
	struct perf_array *pa = PA(map);
	struct visor_perf_buffer *pb = calloc(1, sizeof(*pb));
	uint32_t n = visor_map_possible_cpus();
	if (n > map->max_entries)
		n = map->max_entries;
	if (!pb || !(pb->slots = calloc(n, sizeof(*pb->slots)))) {
		free(pb);
		return visor_errf(eb, el, -ENOMEM, "perf buffer: out of memory");
	}
	struct visor_perf_buffer *none = NULL;
	if (!atomic_compare_exchange_strong(&pa->consumer, &none, pb)) {
		free(pb->slots);
		free(pb);
		return visor_errf(eb, el, -EBUSY, "perf buffer: the map has a consumer already");
	}
	pb->pa = pa;
	visor_map_get(map);
	pb->sample_cb = o.sample_cb;
	pb->lost_cb = o.lost_cb;
	pb->ctx = o.ctx;
	pb->epfd = epoll_create1(EPOLL_CLOEXEC);
	int err = pb->epfd < 0 ? -errno : 0;
	for (uint32_t i = 0; i < n && !err; i++) {
		VISOR_OPTS(visor_map_create_opts, ro, .type = VISOR_MAP_TYPE_RINGBUF,
			   .max_entries = (uint32_t)(o.page_cnt * (size_t)sysconf(_SC_PAGESIZE)),
			   .name = "perf_buffer");
		pb->slots[i].cpu = i;
		err = visor_map_create(&ro, &pb->slots[i].ring);
		if (err)
			break;
		pb->n = i + 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(pb->epfd, EPOLL_CTL_ADD, visor_ringbuf_fd(pb->slots[i].ring), &ev))
			err = -errno;
	}
	if (err) {
		visor_perf_buffer_free(pb);
		return visor_errf(eb, el, err, "perf buffer: cannot set up the rings: %s",
				      strerror(-err));
	}
	for (uint32_t i = 0; i < n; i++)
		atomic_store_explicit(&pa->slots[i], &pb->slots[i], memory_order_release);
	*out = pb;
	return 0;
}

struct deliver {
	struct visor_perf_buffer *pb;
	uint32_t cpu;
};

static int deliver(void *ctx, void *data, size_t size)
{
	struct deliver *d = ctx;
	d->pb->sample_cb(d->pb->ctx, (int)d->cpu, data, (uint32_t)size);
	return 0;
}

static int consume_slot(struct visor_perf_buffer *pb, uint32_t i)
{
	uint64_t lost = atomic_exchange(&pb->slots[i].lost, 0);
	if (lost && pb->lost_cb)
		pb->lost_cb(pb->ctx, (int)i, lost);
	struct deliver d = {pb, i};
	return visor_ringbuf_consume(pb->slots[i].ring, deliver, &d);
}

int visor_perf_buffer_consume(struct visor_perf_buffer *pb)
{
	if (!pb)
		return -EINVAL;
	int total = 0;
	for (uint32_t i = 0; i < pb->n; i++) {
		int r = consume_slot(pb, i);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

int visor_perf_buffer_poll(struct visor_perf_buffer *pb, int timeout_ms)
{
	if (!pb)
		return -EINVAL;
	int pending = visor_perf_buffer_consume(pb);
	if (pending)
		return pending;
	struct epoll_event ev[16];
	int n = epoll_wait(pb->epfd, ev, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int k = 0; k < n; k++) {
		uint64_t drain;
		if (read(visor_ringbuf_fd(pb->slots[ev[k].data.u32].ring), &drain, sizeof(drain)) < 0 &&
		    errno != EAGAIN)
			return -errno;
	}
	return visor_perf_buffer_consume(pb);
}
