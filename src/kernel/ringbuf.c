/* Ring buffers (BPF_MAP_TYPE_RINGBUF) of a loaded object, read through
 * libbpf's ring_buffer: records arrive in the order they were committed,
 * and a producer never overwrites what user space has not consumed (it
 * fails its reserve instead, which the program can count). */
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>

#include "kernel_internal.h"
#include "kobj.h"

struct visor_kernel_ringbuf {
	struct ring_buffer *rb;
	visor_kernel_sample_fn fn;
	void *ctx;
	int stop;       /* a callback's non-zero value, returned by poll */
};

/* libbpf stops a poll only on a negative return: keep the caller's value
 * and stop with -ECANCELED, which poll turns back into that value. */
static int on_sample(void *ctx, void *data, size_t size)
{
	struct visor_kernel_ringbuf *r = ctx;
	int rc = r->fn(r->ctx, data, size);
	if (rc) {
		r->stop = rc;
		return -ECANCELED;
	}
	return 0;
}

int visor_kernel_ringbuf_open(struct visor_kernel_obj *obj, const char *map,
			      visor_kernel_sample_fn fn, void *ctx,
			      struct visor_kernel_ringbuf **rb, char *err, size_t err_len)
{
	*rb = NULL;
	if (!obj || !map || !fn)
		return visor_errf(err, err_len, -EINVAL, "ring buffer: no object, map or callback");
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, map);
	if (!m)
		return visor_errf(err, err_len, -ENOENT, "%s: no map named '%s'", obj->path, map);
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	if (in->type != BPF_MAP_TYPE_RINGBUF) {
		const char *tn = visor_kernel_map_type_name(in->type);
		return visor_errf(err, err_len, -EINVAL, "map '%s' is a %s, not a ring buffer", map,
				  tn ? tn : "map of another type");
	}
	struct visor_kernel_ringbuf *r = calloc(1, sizeof(*r));
	if (!r)
		return visor_errf(err, err_len, -ENOMEM, "ring buffer '%s': out of memory", map);
	r->fn = fn;
	r->ctx = ctx;
	r->rb = ring_buffer__new(visor_kernel_map_fd(m), on_sample, r, NULL);
	if (!r->rb) {
		int e = errno ? errno : ENOMEM;
		free(r);
		return visor_errf(err, err_len, -e, "ring buffer '%s': %s", map, kernel_strerror(e));
	}
	*rb = r;
	return 0;
}

int visor_kernel_ringbuf_poll(struct visor_kernel_ringbuf *rb, int timeout_ms)
{
	if (!rb)
		return -EINVAL;
	rb->stop = 0;
	int n = ring_buffer__poll(rb->rb, timeout_ms);
	if (rb->stop)
		return rb->stop;
	return n;
}

void visor_kernel_ringbuf_free(struct visor_kernel_ringbuf *rb)
{
	if (!rb)
		return;
	ring_buffer__free(rb->rb);
	free(rb);
}
