/* XDP and tc attachments for attach.c's dispatcher. Both are bpf_links when
 * the kernel allows it, so a process killed with SIGKILL leaves nothing on
 * the interface: XDP through BPF_LINK_CREATE (native mode asked for
 * explicitly, so a driver without it is noticed and generic mode used with
 * a note), tc through tcx links (Linux 6.6+), else a clsact qdisc and a
 * filter made over netlink, which do outlive the process. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_internal.h"
#include "kobj.h"

/* UAPI numbers of enum bpf_attach_type that linux-libc-dev 6.1 (and the
 * libbpf 1.1 headers) do not have yet; they never change. */
enum {
	NET_BPF_TCX_INGRESS = 46,
	NET_BPF_TCX_EGRESS = 47,
};

/* The interface's index in the caller's network namespace, or -ENODEV. */
static int net_ifindex(const char *target, const char *what, char *err, size_t err_len)
{
	if (!target || !*target)
		return visor_errf(err, err_len, -EINVAL, "%s needs an interface name", what);
	unsigned idx = if_nametoindex(target);
	if (!idx)
		return visor_errf(err, err_len, -ENODEV, "no interface '%s'", target);
	return (int)idx;
}

static int net_prog_fd(struct bpf_program *prog, char *err, size_t err_len)
{
	int fd = bpf_program__fd(prog);
	if (fd < 0)
		return visor_errf(err, err_len, -EINVAL, "program %s is not loaded",
				  bpf_program__name(prog));
	return fd;
}

static int net_privilege_err(int rc, const char *what, const char *ifname, char *err,
			     size_t err_len)
{
	return visor_errf(err, err_len, rc,
			  "attaching %s to %s needs CAP_NET_ADMIN (root, or CAP_NET_ADMIN + "
			  "CAP_BPF): %s",
			  what, ifname, kernel_strerror(-rc));
}

static void note_set(char *note, size_t note_len, const char *msg)
{
	if (note && note_len)
		snprintf(note, note_len, "%s", msg);
}

/* ---- XDP ------------------------------------------------------------------ */

static int xdp_link(int prog_fd, int ifindex, unsigned flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	return fd < 0 ? -errno : fd;
}

int kernel_attach_xdp(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
		      struct visor_kernel_link *l, char *note, size_t note_len, char *err,
		      size_t err_len)
{
	const char *ifname = o ? o->target : NULL;
	int ifindex = net_ifindex(ifname, "XDP", err, err_len);
	if (ifindex < 0)
		return ifindex;
	int prog_fd = net_prog_fd(prog, err, err_len);
	if (prog_fd < 0)
		return prog_fd;

	bool generic = o->generic;
	int fd = -EOPNOTSUPP;
	if (!generic) {
		fd = xdp_link(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
		/* The driver has no native XDP (or not for this program): the
		 * kernel's generic path runs it on every skb instead. */
		if (fd == -EOPNOTSUPP || fd == -EINVAL) {
			char msg[200];
			snprintf(msg, sizeof(msg),
				 "%s has no native XDP (%s): attached in generic (skb) mode", ifname,
				 kernel_strerror(-fd));
			note_set(note, note_len, msg);
			generic = true;
		}
	}
	if (generic)
		fd = xdp_link(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
	if (fd < 0) {
		switch (fd) {
		case -EPERM:
		case -EACCES:
			return net_privilege_err(fd, "XDP", ifname, err, err_len);
		case -EBUSY:
		case -EEXIST:
			return visor_errf(err, err_len, fd,
					  "%s already has an XDP program (remove it first: ip link set "
					  "dev %s xdp off)",
					  ifname, ifname);
		default:
			return visor_errf(err, err_len, fd, "attaching XDP to %s (%s mode): %s",
					  ifname, generic ? "generic" : "native",
					  kernel_strerror(-fd));
		}
	}
	l->link = NULL;
	l->fd = fd; /* closing the link fd detaches */
	snprintf(l->desc, sizeof(l->desc), "xdp on %s (%s)", ifname,
		 generic ? "generic" : "native");
	return 0;
}

/* ---- tc ------------------------------------------------------------------- */

/* What a clsact filter's detach needs. */
struct tc_filter {
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;   /* handle and priority the kernel chose */
	bool created_qdisc;        /* visor made the clsact qdisc: remove it too */
};

static void tc_filter_detach(struct visor_kernel_link *l)
{
	struct tc_filter *f = l->priv;
	if (!f)
		return;
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = f->opts.handle, .priority = f->opts.priority);
	bpf_tc_detach(&f->hook, &d);
	if (f->created_qdisc) {
		f->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&f->hook);
	}
	free(f);
	l->priv = NULL;
}

static int tc_clsact(int prog_fd, int ifindex, const char *ifname, bool egress,
		     struct visor_kernel_link *l, char *err, size_t err_len)
{
	struct tc_filter *f = calloc(1, sizeof(*f));
	if (!f)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	f->hook.sz = sizeof(f->hook);
	f->hook.ifindex = ifindex;
	f->hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	f->opts.sz = sizeof(f->opts);
	f->opts.prog_fd = prog_fd;

	int rc = bpf_tc_hook_create(&f->hook);
	if (rc == 0)
		f->created_qdisc = true;
	else if (rc != -EEXIST)
		goto fail;
	rc = bpf_tc_attach(&f->hook, &f->opts);
	if (rc < 0) {
		if (f->created_qdisc) {
			f->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&f->hook);
		}
		goto fail;
	}
	f->opts.prog_fd = 0;
	f->opts.prog_id = 0;
	f->opts.flags = 0;
	l->priv = f;
	l->detach = tc_filter_detach;
	return 0;
fail:
	free(f);
	if (rc == -EPERM || rc == -EACCES)
		return net_privilege_err(rc, "tc", ifname, err, err_len);
	return visor_errf(err, err_len, rc, "attaching tc %s to %s (clsact): %s",
			  egress ? "egress" : "ingress", ifname, kernel_strerror(-rc));
}

int kernel_attach_tc(struct bpf_program *prog, const struct visor_kernel_attach_opts *o,
		     struct visor_kernel_link *l, char *note, size_t note_len, char *err,
		     size_t err_len)
{
	const char *ifname = o ? o->target : NULL;
	int ifindex = net_ifindex(ifname, "tc", err, err_len);
	if (ifindex < 0)
		return ifindex;
	int prog_fd = net_prog_fd(prog, err, err_len);
	if (prog_fd < 0)
		return prog_fd;
	bool egress = o->egress;
	const char *dir = egress ? "egress" : "ingress";

	int fd = bpf_link_create(prog_fd, ifindex,
				 (enum bpf_attach_type)(egress ? NET_BPF_TCX_EGRESS
							       : NET_BPF_TCX_INGRESS),
				 NULL);
	if (fd >= 0) {
		l->link = NULL;
		l->fd = fd;
		snprintf(l->desc, sizeof(l->desc), "tc %s on %s (tcx)", dir, ifname);
		return 0;
	}
	int rc = -errno;
	if (rc == -EPERM || rc == -EACCES)
		return net_privilege_err(rc, "tc", ifname, err, err_len);
	/* A kernel before 6.6 does not know the tcx attach types (EINVAL). */
	if (rc != -EINVAL && rc != -EOPNOTSUPP)
		return visor_errf(err, err_len, rc, "attaching tc %s to %s (tcx link): %s", dir,
				  ifname, kernel_strerror(-rc));
	rc = tc_clsact(prog_fd, ifindex, ifname, egress, l, err, err_len);
	if (rc < 0)
		return rc;
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "no tcx links in this kernel: attached as a clsact filter on %s, which stays "
		 "if the process is killed",
		 ifname);
	note_set(note, note_len, msg);
	snprintf(l->desc, sizeof(l->desc), "tc %s on %s (clsact)", dir, ifname);
	return 0;
}
