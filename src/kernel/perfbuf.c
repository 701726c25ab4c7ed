/* Perf buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY) of a loaded object: one
 * mmap'd ring per CPU, read through libbpf's perf_buffer. Unlike ring
 * buffers, records are ordered only per CPU, and the kernel drops records
 * when a CPU's ring is full, which lost_fn is told. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>

#include "kernel_internal.h"
#include "kobj.h"

/* Pages per CPU ring (a power of two): 256 KiB with 4 KiB pages. */
#define PERFBUF_PAGES 64

struct visor_kernel_perfbuf {
	struct perf_buffer *pb;
	visor_kernel_sample_fn fn;
	visor_kernel_lost_fn lost;
	void *ctx;
	int stop;       /* a callback's non-zero value, returned by poll */
};

/* libbpf's perf sample callback cannot stop a poll: once the caller asked
 * to stop, the rest of this poll's records are passed over. */
static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	struct visor_kernel_perfbuf *p = ctx;
	(void)cpu;
	if (p->stop)
		return;
	p->stop = p->fn(p->ctx, data, size);
}

static void on_lost(void *ctx, int cpu, __u64 count)
{
	struct visor_kernel_perfbuf *p = ctx;
	if (p->lost)
		p->lost(p->ctx, cpu, count);
}

int visor_kernel_perfbuf_open(struct visor_kernel_obj *obj, const char *map,
			      visor_kernel_sample_fn fn, visor_kernel_lost_fn lost, void *ctx,
			      struct visor_kernel_perfbuf **pb, char *err, size_t err_len)
{
	*pb = NULL;
	if (!obj || !map || !fn)
		return visor_errf(err, err_len, -EINVAL, "perf buffer: no object, map or callback");
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, map);
	if (!m)
		return visor_errf(err, err_len, -ENOENT, "%s: no map named '%s'", obj->path, map);
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	if (in->type != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		const char *tn = visor_kernel_map_type_name(in->type);
		return visor_errf(err, err_len, -EINVAL,
				  "map '%s' is a %s, not a perf buffer (perf_event_array)", map,
				  tn ? tn : "map of another type");
	}
	struct visor_kernel_perfbuf *p = calloc(1, sizeof(*p));
	if (!p)
		return visor_errf(err, err_len, -ENOMEM, "perf buffer '%s': out of memory", map);
	p->fn = fn;
	p->lost = lost;
	p->ctx = ctx;
	p->pb = perf_buffer__new(visor_kernel_map_fd(m), PERFBUF_PAGES, on_sample, on_lost, p,
				 NULL);
	if (!p->pb) {
		int e = errno ? errno : ENOMEM;
		free(p);
		char hint[160];
		if (e == EPERM || e == EACCES)
			return visor_errf(err, err_len, -e, "perf buffer '%s': %s", map,
					  kernel_privilege_hint(e, "opening perf events", hint,
								sizeof(hint)));
		return visor_errf(err, err_len, -e, "perf buffer '%s': perf_event_open: %s", map,
				  kernel_strerror(e));
	}
	*pb = p;
	return 0;
}

int visor_kernel_perfbuf_poll(struct visor_kernel_perfbuf *pb, int timeout_ms)
{
	if (!pb)
		return -EINVAL;
	pb->stop = 0;
	int n = perf_buffer__poll(pb->pb, timeout_ms);
	if (pb->stop)
		return pb->stop;
	return n;
}

void visor_kernel_perfbuf_free(struct visor_kernel_perfbuf *pb)
{
	if (!pb)
		return;
	perf_buffer__free(pb->pb);
	free(pb);
}
