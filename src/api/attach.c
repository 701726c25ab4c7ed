/* Attaching (kernel backend): BCC's auto-attach by function name, and the
 * explicit visor_bpf_attach_* calls, all through visor_kernel_attach, which
 * keeps every link in the kernel object (so visor_bpf_free, closing it,
 * detaches everything). Notes (the kprobe fallback, generic XDP) go to the
 * diagnostics stream once. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/kernel.h>

#include "api_internal.h"

static struct visor_kernel_obj *kobj(struct visor_bpf *b, const char *what)
{
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (!k)
		api_err(b, -EOPNOTSUPP, "%s: attaching is the kernel backend's; this object runs on visor's engine (visor_bpf_test_run)",
			what);
	return k;
}

/* One attach: 0 or -errno with the message; notes printed once. */
static int attach(struct visor_bpf *b, const char *fn, const struct visor_kernel_attach_opts *o,
		  struct visor_kernel_link **link)
{
	if (!b)
		return -EINVAL;
	if (!fn)
		return api_err(b, -EINVAL, "attach: no function name");
	struct visor_kernel_obj *k = kobj(b, fn);
	if (!k)
		return -EOPNOTSUPP;
	char note[1024] = "", err[sizeof(b->errmsg)] = "";
	int rc = visor_kernel_attach(k, fn, o, link, note, sizeof(note), err, sizeof(err));
	if (note[0])
		api_note(b, note);
	if (rc)
		return api_err(b, rc, "%s", err);
	b->errmsg[0] = 0;
	return 0;
}

int visor_bpf_attach_kprobe(struct visor_bpf *b, const char *event, const char *fn)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_KPROBE,
		      .target = event);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_attach_kretprobe(struct visor_bpf *b, const char *event, const char *fn)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_KPROBE,
		      .target = event, .retprobe = true);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_attach_tracepoint(struct visor_bpf *b, const char *tp, const char *fn)
{
	char target[256];
	snprintf(target, sizeof(target), "%s", tp ? tp : "");
	char *colon = strchr(target, ':'); /* BCC's "category:event" */
	if (colon)
		*colon = '/';
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_TRACEPOINT,
		      .target = target);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_attach_raw_tracepoint(struct visor_bpf *b, const char *tp, const char *fn)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_RAW_TRACEPOINT,
		      .target = tp);
	return attach(b, fn, &o, NULL);
}

static int uprobe(struct visor_bpf *b, const char *name, const char *sym, const char *fn,
		  int pid, bool ret)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_UPROBE,
		      .target = name, .func = sym, .pid = pid, .retprobe = ret);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_attach_uprobe(struct visor_bpf *b, const char *name, const char *sym,
			    const char *fn, int pid)
{
	return uprobe(b, name, sym, fn, pid, false);
}

int visor_bpf_attach_uretprobe(struct visor_bpf *b, const char *name, const char *sym,
			       const char *fn, int pid)
{
	return uprobe(b, name, sym, fn, pid, true);
}

/* The link made on dev by attach_xdp, to remove it. visor_kernel_link has
 * no device accessor: its description names it ("xdp on DEV ..."). */
static struct visor_kernel_link *xdp_link(struct visor_bpf *b, const char *dev)
{
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	char want[64];
	snprintf(want, sizeof(want), "xdp on %s", dev);
	size_t n = strlen(want);
	for (size_t i = 0; k && visor_kernel_obj_link_at(k, i); i++) {
		struct visor_kernel_link *l = visor_kernel_obj_link_at(k, i);
		const char *d = visor_kernel_link_describe(l);
		if (!strncmp(d, want, n) && (d[n] == 0 || d[n] == ' '))
			return l;
	}
	return NULL;
}

int visor_bpf_attach_xdp(struct visor_bpf *b, const char *dev, const char *fn, unsigned flags)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_XDP, .target = dev,
		      .generic = (flags & VISOR_BPF_XDP_GENERIC) != 0);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_remove_xdp(struct visor_bpf *b, const char *dev)
{
	if (!b || !dev)
		return -EINVAL;
	struct visor_kernel_link *l = xdp_link(b, dev);
	if (!l)
		return api_err(b, -ENOENT, "no XDP program of this object on %s", dev);
	visor_kernel_link_destroy(l);
	return 0;
}

/* fn loaded again from the same object as a program of type type (BCC's
 * load_func), sharing the maps; kept until visor_bpf_free. */
static int sibling(struct visor_bpf *b, const char *fn, uint32_t type,
		   struct visor_kernel_obj **out)
{
	struct visor_kernel_obj **grown =
		realloc(b->siblings, (b->nsiblings + 1) * sizeof(*grown));
	if (!grown)
		return api_err(b, -ENOMEM, "out of memory");
	b->siblings = grown;
	const char *progs[] = {fn};
	const uint32_t types[] = {type};
	LIBVISOR_OPTS(visor_kernel_obj_opts, o, .progs = progs, .nprogs = 1, .prog_types = types,
		      .log_level = 1, .share_maps = visor_loaded_kernel_obj(b->loaded));
	char err[sizeof(b->errmsg)];
	struct visor_kernel_obj *k;
	int rc = visor_kernel_obj_load(b->obj_path, &o, &k, err, sizeof(err));
	if (rc)
		return api_err(b, rc, "%s", err);
	b->siblings[b->nsiblings++] = k;
	*out = k;
	return 0;
}

int visor_bpf_attach_tc(struct visor_bpf *b, const char *dev, const char *fn, bool egress)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_TC, .target = dev,
		      .egress = egress);
	int type = b && fn ? visor_bpf_prog_type(b, fn) : -EINVAL;
	if (type < 0)
		return type;
	if (type == 3 /* BPF_PROG_TYPE_SCHED_CLS */ || type == 4 /* SCHED_ACT */)
		return attach(b, fn, &o, NULL);
	/* A struct __sk_buff * function is a socket filter to the front end:
	 * tc runs it as SCHED_CLS (the same context). */
	struct visor_kernel_obj *k = NULL;
	int rc = sibling(b, fn, 3, &k);
	if (rc)
		return rc;
	char note[512] = "", err[sizeof(b->errmsg)] = "";
	rc = visor_kernel_attach(k, fn, &o, NULL, note, sizeof(note), err, sizeof(err));
	if (note[0])
		api_note(b, note);
	return rc ? api_err(b, rc, "%s", err) : 0;
}

int visor_bpf_attach_raw_socket(struct visor_bpf *b, const char *fn, const char *dev)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_SOCKET,
		      .target = dev);
	struct visor_kernel_link *l = NULL;
	int rc = attach(b, fn, &o, &l);
	if (rc)
		return rc;
	int fd = visor_kernel_link_fd(l);
	return fd >= 0 ? fd : api_err(b, -EBADF, "socket filter on %s: no socket", dev);
}

int visor_bpf_attach_perf_event(struct visor_bpf *b, const char *fn, uint64_t freq)
{
	LIBVISOR_OPTS(visor_kernel_attach_opts, o, .kind = VISOR_KERNEL_ATTACH_PERF_EVENT,
		      .freq = freq, .pid = -1);
	return attach(b, fn, &o, NULL);
}

int visor_bpf_attach_auto(struct visor_bpf *b, const char *fn)
{
	if (!b)
		return -EINVAL;
	if (fn)
		return attach(b, fn, NULL, NULL);
	struct visor_kernel_obj *k = kobj(b, "attach");
	if (!k)
		return -EOPNOTSUPP;
	/* Twice (or after visor_bpf_new's own auto-attach) would run every
	 * program twice per event. */
	if (visor_kernel_obj_link_at(k, 0))
		return api_err(b, -EEXIST, "attach: this object's programs are already attached (visor_bpf_detach_all first)");
	char note[2048] = "", err[sizeof(b->errmsg)] = "";
	int rc = visor_kernel_attach_all(k, note, sizeof(note), err, sizeof(err));
	if (note[0])
		api_note(b, note);
	return rc ? api_err(b, rc, "%s", err) : 0;
}

void visor_bpf_detach_all(struct visor_bpf *b)
{
	struct visor_kernel_obj *k = b ? visor_loaded_kernel_obj(b->loaded) : NULL;
	if (k)
		visor_kernel_obj_detach_all(k);
	for (size_t i = 0; b && i < b->nsiblings; i++)
		visor_kernel_obj_detach_all(b->siblings[i]);
}

void api_forget_links(struct visor_bpf *b)
{
	visor_bpf_detach_all(b);
	for (size_t i = 0; i < b->nsiblings; i++)
		visor_kernel_obj_close(b->siblings[i]);
	free(b->siblings);
	b->siblings = NULL;
	b->nsiblings = 0;
}

/* ---- BCC's auto-attach ------------------------------------------------------ */

static const char *after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncmp(s, prefix, n) && s[n] ? s + n : NULL;
}

/* Sections naming their attach point (set by the front end from the
 * function's name, or written by the user): attached as they say. */
static bool section_has_target(const char *sec)
{
	static const char *const kinds[] = {"kprobe/", "kretprobe/", "tracepoint/", "tp/",
					    "raw_tracepoint/", "raw_tp/", "fentry/", "fexit/",
					    "tp_btf/", "uprobe/", "uretprobe/"};
	for (size_t i = 0; sec && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (after(sec, kinds[i]))
			return true;
	return false;
}

int api_autoattach(struct visor_bpf *b)
{
	for (size_t i = 0; i < visor_bpf_prog_count(b); i++) {
		const char *fn = visor_bpf_prog_name(b, i), *t;
		const char *sec = visor_bpf_prog_section(b, fn);
		int rc;
		if (after(fn, "syscall__"))
			continue; /* BCC attaches these explicitly (attach_kprobe) */
		if ((t = after(fn, "kprobe__"))) {
			rc = visor_bpf_attach_kprobe(b, t, fn);
		} else if ((t = after(fn, "kretprobe__"))) {
			rc = visor_bpf_attach_kretprobe(b, t, fn);
		} else if ((t = after(fn, "tracepoint__"))) {
			/* tracepoint__CAT__EVENT */
			char tp[256];
			snprintf(tp, sizeof(tp), "%s", t);
			char *sep = strstr(tp, "__");
			if (!sep)
				return api_err(b, -EINVAL, "%s: expected tracepoint__CATEGORY__EVENT", fn);
			*sep = '/';
			memmove(sep + 1, sep + 2, strlen(sep + 2) + 1);
			rc = visor_bpf_attach_tracepoint(b, tp, fn);
		} else if ((t = after(fn, "raw_tracepoint__"))) {
			rc = visor_bpf_attach_raw_tracepoint(b, t, fn);
		} else if (after(fn, "kfunc__") || after(fn, "kretfunc__") ||
			   section_has_target(sec)) {
			rc = attach(b, fn, NULL, NULL); /* by its section */
		} else {
			continue; /* XDP, tc, socket, perf event: attach_* says where */
		}
		if (rc)
			return rc;
	}
	return 0;
}
