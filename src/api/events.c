/* Ring buffers (BPF_RINGBUF_OUTPUT) and perf buffers (BPF_PERF_OUTPUT):
 * opened once per map, then polled together by visor_bpf_poll. On the
 * kernel through src/kernel's readers, on visor's engine through the maps'
 * own consumer calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/kernel.h>
#include <visor/maps.h>

#include "api_internal.h"

/* What a channel's callbacks get: the user's functions and context. Kept
 * apart from the channel, which moves when the array grows. */
struct cb {
	visor_bpf_event_fn fn;
	visor_bpf_lost_fn lost;
	void *ctx;
};

struct api_channel {
	char *map;
	struct cb *cb;
	struct visor_kernel_ringbuf *krb;
	struct visor_kernel_perfbuf *kpb;
	struct visor_map *vrb;             /* VM ring buffer */
	struct visor_perf_buffer *vpb;     /* VM perf buffer */
};

/* A new channel for map at the end of b->channels (counted by the caller
 * once it is open): 0 and *out, or -errno with the message in b. */
static int channel_new(struct visor_bpf *b, const char *map, struct cb *cb,
		       struct api_channel **out)
{
	if (!map || !cb->fn)
		return api_err(b, -EINVAL, "open buffer: needs a map name and a callback");
	for (size_t i = 0; i < b->nchannels; i++)
		if (!strcmp(b->channels[i].map, map))
			return api_err(b, -EBUSY, "%s: already open", map);
	struct api_channel *grown = realloc(b->channels, (b->nchannels + 1) * sizeof(*grown));
	if (!grown)
		return api_err(b, -ENOMEM, "out of memory");
	b->channels = grown;
	struct api_channel *c = &grown[b->nchannels];
	*c = (struct api_channel){.map = strdup(map), .cb = cb};
	if (!c->map)
		return api_err(b, -ENOMEM, "out of memory");
	*out = c;
	return 0;
}

static int vm_ring_sample(void *ctx, void *data, size_t size)
{
	struct cb *c = ctx;
	int r = c->fn(c->ctx, data, size);
	return r > 0 ? -r : r; /* the consumer stops on a negative value */
}

static void vm_perf_sample(void *ctx, int cpu, void *data, uint32_t size)
{
	struct cb *c = ctx;
	c->fn(c->ctx, data, size);
}

static void vm_perf_lost(void *ctx, int cpu, uint64_t cnt)
{
	struct cb *c = ctx;
	if (c->lost)
		c->lost(c->ctx, cpu, cnt);
}

static int open_buffer(struct visor_bpf *b, const char *map, bool ring, visor_bpf_event_fn fn,
		       visor_bpf_lost_fn lost, void *ctx)
{
	if (!b)
		return -EINVAL;
	struct visor_map *m = map ? visor_loaded_map(b->loaded, map) : NULL;
	if (map && !m)
		return api_err(b, -ENOENT, "no map named '%s'", map);
	uint32_t want = ring ? VISOR_MAP_TYPE_RINGBUF : VISOR_MAP_TYPE_PERF_EVENT_ARRAY;
	if (m && visor_map_type(m) != want)
		return api_err(b, -EINVAL, "map '%s' is a %s, not a %s", map,
			       visor_map_type_name(visor_map_type(m)), visor_map_type_name(want));
	struct cb *cb = malloc(sizeof(*cb));
	if (!cb)
		return api_err(b, -ENOMEM, "out of memory");
	*cb = (struct cb){fn, lost, ctx};
	struct api_channel *c = NULL;
	int rc = channel_new(b, map, cb, &c);
	if (rc) {
		free(cb);
		return rc;
	}
	char err[512] = "";
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k && ring)
		rc = visor_kernel_ringbuf_open(k, map, (visor_kernel_sample_fn)fn, ctx, &c->krb, err,
					       sizeof(err));
	else if (k)
		rc = visor_kernel_perfbuf_open(k, map, (visor_kernel_sample_fn)fn,
					       (visor_kernel_lost_fn)lost, ctx, &c->kpb, err,
					       sizeof(err));
	else if (ring)
		c->vrb = m;
	else {
		VISOR_OPTS(visor_perf_buffer_opts, po, .page_cnt = 8, .sample_cb = vm_perf_sample,
			   .lost_cb = vm_perf_lost, .ctx = cb, .errbuf = err, .errbuf_len = sizeof(err));
		rc = visor_perf_buffer_new(m, &po, &c->vpb);
	}
	if (rc) {
		free(c->map);
		free(cb);
		return api_err(b, rc, "%s", err[0] ? err : strerror(-rc));
	}
	b->nchannels++;
	return 0;
}

int visor_bpf_open_ring_buffer(struct visor_bpf *b, const char *map, visor_bpf_event_fn fn,
			       void *ctx)
{
	return open_buffer(b, map, true, fn, NULL, ctx);
}

int visor_bpf_open_perf_buffer(struct visor_bpf *b, const char *map, visor_bpf_event_fn fn,
			       visor_bpf_lost_fn lost, void *ctx)
{
	return open_buffer(b, map, false, fn, lost, ctx);
}

/* Every channel once without waiting: records handled or -errno. */
static int poll_once(struct visor_bpf *b, int timeout_ms)
{
	int total = 0;
	for (size_t i = 0; i < b->nchannels; i++) {
		struct api_channel *c = &b->channels[i];
		int rc;
		if (c->krb)
			rc = visor_kernel_ringbuf_poll(c->krb, timeout_ms);
		else if (c->kpb)
			rc = visor_kernel_perfbuf_poll(c->kpb, timeout_ms);
		else if (c->vrb)
			rc = visor_ringbuf_poll(c->vrb, vm_ring_sample, c->cb, timeout_ms);
		else
			rc = visor_perf_buffer_poll(c->vpb, timeout_ms);
		if (rc < 0)
			return rc == -EINTR ? rc : api_err(b, rc, "%s: poll: %s", c->map, strerror(-rc));
		total += rc;
	}
	return total;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int visor_bpf_poll(struct visor_bpf *b, int timeout_ms)
{
	if (!b)
		return -EINVAL;
	if (!b->nchannels)
		return api_err(b, -ENOENT, "poll: no ring or perf buffer is open");
	if (b->nchannels == 1)
		return poll_once(b, timeout_ms);
	/* Several: each in turn without blocking, sleeping a little between. */
	double end = now_s() + (timeout_ms < 0 ? 1e9 : timeout_ms / 1000.0);
	for (;;) {
		int rc = poll_once(b, 0);
		if (rc != 0 || now_s() >= end)
			return rc;
		nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
	}
}

void api_channels_free(struct visor_bpf *b)
{
	for (size_t i = 0; i < b->nchannels; i++) {
		struct api_channel *c = &b->channels[i];
		visor_kernel_ringbuf_free(c->krb);
		visor_kernel_perfbuf_free(c->kpb);
		visor_perf_buffer_free(c->vpb);
		free(c->cb);
		free(c->map);
	}
	free(b->channels);
	b->channels = NULL;
	b->nchannels = 0;
}
