/* Inside src/kernel/: an object loaded into the kernel and the links made
 * through it (kobj.c), shared with the attach code (attach.c, attach_net.c)
 * and the output channels (ringbuf.c, perfbuf.c). */
#ifndef VISOR_KERNEL_KOBJ_H
#define VISOR_KERNEL_KOBJ_H

#include <visor/kernel.h>

struct bpf_object;
struct bpf_program;
struct bpf_link;

struct visor_kernel_link {
	struct visor_kernel_obj *obj;
	struct bpf_link *link;      /* libbpf's link, or NULL when detach does it */
	int fd;                     /* an fd the link owns (a raw socket ...), -1 if none */
	/* Custom detach (a clsact filter, a socket option ...), NULL if
	 * destroying link and closing fd is all. */
	void (*detach)(struct visor_kernel_link *l);
	void *priv;                 /* for detach */
	char desc[160];
	struct visor_kernel_link *next;
};

struct visor_kernel_obj {
	struct bpf_object *bpf;
	struct visor_kernel_link *links;
	struct visor_kernel_map **maps; /* wrappers made on demand, by map index */
	size_t nmaps;
	char path[256];
};

/* A new link recorded in obj (fd -1, no detach); NULL on ENOMEM. */
struct visor_kernel_link *kernel_link_new(struct visor_kernel_obj *obj);
/* The program called name, or NULL. */
struct bpf_program *kernel_obj_prog(struct visor_kernel_obj *obj, const char *name);
/* One line naming the missing privilege for err (-EPERM / -EACCES of bpf(),
 * perf_event_open or netlink), into buf; returns buf. */
const char *kernel_privilege_hint(int err, const char *what, char *buf, size_t len);

/* attach.c: kprobes on syscalls become tracepoint programs before load
 * when the kernel has no kprobes (it refuses a kprobe program on a
 * tracepoint event); kobj.c calls it for each program. */
void kernel_prepare_kprobe_fallback(struct bpf_program *prog);

/* attach_net.c: XDP and tc for attach.c's dispatcher. l is already in obj's
 * list; on error the caller destroys it. */
int kernel_attach_xdp(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
		      struct visor_kernel_link *l, char *note, size_t note_len, char *err,
		      size_t err_len);
int kernel_attach_tc(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
		     struct visor_kernel_link *l, char *note, size_t note_len, char *err,
		     size_t err_len);

/* attach_cgroup.c: a cgroup_skb program on the cgroup v2 directory
 * o->target, egress when o->egress; same contract as the two above. */
int kernel_attach_cgroup_skb(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
			     struct visor_kernel_link *l, char *err, size_t err_len);

#endif
