/* Attaching a loaded program: by its section name or explicitly, to
 * tracepoints, raw tracepoints, tp_btf/fentry/fexit, uprobes, kprobes (with
 * the syscall-tracepoint fallback on kernels without kprobes), perf events
 * and socket filters; XDP and tc go to attach_net.c. Every attachment is a
 * visor_kernel_link recorded in its object. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel_internal.h"
#include "kobj.h"

#define TRACEFS_DIR VISOR_KERNEL_TRACEFS_DIR
/* Kinds the section names add to the public ones. */
enum { ATTACH_TRACE = 100 /* tp_btf, fentry, fexit, fmod_ret */, ATTACH_LSM };

static void note_add(char *note, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_add(char *note, size_t len, const char *fmt, ...)
{
	if (!note || !len)
		return;
	size_t used = strnlen(note, len);
	if (used + 3 >= len)
		return;
	if (used) {
		strcpy(note + used, "; ");
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note + used, len - used, fmt, ap);
	va_end(ap);
}

/* "prefix" followed by end, '/', or a ".s"-style variant. */
static const char *after_prefix(const char *sec, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(sec, prefix, n))
		return NULL;
	if (!sec[n])
		return sec + n;
	if (sec[n] == '/')
		return sec + n + 1;
	if (sec[n] == '.') {
		const char *slash = strchr(sec + n, '/');
		return slash ? slash + 1 : sec + strlen(sec);
	}
	return NULL;
}

/* ---- tracefs and kprobes --------------------------------------------------- */

/* libbpf finds tracepoint ids under tracefs, which a fresh machine has not
 * mounted: mount it where root can (a failure shows in the attach error). */
static void ensure_tracefs(char *note, size_t note_len)
{
	const char *dir;
	bool mounted;
	if (!visor_kernel_tracefs(&dir, &mounted, NULL, 0) && mounted)
		note_add(note, note_len, "mounted tracefs at %s", dir);
}

bool visor_kernel_has_kprobes(void)
{
	/* The kprobe PMU exists whenever the kernel has kprobe events. */
	return !access("/sys/bus/event_source/devices/kprobe/type", F_OK);
}

/* The syscall a kernel function name stands for ("__x64_sys_getpid" ->
 * "getpid"), or NULL. */
const char *visor_kernel_syscall_of(const char *func)
{
	static const char *const prefixes[] = {"__x64_sys_", "__ia32_sys_", "__se_sys_",
					       "__do_sys_", "sys_"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(func, prefixes[i], n) && func[n])
			return func + n;
	}
	return NULL;
}

/* A kprobe program's function: from SEC("kprobe/FUNC") or BCC's program
 * name kprobe__FUNC. Copied into buf without any "+offset". */
static const char *kprobe_target(struct bpf_program *prog, bool *ret, char *buf, size_t len)
{
	const char *sec = bpf_program__section_name(prog), *name = bpf_program__name(prog);
	const char *t = NULL;
	*ret = false;
	if (!strncmp(sec, "kprobe.", 7) || !strncmp(sec, "kretprobe.", 10))
		return NULL; /* kprobe.multi, kprobe.session ... */
	if ((t = after_prefix(sec, "kretprobe")))
		*ret = true;
	else if (!(t = after_prefix(sec, "kprobe")))
		return NULL;
	if (!*t) {
		if (!strncmp(name, "kprobe__", 8))
			t = name + 8;
		else if (!strncmp(name, "kretprobe__", 11)) {
			t = name + 11;
			*ret = true;
		} else
			return NULL;
	}
	snprintf(buf, len, "%s", t);
	char *plus = strchr(buf, '+');
	if (plus)
		*plus = 0;
	return buf;
}

void kernel_prepare_kprobe_fallback(struct bpf_program *prog)
{
	char fb[128];
	bool ret;
	const char *f = kprobe_target(prog, &ret, fb, sizeof(fb));
	if (!f || !visor_kernel_syscall_of(f) || visor_kernel_has_kprobes())
		return;
	/* The kernel runs only tracepoint programs on a tracepoint event. */
	bpf_program__set_type(prog, BPF_PROG_TYPE_TRACEPOINT);
}

/* ---- Errors ------------------------------------------------------------------ */

static int attach_fail(int rc, const char *what, char *err, size_t err_len)
{
	char hint[256];
	if (rc == -EPERM || rc == -EACCES)
		return visor_errf(err, err_len, rc, "%s",
				  kernel_privilege_hint(rc, what, hint, sizeof(hint)));
	return visor_errf(err, err_len, rc, "%s: %s", what, kernel_strerror(-rc));
}

static int link_error(void)
{
	int e = errno ? errno : EINVAL;
	return -e;
}

/* ---- Tracepoints ----------------------------------------------------------- */

static int attach_tracepoint(struct bpf_program *prog, const char *target,
			     struct visor_kernel_link *l, char *note, size_t note_len, char *err,
			     size_t err_len)
{
	char cat[128];
	const char *slash = target ? strchr(target, '/') : NULL;
	if (!slash || slash == target || !slash[1] || (size_t)(slash - target) >= sizeof(cat))
		return visor_errf(err, err_len, -EINVAL,
				  "tracepoint '%s': expected category/name (e.g. "
				  "syscalls/sys_enter_openat)",
				  target ? target : "");
	memcpy(cat, target, (size_t)(slash - target));
	cat[slash - target] = 0;
	ensure_tracefs(note, note_len);
	l->link = bpf_program__attach_tracepoint(prog, cat, slash + 1);
	if (!l->link) {
		int rc = link_error();
		if (rc == -ENOENT)
			return visor_errf(err, err_len, rc,
					  "no tracepoint %s (see %s/events)", target, TRACEFS_DIR);
		char what[200];
		snprintf(what, sizeof(what), "tracepoint %s", target);
		return attach_fail(rc, what, err, err_len);
	}
	snprintf(l->desc, sizeof(l->desc), "tracepoint %s", target);
	return 0;
}

static int attach_raw_tracepoint(struct bpf_program *prog, const char *target,
				 struct visor_kernel_link *l, char *err, size_t err_len)
{
	if (!target || !*target)
		return visor_errf(err, err_len, -EINVAL, "raw tracepoint: no name given");
	l->link = bpf_program__attach_raw_tracepoint(prog, target);
	if (!l->link) {
		int rc = link_error();
		if (rc == -ENOENT)
			return visor_errf(err, err_len, rc, "no raw tracepoint %s", target);
		char what[200];
		snprintf(what, sizeof(what), "raw tracepoint %s", target);
		return attach_fail(rc, what, err, err_len);
	}
	snprintf(l->desc, sizeof(l->desc), "raw_tracepoint %s", target);
	return 0;
}

/* tp_btf, fentry, fexit, fmod_ret, lsm: the target is fixed at load. */
static int attach_trace(struct bpf_program *prog, int kind, struct visor_kernel_link *l,
			char *err, size_t err_len)
{
	const char *sec = bpf_program__section_name(prog);
	l->link = kind == ATTACH_LSM ? bpf_program__attach_lsm(prog) : bpf_program__attach_trace(prog);
	if (!l->link) {
		int rc = link_error();
		if (rc == -EPERM && strncmp(sec, "tp_btf", 6))
			return visor_errf(err, err_len, rc,
					  "%s: this kernel refuses fentry/fexit/lsm attachments (EPERM: "
					  "no BPF trampoline); use a tracepoint, raw_tp or tp_btf "
					  "program instead",
					  sec);
		return attach_fail(rc, sec, err, err_len);
	}
	snprintf(l->desc, sizeof(l->desc), "%s", sec);
	return 0;
}

/* ---- uprobes ------------------------------------------------------------------ */

/* A binary named without a '/' is looked up in $PATH, as a shell would. */
static int find_binary(const char *bin, char *out, size_t len)
{
	struct stat st;
	if (strchr(bin, '/')) {
		snprintf(out, len, "%s", bin);
		return stat(out, &st) || !S_ISREG(st.st_mode) ? -ENOENT : 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *colon = strchrnul(path, ':');
		int n = snprintf(out, len, "%.*s/%s", (int)(colon - path), path, bin);
		if (n > 0 && (size_t)n < len && !stat(out, &st) && S_ISREG(st.st_mode))
			return 0;
		path = *colon ? colon + 1 : colon;
	}
	return -ENOENT;
}

static int attach_uprobe(struct bpf_program *prog, const char *bin, const char *func, int pid,
			 bool retprobe, struct visor_kernel_link *l, char *err, size_t err_len)
{
	if (!bin || !*bin || !func || !*func)
		return visor_errf(err, err_len, -EINVAL,
				  "uprobe: needs a binary and a function (uprobe/PATH:FUNC)");
	char path[4096];
	if (find_binary(bin, path, sizeof(path)))
		return visor_errf(err, err_len, -ENOENT, "%s: no such binary", bin);
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe, .func_name = func);
	if (pid <= 0)
		pid = -1;
	errno = 0;
	l->link = bpf_program__attach_uprobe_opts(prog, pid, path, 0, &uo);
	if (!l->link) {
		int rc = link_error();
		/* The binary exists: what libbpf did not find is the symbol. */
		if (rc == -ENOENT || rc == -ESRCH)
			return visor_errf(err, err_len, -ENOENT, "symbol '%s' not found in %s", func,
					  path);
		char what[300];
		snprintf(what, sizeof(what), "%s %.200s:%.80s", retprobe ? "uretprobe" : "uprobe", path,
			 func);
		return attach_fail(rc, what, err, err_len);
	}
	int n = snprintf(l->desc, sizeof(l->desc), "%s %s:%s", retprobe ? "uretprobe" : "uprobe",
			 path, func);
	if (pid > 0 && n > 0 && (size_t)n < sizeof(l->desc))
		snprintf(l->desc + n, sizeof(l->desc) - (size_t)n, " (pid %d)", pid);
	return 0;
}

/* "PATH:FUNC" of a uprobe section, split at the last ':'. */
static int split_uprobe(const char *t, char *bin, size_t bin_len, const char **func)
{
	const char *colon = t ? strrchr(t, ':') : NULL;
	if (!colon || colon == t || (size_t)(colon - t) >= bin_len)
		return -EINVAL;
	memcpy(bin, t, (size_t)(colon - t));
	bin[colon - t] = 0;
	*func = colon + 1;
	return 0;
}

/* ---- kprobes ------------------------------------------------------------------ */

static int attach_kprobe(struct bpf_program *prog, const char *func, bool retprobe,
			 struct visor_kernel_link *l, char *note, size_t note_len, char *err,
			 size_t err_len)
{
	const char *kind = retprobe ? "kretprobe" : "kprobe";
	if (!func || !*func)
		return visor_errf(err, err_len, -EINVAL, "%s: no function given", kind);
	const char *sc = visor_kernel_syscall_of(func);
	if (visor_kernel_has_kprobes() && bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE) {
		LIBBPF_OPTS(bpf_kprobe_opts, ko, .retprobe = retprobe);
		l->link = bpf_program__attach_kprobe_opts(prog, func, &ko);
		if (!l->link) {
			int rc = link_error();
			if (rc == -ENOENT)
				return visor_errf(err, err_len, rc,
						  "%s %s: no such kernel function (see "
						  "/proc/kallsyms)",
						  kind, func);
			char what[200];
			snprintf(what, sizeof(what), "%s %s", kind, func);
			return attach_fail(rc, what, err, err_len);
		}
		snprintf(l->desc, sizeof(l->desc), "%s %s", kind, func);
		return 0;
	}
	char tp[200];
	if (!sc)
		return visor_errf(err, err_len, -EOPNOTSUPP,
				  "kprobes are not available in this kernel: %s/%s cannot attach; "
				  "use a tracepoint (see %s/events) or a uprobe",
				  kind, func, TRACEFS_DIR);
	snprintf(tp, sizeof(tp), "syscalls/sys_%s_%s", retprobe ? "exit" : "enter", sc);
	if (bpf_program__type(prog) != BPF_PROG_TYPE_TRACEPOINT)
		/* Loaded as a kprobe program, which no tracepoint event runs. */
		return visor_errf(err, err_len, -EOPNOTSUPP,
				  "kprobes are not available in this kernel: use tracepoint/%s", tp);
	int rc = attach_tracepoint(prog, tp, l, note, note_len, err, err_len);
	if (rc)
		return rc;
	note_add(note, note_len,
		 "kprobes are not available in this kernel: %s/%s attached to tracepoint %s "
		 "instead (the program sees the tracepoint's record, not pt_regs)",
		 kind, func, tp);
	snprintf(l->desc, sizeof(l->desc), "tracepoint %.64s (for %s/%.64s)", tp, kind, func);
	return 0;
}

/* ---- perf events -------------------------------------------------------------- */

struct perf_links {
	size_t n;
	struct bpf_link *links[];
};

static void perf_detach(struct visor_kernel_link *l)
{
	struct perf_links *pl = l->priv;
	for (size_t i = 0; pl && i < pl->n; i++)
		bpf_link__destroy(pl->links[i]); /* closes the perf event too */
	free(pl);
	l->priv = NULL;
}

/* Online CPUs from "0-3,5" into cpus; returns how many. */
static int online_cpus(int *cpus, int max)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	if (!f)
		return -errno;
	char buf[1024];
	int n = 0;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = buf;
		while (*p && *p != '\n') {
			char *end;
			long a = strtol(p, &end, 10), b = a;
			if (end == p)
				break;
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			for (long c = a; c <= b && n < max; c++)
				cpus[n++] = (int)c;
			p = *end == ',' ? end + 1 : end;
		}
	}
	fclose(f);
	return n;
}

static int attach_perf(struct bpf_program *prog, uint64_t freq, int pid,
		       struct visor_kernel_link *l, char *err, size_t err_len)
{
	if (!freq)
		freq = 99;
	static int cpus[4096];
	int n = online_cpus(cpus, 4096);
	if (n <= 0)
		return visor_errf(err, err_len, n < 0 ? n : -ENODEV,
				  "perf event: cannot read the online CPUs");
	struct perf_links *pl = calloc(1, sizeof(*pl) + (size_t)n * sizeof(pl->links[0]));
	if (!pl)
		return visor_errf(err, err_len, -ENOMEM, "perf event: out of memory");
	l->priv = pl;
	l->detach = perf_detach;
	for (int i = 0; i < n; i++) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		a.freq = 1;
		a.sample_freq = freq;
		int pfd = (int)syscall(SYS_perf_event_open, &a, pid > 0 ? pid : -1, cpus[i], -1,
				       PERF_FLAG_FD_CLOEXEC);
		if (pfd < 0) {
			int e = errno;
			if (e == ENODEV)
				continue; /* went offline meanwhile */
			if (e == EINVAL) {
				long max = kernel_sysctl_long(
					"/proc/sys/kernel/perf_event_max_sample_rate", 0);
				if (max && freq > (uint64_t)max)
					return visor_errf(err, err_len, -EINVAL,
							  "perf event: %llu Hz is above "
							  "kernel.perf_event_max_sample_rate (%ld)",
							  (unsigned long long)freq, max);
			}
			return attach_fail(-e, "perf_event_open (cpu-clock)", err, err_len);
		}
		struct bpf_link *bl = bpf_program__attach_perf_event(prog, pfd);
		if (!bl) {
			int rc = link_error();
			close(pfd);
			return attach_fail(rc, "perf event", err, err_len);
		}
		pl->links[pl->n++] = bl;
	}
	snprintf(l->desc, sizeof(l->desc), "perf_event cpu-clock %llu Hz on %zu CPUs%s",
		 (unsigned long long)freq, pl->n, pid > 0 ? " (one process)" : "");
	return 0;
}

/* ---- socket filters ---------------------------------------------------------- */

static void socket_detach(struct visor_kernel_link *l)
{
	int s = l->fd >= 0 ? l->fd : (int)(intptr_t)l->priv;
	int dummy = 0;
	setsockopt(s, SOL_SOCKET, SO_DETACH_BPF, &dummy, sizeof(dummy));
}

static int attach_socket(struct bpf_program *prog, int sock_fd, const char *ifname,
			 struct visor_kernel_link *l, char *err, size_t err_len)
{
	int prog_fd = bpf_program__fd(prog);
	int s = sock_fd;
	if (s <= 0) {
		if (!ifname || !*ifname)
			return visor_errf(err, err_len, -EINVAL,
					  "socket filter: needs a socket fd or an interface");
		unsigned ifindex = if_nametoindex(ifname);
		if (!ifindex)
			return visor_errf(err, err_len, -ENODEV, "no interface '%s'", ifname);
		s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		if (s < 0) {
			int e = errno;
			if (e == EPERM || e == EACCES)
				return visor_errf(err, err_len, -e,
						  "raw socket on %s: %s: needs root or CAP_NET_RAW",
						  ifname, strerror(e));
			return visor_errf(err, err_len, -e, "raw socket on %s: %s", ifname,
					  strerror(e));
		}
		l->fd = s;
		/* The filter first, then bind: no packet arrives unfiltered. */
		if (setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)))
			return visor_errf(err, err_len, -errno, "socket filter on %s: %s", ifname,
					  strerror(errno));
		l->detach = socket_detach;
		struct sockaddr_ll sll;
		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_protocol = htons(ETH_P_ALL);
		sll.sll_ifindex = (int)ifindex;
		if (bind(s, (struct sockaddr *)&sll, sizeof(sll)))
			return visor_errf(err, err_len, -errno, "raw socket on %s: bind: %s",
					  ifname, strerror(errno));
		snprintf(l->desc, sizeof(l->desc), "socket filter on a raw socket of %s (fd %d)",
			 ifname, s);
		return 0;
	}
	if (setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd))) {
		int e = errno;
		if (e == EBADF || e == ENOTSOCK)
			return visor_errf(err, err_len, -e, "socket filter: fd %d is not a socket", s);
		return visor_errf(err, err_len, -e, "socket filter on fd %d: %s", s, strerror(e));
	}
	l->priv = (void *)(intptr_t)s;
	l->detach = socket_detach;
	snprintf(l->desc, sizeof(l->desc), "socket filter on fd %d", s);
	return 0;
}

/* ---- Dispatch ---------------------------------------------------------------- */

/* What a section name attaches to: the kind, and its target ("" none). */
static int section_kind(const char *sec, const char **target, bool *ret, bool *egress)
{
	const char *t;
	*ret = *egress = false;
	*target = "";
	if ((t = after_prefix(sec, "tracepoint")) || (t = after_prefix(sec, "tp"))) {
		*target = t;
		return VISOR_KERNEL_ATTACH_TRACEPOINT;
	}
	if ((t = after_prefix(sec, "raw_tracepoint")) || (t = after_prefix(sec, "raw_tp"))) {
		*target = t;
		return VISOR_KERNEL_ATTACH_RAW_TRACEPOINT;
	}
	if (after_prefix(sec, "tp_btf") || after_prefix(sec, "fentry") ||
	    after_prefix(sec, "fexit") || after_prefix(sec, "fmod_ret"))
		return ATTACH_TRACE;
	if (after_prefix(sec, "lsm"))
		return ATTACH_LSM;
	if ((t = after_prefix(sec, "uretprobe")) || (t = after_prefix(sec, "uprobe"))) {
		*ret = sec[1] == 'r';
		*target = t;
		return VISOR_KERNEL_ATTACH_UPROBE;
	}
	if ((t = after_prefix(sec, "kretprobe")) || (t = after_prefix(sec, "kprobe"))) {
		*ret = sec[1] == 'r';
		*target = t;
		return VISOR_KERNEL_ATTACH_KPROBE;
	}
	if (after_prefix(sec, "xdp"))
		return VISOR_KERNEL_ATTACH_XDP;
	if ((t = after_prefix(sec, "tcx")) || (t = after_prefix(sec, "tc")) ||
	    (t = after_prefix(sec, "classifier"))) {
		*egress = !strcmp(t, "egress");
		return VISOR_KERNEL_ATTACH_TC;
	}
	if ((t = after_prefix(sec, "cgroup_skb"))) {
		*egress = !strcmp(t, "egress");
		return VISOR_KERNEL_ATTACH_CGROUP_SKB;
	}
	if (after_prefix(sec, "socket"))
		return VISOR_KERNEL_ATTACH_SOCKET;
	if (after_prefix(sec, "perf_event"))
		return VISOR_KERNEL_ATTACH_PERF_EVENT;
	return -1;
}

static int attach_prog(struct visor_kernel_obj *obj, struct bpf_program *prog,
		       const struct visor_kernel_attach_opts *opts, struct visor_kernel_link **out,
		       char *note, size_t note_len, char *err, size_t err_len)
{
	struct visor_kernel_attach_opts o;
	memset(&o, 0, sizeof(o));
	if (opts) {
		size_t sz = opts->sz && opts->sz < sizeof(o) ? opts->sz : sizeof(o);
		memcpy(&o, opts, sz);
	}
	const char *name = bpf_program__name(prog);
	const char *sec = bpf_program__section_name(prog);
	if (bpf_program__fd(prog) < 0)
		return visor_errf(err, err_len, -ENOENT, "prog '%s' is not loaded", name);
	const char *starget;
	bool sret, segress;
	int kind = section_kind(sec, &starget, &sret, &segress);
	if (o.kind)
		kind = o.kind;
	else {
		o.retprobe |= sret;
		o.egress |= segress;
	}
	if (kind < 0)
		return visor_errf(err, err_len, -EOPNOTSUPP,
				  "prog '%s': section '%s' has no attach point visor knows", name,
				  sec);
	const char *target = o.target && *o.target ? o.target : starget;

	struct visor_kernel_link *l = kernel_link_new(obj);
	if (!l)
		return visor_errf(err, err_len, -ENOMEM, "attach: out of memory");
	int rc;
	switch (kind) {
	case VISOR_KERNEL_ATTACH_TRACEPOINT:
		rc = attach_tracepoint(prog, target, l, note, note_len, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_RAW_TRACEPOINT:
		rc = attach_raw_tracepoint(prog, target, l, err, err_len);
		break;
	case ATTACH_TRACE:
	case ATTACH_LSM:
		rc = attach_trace(prog, kind, l, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_UPROBE: {
		char bin[4096];
		const char *func = o.func;
		if (o.target && *o.target)
			snprintf(bin, sizeof(bin), "%s", o.target);
		else if (split_uprobe(starget, bin, sizeof(bin), &func)) {
			rc = visor_errf(err, err_len, -EINVAL,
					"prog '%s': uprobe needs a target (SEC(\"uprobe/PATH:FUNC\") "
					"or a binary and function)",
					name);
			break;
		}
		rc = attach_uprobe(prog, bin, func, o.pid, o.retprobe, l, err, err_len);
		break;
	}
	case VISOR_KERNEL_ATTACH_KPROBE: {
		char fb[128];
		bool kret = false;
		const char *func = o.target && *o.target ? o.target
							 : kprobe_target(prog, &kret, fb, sizeof(fb));
		rc = attach_kprobe(prog, func, o.retprobe || kret, l, note, note_len, err, err_len);
		break;
	}
	case VISOR_KERNEL_ATTACH_PERF_EVENT:
		rc = attach_perf(prog, o.freq, o.pid, l, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_SOCKET:
		rc = attach_socket(prog, o.sock_fd, target, l, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_XDP:
		o.target = target;
		rc = kernel_attach_xdp(prog, &o, l, note, note_len, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_TC:
		o.target = target;
		rc = kernel_attach_tc(prog, &o, l, note, note_len, err, err_len);
		break;
	case VISOR_KERNEL_ATTACH_CGROUP_SKB:
		o.target = target;
		rc = kernel_attach_cgroup_skb(prog, &o, l, err, err_len);
		break;
	default:
		rc = visor_errf(err, err_len, -EINVAL, "prog '%s': unknown attach kind %d", name,
				kind);
	}
	if (rc) {
		visor_kernel_link_destroy(l);
		return rc;
	}
	if (out)
		*out = l;
	return 0;
}

/* libbpf warns on stderr about what visor reports in err itself. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int visor_kernel_attach(struct visor_kernel_obj *obj, const char *prog,
			const struct visor_kernel_attach_opts *opts, struct visor_kernel_link **link,
			char *note, size_t note_len, char *err, size_t err_len)
{
	if (link)
		*link = NULL;
	if (note && note_len)
		note[0] = 0;
	struct bpf_program *p = obj ? kernel_obj_prog(obj, prog) : NULL;
	if (!p)
		return visor_errf(err, err_len, -ENOENT, "no program named '%s'", prog ? prog : "");
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	int rc = attach_prog(obj, p, opts, link, note, note_len, err, err_len);
	libbpf_set_print(old);
	return rc;
}

/* Sections whose attach point is not in the name. */
static bool needs_target(struct bpf_program *prog)
{
	const char *t;
	bool ret, egress;
	int kind = section_kind(bpf_program__section_name(prog), &t, &ret, &egress);
	switch (kind) {
	case VISOR_KERNEL_ATTACH_XDP:
	case VISOR_KERNEL_ATTACH_TC:
	case VISOR_KERNEL_ATTACH_SOCKET:
	case VISOR_KERNEL_ATTACH_CGROUP_SKB:
		return true;
	case VISOR_KERNEL_ATTACH_UPROBE:
	case VISOR_KERNEL_ATTACH_TRACEPOINT:
	case VISOR_KERNEL_ATTACH_RAW_TRACEPOINT:
		return !*t;
	case VISOR_KERNEL_ATTACH_KPROBE: {
		char fb[128];
		return !kprobe_target(prog, &ret, fb, sizeof(fb));
	}
	default:
		return false;
	}
}

int visor_kernel_attach_all(struct visor_kernel_obj *obj, char *note, size_t note_len, char *err,
			    size_t err_len)
{
	if (note && note_len)
		note[0] = 0;
	struct visor_kernel_link *before = obj->links;
	char skipped[512] = "";
	struct bpf_program *p;
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	bpf_object__for_each_program(p, obj->bpf) {
		if (bpf_program__fd(p) < 0)
			continue;
		if (needs_target(p)) {
			note_add(skipped, sizeof(skipped), "%s (%s)", bpf_program__name(p),
				 bpf_program__section_name(p));
			continue;
		}
		char one[512] = "";
		int rc = attach_prog(obj, p, NULL, NULL, one, sizeof(one), err, err_len);
		if (rc) {
			/* Nothing half-attached: undo this call's links. */
			while (obj->links && obj->links != before)
				visor_kernel_link_destroy(obj->links);
			libbpf_set_print(old);
			if (note && note_len)
				note[0] = 0;
			return rc;
		}
		if (one[0])
			note_add(note, note_len, "%s", one);
	}
	libbpf_set_print(old);
	if (skipped[0])
		note_add(note, note_len, "not attached (no attach point in the section): %s",
			 skipped);
	return 0;
}

void visor_kernel_link_destroy(struct visor_kernel_link *link)
{
	if (!link)
		return;
	if (link->obj) {
		struct visor_kernel_link **pp = &link->obj->links;
		while (*pp && *pp != link)
			pp = &(*pp)->next;
		if (*pp)
			*pp = link->next;
	}
	if (link->detach)
		link->detach(link);
	if (link->link)
		bpf_link__destroy(link->link);
	if (link->fd >= 0)
		close(link->fd);
	free(link);
}

const char *visor_kernel_link_describe(const struct visor_kernel_link *link)
{
	return link ? link->desc : "";
}
