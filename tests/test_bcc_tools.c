/* BCC-style tools in the BCC dialect (the sources under tests/bcc_tools/, written for
 * visor in the style of BCC's tools): each compiles through the front end,
 * the kernel's verifier accepts every program, and where it is cheap the
 * data is right, read back through include/visor/bpf.h:
 *   opensnoop.c          openat via TRACEPOINT_PROBE, perf buffer records
 *   opensnoop_ringbuf.c  the same through ringbuf_reserve/submit
 *   execsnoop.c          sys_enter/sys_exit_execve, a hash keyed by pid,
 *                        the parent's tgid by an implicit probe read,
 *                        sched_process_exec's __data_loc filename
 *   execsnoop_args.c     BCC's shape: syscall__execve(ctx, filename, argv,
 *                        envp) attached by the user to __x64_sys_execve,
 *                        argv walked with explicit user reads
 *   syscount.c           raw_syscalls:sys_enter, increment/atomic_increment
 *   wakeuplat.c          sched_wakeup -> sched_switch log2 histogram
 *   taskwalk.c           nested implicit probe reads from the current task
 *   opensys.c            kprobe__sys_openat(ctx, dfd, filename, flags) and
 *                        kretprobe__sys_openat with PT_REGS_RC (the
 *                        syscall tracepoint fallback)
 *   uprobe_arg.c         a uprobe on a function of this test binary
 *   xdp_proto.c          bcc/proto.h cursor parsing, dropping a UDP port,
 *                        in the kernel and on visor's engine
 *   xdp_plain.c          the same with struct ethhdr/iphdr and data_end
 *   maps_misc.c          LPM trie, per-CPU array, stack traces from a perf
 *                        event, a program array tail call, a queue
 * And the diagnostics a BCC user meets on common mistakes.
 * Needs clang-19 and the kernel's BTF (else skips); the kernel parts need
 * root (else only the engine parts run). Does not read the trace pipe. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <visor/bpf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>

#include "testutil.h"

#define NAME "test_bcc_tools"
#define TOOLS VISOR_SOURCE_DIR "/tests/bcc_tools/"

static bool have_kernel;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Compiles and loads a tool (attaching its named programs unless
 * no_attach); NULL after a failed check. Diagnostics and notes go to
 * stderr (b writes its later notes there too). */
static struct visor_bpf *load(const char *file, unsigned backend, bool no_attach)
{
	char path[PATH_MAX], err[1024] = "";
	snprintf(path, sizeof(path), TOOLS "%s", file);
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = path, .backend = backend,
		      .no_autoattach = no_attach, .diag = stderr);
	struct visor_bpf *b = NULL;
	int rc = visor_bpf_new(&o, &b, err, sizeof(err));
	CHECK(rc == 0, "%s (%s): %s", file, backend == VISOR_BACKEND_VM ? "engine" : "kernel",
	      err);
	return rc ? NULL : b;
}

static struct visor_bpf_table *table(struct visor_bpf *b, const char *name)
{
	struct visor_bpf_table *t = visor_bpf_table(b, name);
	CHECK(t, "no table %s: %s", name, visor_bpf_errmsg(b));
	return t;
}

static uint64_t lookup_u64(struct visor_bpf *b, const char *name, const void *key)
{
	struct visor_bpf_table *t = table(b, name);
	uint64_t v[64] = {0}, sum = 0;
	if (!t || visor_bpf_table_lookup(t, key, v))
		return 0;
	for (uint32_t c = 0; c < visor_bpf_table_nr_cpus(t) && c < 64; c++)
		sum += v[c];
	return sum;
}

/* ---- opensnoop: perf and ring buffers ---------------------------------------- */

struct open_event {
	uint32_t pid, uid;
	int32_t flags;
	char comm[16];
	char fname[255];
};
struct open_event_rb {
	uint32_t pid;
	int32_t dfd;
	char comm[16];
	char fname[255];
};

struct open_seen {
	const char *path;
	bool found, ringbuf;
	struct open_event ev;
	struct open_event_rb rb;
	size_t size;
};

static int on_open(void *ctx, const void *data, size_t size)
{
	struct open_seen *s = ctx;
	const char *fname = s->ringbuf ? ((const struct open_event_rb *)data)->fname
				       : ((const struct open_event *)data)->fname;
	size_t want = s->ringbuf ? sizeof(s->rb) : sizeof(s->ev);
	if (size < want || strncmp(fname, s->path, 255))
		return 0;
	s->found = true;
	s->size = size;
	memcpy(s->ringbuf ? (void *)&s->rb : (void *)&s->ev, data, want);
	return 0;
}

static void opensnoop(bool ringbuf)
{
	const char *file = ringbuf ? "opensnoop_ringbuf.c" : "opensnoop.c";
	struct visor_bpf *b = load(file, VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	char path[96];
	snprintf(path, sizeof(path), "/tmp/visor-bcc-tools-%d-%s-absent", getpid(),
		 ringbuf ? "rb" : "perf");
	struct open_seen s = {.path = path, .ringbuf = ringbuf};
	int rc = ringbuf ? visor_bpf_open_ring_buffer(b, "events", on_open, &s)
			 : visor_bpf_open_perf_buffer(b, "events", on_open, NULL, &s);
	CHECK(rc == 0, "%s: open buffer: %s", file, visor_bpf_errmsg(b));
	for (double end = now_s() + 3; !rc && !s.found && now_s() < end;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		visor_bpf_poll(b, 50);
	}
	CHECK(s.found, "%s: no record of opening %s", file, path);
	if (s.found && !ringbuf) {
		CHECK(s.size == 284, "%s: record of %zu bytes, want 284", file, s.size);
		CHECK(s.ev.pid == (uint32_t)getpid() && s.ev.uid == getuid(),
		      "%s: pid %u uid %u", file, s.ev.pid, s.ev.uid);
		CHECK(s.ev.flags == (O_RDONLY | O_CLOEXEC), "%s: flags 0x%x", file, s.ev.flags);
		CHECK(!strncmp(s.ev.comm, "test_bcc_tools", 15), "%s: comm '%.16s'", file,
		      s.ev.comm);
	}
	if (s.found && ringbuf) {
		CHECK(s.rb.pid == (uint32_t)getpid() && s.rb.dfd == AT_FDCWD, "%s: pid %u dfd %d",
		      file, s.rb.pid, s.rb.dfd);
		CHECK(!strncmp(s.rb.comm, "test_bcc_tools", 15), "%s: comm '%.16s'", file,
		      s.rb.comm);
	}
	visor_bpf_free(b);
}

/* ---- execsnoop -------------------------------------------------------------- */

struct exec_event {
	uint32_t pid, ppid;
	int32_t retval;
	char comm[16];
	char path[128];
};

struct exec_seen {
	pid_t child;
	bool found;
	struct exec_event ev;
};

static int on_exec(void *ctx, const void *data, size_t size)
{
	struct exec_seen *s = ctx;
	const struct exec_event *e = data;
	if (size >= sizeof(*e) && e->pid == (uint32_t)s->child) {
		s->found = true;
		s->ev = *e;
	}
	return 0;
}

static void execsnoop(void)
{
	struct visor_bpf *b = load("execsnoop.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	struct exec_seen s = {0};
	CHECK(visor_bpf_open_perf_buffer(b, "execs", on_exec, NULL, &s) == 0, "execs: %s",
	      visor_bpf_errmsg(b));
	s.child = fork();
	if (s.child == 0) {
		/* the path on the stack: present in memory when the program
		 * reads it (a probe read cannot fault a page in) */
		char prog[] = "/bin/true";
		execl(prog, "true", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(s.child, &st, 0);
	for (double end = now_s() + 3; !s.found && now_s() < end;)
		visor_bpf_poll(b, 50);
	CHECK(s.found, "execsnoop: no record of child %d", (int)s.child);
	if (s.found) {
		CHECK(s.ev.ppid == (uint32_t)getpid(), "execsnoop: ppid %u, want %d", s.ev.ppid,
		      getpid());
		CHECK(s.ev.retval == 0, "execsnoop: retval %d", s.ev.retval);
		CHECK(!strcmp(s.ev.path, "/bin/true"), "execsnoop: path '%.128s'", s.ev.path);
		CHECK(!strcmp(s.ev.comm, "true"), "execsnoop: comm '%.16s'", s.ev.comm);
	}
	char name[64] = "";
	uint32_t child = (uint32_t)s.child;
	struct visor_bpf_table *t = table(b, "exec_file");
	CHECK(t && visor_bpf_table_lookup(t, &child, name) == 0 && !strcmp(name, "/bin/true"),
	      "execsnoop: sched_process_exec's filename '%.64s'", name);
	visor_bpf_free(b);
}

/* BCC's own execsnoop shape: syscall__execve attached by the user. */
struct exec_args {
	uint32_t pid;
	int32_t retval, argc;
	char argv[4][32];
};

struct exec_args_seen {
	pid_t child;
	bool found;
	struct exec_args ev;
};

static int on_exec_args(void *ctx, const void *data, size_t size)
{
	struct exec_args_seen *s = ctx;
	const struct exec_args *e = data;
	if (size >= sizeof(*e) && e->pid == (uint32_t)s->child) {
		s->found = true;
		s->ev = *e;
	}
	return 0;
}

static void execsnoop_args(void)
{
	struct visor_bpf *b = load("execsnoop_args.c", VISOR_BACKEND_KERNEL, true);
	if (!b)
		return;
	struct exec_args_seen s = {0};
	int rc = visor_bpf_attach_kprobe(b, "__x64_sys_execve", "syscall__execve");
	CHECK(rc == 0, "attach syscall__execve: %s", visor_bpf_errmsg(b));
	rc = visor_bpf_attach_kretprobe(b, "__x64_sys_execve", "kretprobe__sys_execve");
	CHECK(rc == 0, "attach kretprobe__sys_execve: %s", visor_bpf_errmsg(b));
	CHECK(visor_bpf_open_perf_buffer(b, "events", on_exec_args, NULL, &s) == 0, "events: %s",
	      visor_bpf_errmsg(b));
	s.child = fork();
	if (s.child == 0) {
		char prog[] = "/bin/true", a0[] = "true", a1[] = "one", a2[] = "two";
		char *argv[] = {a0, a1, a2, NULL};
		execv(prog, argv);
		_exit(127);
	}
	int st = 0;
	waitpid(s.child, &st, 0);
	for (double end = now_s() + 3; !s.found && now_s() < end;)
		visor_bpf_poll(b, 50);
	CHECK(s.found, "execsnoop_args: no record of child %d", (int)s.child);
	if (s.found)
		CHECK(s.ev.retval == 0 && s.ev.argc == 3 && !strcmp(s.ev.argv[0], "true") &&
			      !strcmp(s.ev.argv[1], "one") && !strcmp(s.ev.argv[2], "two"),
		      "execsnoop_args: retval %d argc %d argv '%s' '%s' '%s'", s.ev.retval,
		      s.ev.argc, s.ev.argv[0], s.ev.argv[1], s.ev.argv[2]);
	visor_bpf_free(b);
}

/* ---- syscount, wakeuplat ---------------------------------------------------------- */

static void syscount(void)
{
	struct visor_bpf *b = load("syscount.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	const int n = 50;
	for (int i = 0; i < n; i++)
		syscall(SYS_getppid);
	visor_bpf_detach_all(b);
	uint32_t nr = SYS_getppid, pid = (uint32_t)getpid();
	uint64_t c = lookup_u64(b, "counts", &nr), p = lookup_u64(b, "by_pid", &pid);
	CHECK(c >= (uint64_t)n, "syscount: getppid counted %llu times, want >= %d",
	      (unsigned long long)c, n);
	CHECK(p >= (uint64_t)n, "syscount: this process counted %llu, want >= %d",
	      (unsigned long long)p, n);
	visor_bpf_free(b);
}

static int sum_value(void *ctx, const void *key, const void *value)
{
	(void)key;
	*(uint64_t *)ctx += *(const uint64_t *)value;
	return 0;
}

static void wakeuplat(void)
{
	struct visor_bpf *b = load("wakeuplat.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	for (int i = 0; i < 20; i++)
		usleep(1000);
	visor_bpf_detach_all(b);
	struct visor_bpf_table *t = table(b, "dist");
	uint64_t total = 0;
	if (t)
		CHECK(visor_bpf_table_each(t, sum_value, &total) >= 0, "dist: %s",
		      visor_bpf_errmsg(b));
	CHECK(total >= 10, "wakeuplat: %llu wakeups in the histogram after 20 sleeps",
	      (unsigned long long)total);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (t)
		visor_bpf_table_print_log2_hist(t, "usecs", f);
	fclose(f);
	CHECK(out && strstr(out, "usecs") && strstr(out, "|"), "log2 histogram:\n%s", out);
	free(out);
	visor_bpf_free(b);
}

/* ---- taskwalk ----------------------------------------------------------------- */

struct task_info {
	uint32_t pid, ppid, gppid, uid;
	uint64_t arg_len;
	char pcomm[16];
};

static void proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	int ppid = -1;
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			const char *close = strrchr(buf, ')');
			if (close && sscanf(close + 2, "%*c %d", &ppid) != 1)
				ppid = -1;
		}
		fclose(f);
	}
	return ppid;
}

static void taskwalk(void)
{
	struct visor_bpf *b = load("taskwalk.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	syscall(SYS_getppid);
	visor_bpf_detach_all(b);
	uint32_t pid = (uint32_t)getpid();
	struct task_info in = {0};
	struct visor_bpf_table *t = table(b, "info");
	int rc = t ? visor_bpf_table_lookup(t, &pid, &in) : -1;
	CHECK(rc == 0, "taskwalk: no entry for this process: %d", rc);
	if (!rc) {
		char comm[32];
		proc_comm(getppid(), comm, sizeof(comm));
		CHECK(in.pid == pid && in.ppid == (uint32_t)getppid(), "taskwalk: pid %u ppid %u",
		      in.pid, in.ppid);
		CHECK(in.gppid == (uint32_t)proc_ppid(getppid()), "taskwalk: grandparent %u, want %d",
		      in.gppid, (int)proc_ppid(getppid()));
		CHECK(in.uid == getuid(), "taskwalk: uid %u", in.uid);
		CHECK(in.arg_len > 0 && in.arg_len < 1 << 20, "taskwalk: argument area %llu bytes",
		      (unsigned long long)in.arg_len);
		CHECK(!strncmp(in.pcomm, comm, 15), "taskwalk: parent comm '%.16s', want '%s'",
		      in.pcomm, comm);
	}
	visor_bpf_free(b);
}

/* ---- kprobe__sys_openat with arguments, kretprobe with PT_REGS_RC ------------- */

struct open_val {
	int32_t dfd, flags;
	char fname[64];
};

static void opensys(void)
{
	struct visor_bpf *b = load("opensys.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	struct visor_bpf_table *res = table(b, "result"), *seen = table(b, "seen_name");
	char path[64];
	snprintf(path, sizeof(path), "/tmp/visor-bcc-tools-%d-sys", getpid());
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	CHECK(fd < 0 && errno == ENOENT, "%s exists?", path);
	uint32_t pid = (uint32_t)getpid();
	int ret = 0;
	struct open_val v = {0};
	CHECK(res && visor_bpf_table_lookup(res, &pid, &ret) == 0 && ret == -ENOENT,
	      "opensys: openat's return value %d, want %d", ret, -ENOENT);
	CHECK(seen && visor_bpf_table_lookup(seen, &pid, &v) == 0 && v.dfd == AT_FDCWD &&
		      v.flags == (O_RDONLY | O_CLOEXEC | O_NOFOLLOW) && !strcmp(v.fname, path),
	      "opensys: arguments dfd %d flags 0x%x name '%.64s'", v.dfd, v.flags, v.fname);
	visor_bpf_free(b);
}

/* ---- a uprobe on this binary ---------------------------------------------------- */

__attribute__((noinline, used)) int visor_bcc_tools_target(int arg)
{
	__asm__ volatile("" ::: "memory");
	return arg * 2;
}

static void uprobe_arg(void)
{
	struct visor_bpf *b = load("uprobe_arg.c", VISOR_BACKEND_KERNEL, false);
	if (!b)
		return;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	int rc = visor_bpf_attach_uprobe(b, exe, "visor_bcc_tools_target", "on_call", getpid());
	CHECK(rc == 0, "attach_uprobe: %s", visor_bpf_errmsg(b));
	int (*volatile target)(int) = visor_bcc_tools_target;
	for (int i = 0; i < 3; i++)
		target(42);
	target(7);
	visor_bpf_detach_all(b);
	int k42 = 42, k7 = 7, zero = 0, last = 0;
	if (!rc) {
		CHECK(lookup_u64(b, "calls", &k42) == 3, "uprobe: calls[42] = %llu, want 3",
		      (unsigned long long)lookup_u64(b, "calls", &k42));
		CHECK(lookup_u64(b, "calls", &k7) == 1, "uprobe: calls[7] want 1");
		struct visor_bpf_table *t = table(b, "last");
		CHECK(t && visor_bpf_table_lookup(t, &zero, &last) == 0 && last == 7,
		      "uprobe: last argument %d, want 7", last);
	}
	visor_bpf_free(b);
}

/* ---- XDP -------------------------------------------------------------------------- */

/* Ethernet + IPv4 + UDP/TCP to dport, 60 bytes; proto 0: an ARP frame. */
static void frame(uint8_t *f, int proto, unsigned dport)
{
	memset(f, 0, 60);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	if (!proto) {
		f[12] = 0x08, f[13] = 0x06;
		return;
	}
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 46;
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	memcpy(ip + 12, "\xc0\x00\x02\x01\xc6\x33\x64\x07", 8); /* 192.0.2.1 -> 198.51.100.7 */
	ip[20] = 0x30, ip[21] = 0x39;
	ip[22] = (uint8_t)(dport >> 8), ip[23] = (uint8_t)dport;
}

static void xdp_run(const char *file, const char *fn, unsigned backend)
{
	struct visor_bpf *b = load(file, backend, true);
	if (!b)
		return;
	static const struct {
		int proto;
		unsigned dport;
		uint32_t want;
	} cases[] = {{17, 9999, 1 /* XDP_DROP */}, {17, 53, 2}, {6, 9999, 2}, {0, 0, 2},
		     {17, 9999, 1}};
	const char *where = backend == VISOR_BACKEND_VM ? "engine" : "kernel";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t f[60];
		uint32_t ret = 99;
		frame(f, cases[i].proto, cases[i].dport);
		int rc = visor_bpf_test_run(b, fn, f, sizeof(f), &ret);
		CHECK(rc == 0 && ret == cases[i].want, "%s on the %s: case %zu: rc %d ret %u, want %u: %s",
		      file, where, i, rc, ret, cases[i].want, visor_bpf_errmsg(b));
	}
	int zero = 0, udp = 17, tcp = 6;
	CHECK(lookup_u64(b, "drops", &zero) == 2, "%s on the %s: drops %llu, want 2", file, where,
	      (unsigned long long)lookup_u64(b, "drops", &zero));
	if (!strcmp(file, "xdp_proto.c"))
		CHECK(lookup_u64(b, "proto_count", &udp) == 3 && lookup_u64(b, "proto_count", &tcp) == 1,
		      "%s on the %s: per protocol udp %llu tcp %llu", file, where,
		      (unsigned long long)lookup_u64(b, "proto_count", &udp),
		      (unsigned long long)lookup_u64(b, "proto_count", &tcp));
	visor_bpf_free(b);
}

/* ---- LPM trie, per-CPU array, tail call, queue, stack traces ------------------ */

struct lpm_key {
	uint32_t prefixlen, addr;
};

static void maps_misc(void)
{
	struct visor_bpf *b = load("maps_misc.c", VISOR_BACKEND_KERNEL, true);
	if (!b)
		return;
	/* the tail call target and one prefix */
	struct visor_bpf_table *jump = table(b, "jump"), *pre = table(b, "prefixes");
	int fd = visor_bpf_prog_fd(b, "drain"), zero = 0;
	CHECK(fd >= 0 && jump && visor_bpf_table_update(jump, &zero, &fd) == 0, "jump[0] = drain: %s",
	      visor_bpf_errmsg(b));
	struct lpm_key k = {24, 0};
	inet_pton(AF_INET, "198.51.100.0", &k.addr);
	uint64_t one = 1;
	CHECK(pre && visor_bpf_table_update(pre, &k, &one) == 0, "prefix: %s", visor_bpf_errmsg(b));
	uint8_t f[60];
	frame(f, 17, 53); /* to 198.51.100.7: in the prefix */
	uint32_t ret = 0;
	int rc = visor_bpf_test_run(b, "classify", f, sizeof(f), &ret);
	CHECK(rc == 0 && ret == (uint32_t)-1, "classify: rc %d ret %d (the tail call returns -1): %s",
	      rc, (int)ret, visor_bpf_errmsg(b));
	f[14 + 16] = 10; /* to 10.51.100.7 */
	rc = visor_bpf_test_run(b, "classify", f, sizeof(f), &ret);
	int s0 = 0, s1 = 1, s2 = 2;
	CHECK(lookup_u64(b, "hits", &s0) == 1 && lookup_u64(b, "hits", &s1) == 1 &&
		      lookup_u64(b, "hits", &s2) == 120,
	      "per-CPU hits: miss %llu match %llu queued bytes %llu (want 1, 1, 120)",
	      (unsigned long long)lookup_u64(b, "hits", &s0),
	      (unsigned long long)lookup_u64(b, "hits", &s1),
	      (unsigned long long)lookup_u64(b, "hits", &s2));

	/* user stacks from a cpu-clock perf event while this process spins */
	rc = visor_bpf_attach_perf_event(b, "on_sample", 999);
	CHECK(rc == 0, "attach_perf_event: %s", visor_bpf_errmsg(b));
	volatile uint64_t spin = 0;
	for (double end = now_s() + 0.3 * test_scale(); now_s() < end;)
		spin++;
	visor_bpf_detach_all(b);
	struct visor_bpf_table *counts = table(b, "stack_counts");
	int id = -1;
	CHECK(counts && visor_bpf_table_next_key(counts, NULL, &id) == 0,
	      "no stack ids after 0.3 s of samples");
	/* the stack trace table, through the API like any table */
	struct visor_bpf_table *stacks = table(b, "stacks");
	uint64_t ips[127] = {0};
	CHECK(stacks && id >= 0 && visor_bpf_table_lookup(stacks, &id, ips) == 0 && ips[0] != 0,
	      "stack %d: not readable or empty (%s)", id, visor_bpf_errmsg(b));
	visor_bpf_free(b);
}

/* ---- Diagnostics on common mistakes ----------------------------------------------- */

struct mistake {
	const char *what, *text;
	const char *at, *says;
};

static const struct mistake mistakes[] = {
	{"wrong key type",
	 "BPF_HASH(counts, u32, u64);\n"
	 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
	 "    u64 key = 1;\n"
	 "    u64 *v = counts.lookup(&key);\n"
	 "    return v != 0;\n"
	 "}\n",
	 "<text>:4:28: error: ", "table 'counts' has keys of type 'u32'"},
	{"key by value",
	 "BPF_HASH(counts, u32, u64);\n"
	 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
	 "    u32 key = 1;\n"
	 "    u64 *v = counts.lookup(key);\n"
	 "    return v != 0;\n"
	 "}\n",
	 "<text>:4:28: error: ", "pass &key"},
	{"undeclared table",
	 "BPF_HASH(counts, u32, u64);\n"
	 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
	 "    u32 key = 1;\n"
	 "    u64 *v = count.lookup(&key);\n"
	 "    return v != 0;\n"
	 "}\n",
	 "<text>:4:14: error: ", "no table named 'count'; did you mean 'counts'?"},
	{"printk with 4 arguments",
	 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
	 "    int a = 1, b = 2, c = 3, d = 4;\n"
	 "    bpf_trace_printk(\"%d %d %d %d\\n\", a, b, c, d);\n"
	 "    return 0;\n"
	 "}\n",
	 "<text>:3:32: error: ", "at most 3 arguments"},
	{"tracepoint field misspelt",
	 "TRACEPOINT_PROBE(syscalls, sys_enter_openat) {\n"
	 "    return args->fname != 0;\n"
	 "}\n",
	 "<text>:2:18: error: ",
	 "tracepoint syscalls/sys_enter_openat has no field 'fname'; its fields: dfd, filename, "
	 "flags, mode"},
	{"method arguments",
	 "BPF_PERF_OUTPUT(events);\n"
	 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
	 "    int x = 1;\n"
	 "    events.perf_submit(&x, sizeof(x));\n"
	 "    return 0;\n"
	 "}\n",
	 "<text>:4:", "events.perf_submit(ctx, data, size) takes 3 arguments, not 2"},
};

static void diagnostics(void)
{
	for (size_t i = 0; i < sizeof(mistakes) / sizeof(mistakes[0]); i++) {
		const struct mistake *m = &mistakes[i];
		char err[1024] = "";
		char *diag = NULL;
		int rc = test_bpf_compile_diag(m->text, &diag, err, sizeof(err));
		CHECK(rc != 0 && diag && strstr(diag, m->at) && strstr(diag, m->says),
		      "%s: rc %d, want '%s...%s' in:\n%s", m->what, rc, m->at, m->says,
		      diag ? diag : "");
		free(diag);
	}
	if (!have_kernel)
		return;
	/* a missing NULL check is the kernel verifier's to find: its words
	 * reach the user */
	char err[1024] = "";
	LIBVISOR_OPTS(visor_bpf_opts, o,
		      .text = "BPF_HASH(counts, u32, u64);\n"
			      "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
			      "    u32 key = 1;\n"
			      "    u64 *v = counts.lookup(&key);\n"
			      "    (*v)++;\n"
			      "    return 0;\n"
			      "}\n");
	FILE *df = fopen("/dev/null", "w");
	o.diag = df;
	struct visor_bpf *b = NULL;
	int rc = visor_bpf_new(&o, &b, err, sizeof(err));
	visor_bpf_free(b);
	if (df)
		fclose(df);
	CHECK(rc != 0 && strstr(err, "map_value_or_null"), "no NULL check: rc %d: %s", rc, err);
}

int main(void)
{
	char err[512];
	char *obj = NULL;
	LIBVISOR_OPTS(visor_compile_opts, co, .text = "int x;\n", .dialect_off = true);
	int rc = visor_compile_cached(&co, &obj, err, sizeof(err));
	free(obj);
	if (rc == -ENOEXEC || rc == -ENOENT)
		return test_skip(NAME, err);
	CHECK(rc == 0, "compiling a trivial source: %s", err);
	have_kernel = geteuid() == 0;

	xdp_run("xdp_proto.c", "xdp_drop_port", VISOR_BACKEND_VM);
	xdp_run("xdp_plain.c", "xdp_drop_port_plain", VISOR_BACKEND_VM);
	diagnostics();
	if (!have_kernel) {
		printf("skipped the kernel parts: not root\n");
		return test_summary(NAME);
	}
	opensnoop(false);
	opensnoop(true);
	execsnoop();
	execsnoop_args();
	syscount();
	wakeuplat();
	taskwalk();
	opensys();
	uprobe_arg();
	xdp_run("xdp_proto.c", "xdp_drop_port", VISOR_BACKEND_KERNEL);
	xdp_run("xdp_plain.c", "xdp_drop_port_plain", VISOR_BACKEND_KERNEL);
	maps_misc();
	return test_summary(NAME);
}
