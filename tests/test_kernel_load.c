/* Objects loaded into the kernel and attached through visor
 * (include/visor/kernel.h, src/kernel/kobj.c, attach.c, list.c): a syscall
 * tracepoint counting one child's openat calls, a uprobe and uretprobe on a
 * function of this binary, the kprobe-on-syscall fallback, a socket filter,
 * perf-event sampling, the one-line errors (unknown tracepoint, missing
 * binary or symbol, no kprobes, verifier refusal, no privileges), nothing
 * left attached after close, and the kernel's program and map lists. Needs
 * root and bpf(); skips with one line otherwise. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "testutil.h"

#define OBJ VISOR_BINARY_DIR "/tests/progs/kernel_trace.bpf.o"
#define BAD_OBJ VISOR_BINARY_DIR "/tests/progs/kernel_load_bad.bpf.o"

enum { C_OPENAT, C_GETPID, C_UPROBE, C_URETPROBE, C_PERF, C_GETPPID };

/* The uprobe's target: found by name in /proc/self/exe's symbol table. */
__attribute__((noinline, used)) long visor_kload_add(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a * 3 + b;
}

static struct visor_kernel_obj *obj;
static char err[512], note[512];

static uint64_t counter(const char *map, uint32_t i)
{
	uint64_t v = 0;
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, map);
	CHECK(m != NULL, "map %s", map);
	if (m)
		CHECK(visor_kernel_map_lookup(m, &i, &v) == 0, "lookup %s[%u]", map, i);
	return v;
}

static void set_tgid(uint32_t tgid)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "cfg");
	uint32_t k = 0;
	CHECK(m && bpf_map_update_elem(visor_kernel_map_fd(m), &k, &tgid, 0) == 0, "set cfg");
}

static bool one_line(const char *s)
{
	return s[0] && !strchr(s, '\n');
}

/* (1) A child makes exactly n openat calls once the parent has attached. */
static void test_tracepoint(void)
{
	int n = 7, pfd[2];
	CHECK(pipe(pfd) == 0, "pipe");
	pid_t child = fork();
	if (child == 0) {
		char c;
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		for (int i = 0; i < n; i++) {
			long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
			if (fd >= 0)
				close((int)fd);
		}
		_exit(0);
	}
	close(pfd[0]);
	set_tgid((uint32_t)child);
	struct visor_kernel_link *l = NULL;
	int r = visor_kernel_attach(obj, "count_openat", NULL, &l, note, sizeof(note), err,
				    sizeof(err));
	CHECK(r == 0, "attach count_openat: %d %s", r, err);
	CHECK(l && !strcmp(visor_kernel_link_describe(l), "tracepoint syscalls/sys_enter_openat"),
	      "describe: %s", l ? visor_kernel_link_describe(l) : "");
	CHECK(write(pfd[1], "x", 1) == 1, "release the child");
	close(pfd[1]);
	int st = 0;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	CHECK_EQ_U64(counter("counts", C_OPENAT), n, "openat count of the child");
	visor_kernel_link_destroy(l);
}

/* (2) Arguments and return values seen by a uprobe / uretprobe. */
static void test_uprobe(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0, "readlink");
	exe[n > 0 ? n : 0] = 0;
	struct visor_kernel_attach_opts o = {.sz = sizeof(o),
					     .kind = VISOR_KERNEL_ATTACH_UPROBE,
					     .target = exe,
					     .func = "visor_kload_add",
					     .pid = getpid()};
	struct visor_kernel_link *in = NULL, *out = NULL;
	int r = visor_kernel_attach(obj, "on_add", &o, &in, note, sizeof(note), err, sizeof(err));
	CHECK(r == 0, "attach uprobe: %d %s", r, err);
	o.retprobe = true;
	r = visor_kernel_attach(obj, "on_add_ret", &o, &out, note, sizeof(note), err, sizeof(err));
	CHECK(r == 0, "attach uretprobe: %d %s", r, err);
	CHECK(out && strstr(visor_kernel_link_describe(out), "uretprobe"), "describe: %s",
	      out ? visor_kernel_link_describe(out) : "");
	set_tgid((uint32_t)getpid());
	uint64_t sa = 0, sb = 0, sr = 0;
	for (long i = 1; i <= 5; i++) {
		long a = i * 10, b = i + 1000;
		sr += (uint64_t)visor_kload_add(a, b);
		sa += (uint64_t)a;
		sb += (uint64_t)b;
	}
	set_tgid(0);
	CHECK_EQ_U64(counter("counts", C_UPROBE), 5, "uprobe calls");
	CHECK_EQ_U64(counter("counts", C_URETPROBE), 5, "uretprobe calls");
	CHECK_EQ_U64(counter("uargs", 0), sa, "sum of first arguments");
	CHECK_EQ_U64(counter("uargs", 1), sb, "sum of second arguments");
	CHECK_EQ_U64(counter("uargs", 2), sr, "sum of return values");
	visor_kernel_link_destroy(in);
	visor_kernel_link_destroy(out);
}

static bool have_kprobes(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0;
}

/* (3) kprobe on a syscall: through sys_enter_X when there are no kprobes. */
static void test_kprobe_fallback(void)
{
	struct visor_kernel_link *a = NULL, *b = NULL;
	int r = visor_kernel_attach(obj, "count_getpid", NULL, &a, note, sizeof(note), err,
				    sizeof(err));
	CHECK(r == 0, "attach kprobe/__x64_sys_getpid: %d %s", r, err);
	if (!have_kprobes())
		CHECK(strstr(note, "tracepoint syscalls/sys_enter_getpid") &&
			      strstr(note, "kprobes are not available"),
		      "fallback note: %s", note);
	r = visor_kernel_attach(obj, "kprobe__sys_getppid", NULL, &b, note, sizeof(note), err,
				sizeof(err));
	CHECK(r == 0, "attach kprobe__sys_getppid: %d %s", r, err);
	if (!have_kprobes())
		CHECK(strstr(note, "syscalls/sys_enter_getppid"), "fallback note: %s", note);
	set_tgid((uint32_t)getpid());
	for (int i = 0; i < 4; i++) {
		syscall(SYS_getpid);
		syscall(SYS_getppid);
	}
	set_tgid(0);
	CHECK_EQ_U64(counter("counts", C_GETPID), 4, "getpid calls");
	CHECK_EQ_U64(counter("counts", C_GETPPID), 4, "getppid calls");
	visor_kernel_link_destroy(a);
	visor_kernel_link_destroy(b);
}

/* (4) A socket filter dropping datagrams that start with 0xff. */
static int drain(int fd)
{
	char buf[64];
	int n = 0;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static void test_socket_filter(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_SOCKET, .sock_fd = sv[1]};
	struct visor_kernel_link *l = NULL;
	int r = visor_kernel_attach(obj, "drop_ff", &o, &l, note, sizeof(note), err, sizeof(err));
	CHECK(r == 0, "attach socket filter: %d %s", r, err);
	for (int i = 0; i < 10; i++) {
		unsigned char msg[4] = {i % 3 == 0 ? 0xff : 0x01, 2, 3, 4};
		CHECK(send(sv[0], msg, sizeof(msg), 0) == sizeof(msg), "send %d", i);
	}
	CHECK(drain(sv[1]) == 6, "received datagrams (4 of 10 dropped)");
	visor_kernel_link_destroy(l);
	unsigned char ff = 0xff;
	CHECK(send(sv[0], &ff, 1, 0) == 1, "send after detach");
	CHECK(drain(sv[1]) == 1, "detached: nothing dropped");
	close(sv[0]);
	close(sv[1]);
}

/* (5) cpu-clock sampling at 1000 Hz while this process spins ~300 ms. */
static void test_perf_event(void)
{
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_PERF_EVENT, .freq = 1000};
	struct visor_kernel_link *l = NULL;
	int r = visor_kernel_attach(obj, "on_sample", &o, &l, note, sizeof(note), err, sizeof(err));
	CHECK(r == 0, "attach perf event: %d %s", r, err);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	volatile uint64_t spin = 0;
	do {
		for (int i = 0; i < 100000; i++)
			spin += (uint64_t)i;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000000L);
	visor_kernel_link_destroy(l);
	uint64_t n = counter("counts", C_PERF);
	CHECK(n > 0, "perf samples: %llu", (unsigned long long)n);
}

/* (6) The one-line errors. */
static void test_errors(const char *exe)
{
	struct visor_kernel_attach_opts o = {.sz = sizeof(o),
					     .kind = VISOR_KERNEL_ATTACH_TRACEPOINT,
					     .target = "syscalls/sys_enter_visor_nope"};
	int r = visor_kernel_attach(obj, "count_openat", &o, NULL, note, sizeof(note), err,
				    sizeof(err));
	CHECK(r == -ENOENT && one_line(err) &&
		      strstr(err, "no tracepoint syscalls/sys_enter_visor_nope"),
	      "unknown tracepoint: %d %s", r, err);

	o = (struct visor_kernel_attach_opts){.sz = sizeof(o),
					      .kind = VISOR_KERNEL_ATTACH_UPROBE,
					      .target = "/nonexistent/visor-bin",
					      .func = "main"};
	r = visor_kernel_attach(obj, "on_add", &o, NULL, note, sizeof(note), err, sizeof(err));
	CHECK(r == -ENOENT && one_line(err) && strstr(err, "/nonexistent/visor-bin: no such binary"),
	      "missing binary: %d %s", r, err);

	o.target = exe;
	o.func = "visor_no_such_symbol";
	r = visor_kernel_attach(obj, "on_add", &o, NULL, note, sizeof(note), err, sizeof(err));
	CHECK(r == -ENOENT && one_line(err) && strstr(err, "symbol 'visor_no_such_symbol' not found"),
	      "missing symbol: %d %s", r, err);

	if (!have_kprobes()) {
		r = visor_kernel_attach(obj, "nanosleep_ret", NULL, NULL, note, sizeof(note), err,
					sizeof(err));
		CHECK(r == -EOPNOTSUPP && one_line(err) &&
			      strstr(err, "kprobes are not available") && strstr(err, "tracepoint"),
		      "kretprobe without kprobes: %d %s", r, err);
	}

	struct visor_kernel_obj *bad = NULL;
	r = visor_kernel_obj_load(BAD_OBJ, NULL, &bad, err, sizeof(err));
	CHECK(r == -EACCES && !bad && one_line(err) && strstr(err, "unchecked_lookup") &&
		      strstr(err, "verifier") && strstr(err, "R0"),
	      "verifier refusal: %d %s", r, err);

	r = visor_kernel_obj_load("/nonexistent/visor.bpf.o", NULL, &bad, err, sizeof(err));
	CHECK(r == -ENOENT && one_line(err), "missing object: %d %s", r, err);
	r = visor_kernel_obj_load("/proc/self/exe", NULL, &bad, err, sizeof(err));
	CHECK(r < 0 && one_line(err), "not an eBPF object: %d %s", r, err);

	/* Unprivileged: a child that gives up root. */
	int pfd[2];
	CHECK(pipe(pfd) == 0, "pipe");
	pid_t child = fork();
	if (child == 0) {
		close(pfd[0]);
		char e[512] = "";
		int rc = -1;
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			snprintf(e, sizeof(e), "cannot drop privileges: %s", strerror(errno));
		else {
			struct visor_kernel_obj *o2 = NULL;
			rc = visor_kernel_obj_load(OBJ, NULL, &o2, e, sizeof(e));
			visor_kernel_obj_close(o2);
		}
		ssize_t w = write(pfd[1], &rc, sizeof(rc));
		w += write(pfd[1], e, strlen(e) + 1);
		_exit(w > 0 ? 0 : 1);
	}
	close(pfd[1]);
	int rc = 0;
	char e[512] = "";
	CHECK(read(pfd[0], &rc, sizeof(rc)) == sizeof(rc), "read child result");
	ssize_t got = read(pfd[0], e, sizeof(e) - 1);
	e[got > 0 ? got : 0] = 0;
	close(pfd[0]);
	waitpid(child, NULL, 0);
	CHECK(rc == -EPERM && one_line(e) && strstr(e, "CAP_BPF"), "unprivileged load: %d %s", rc,
	      e);
}

/* (8) The kernel's lists show the object's programs and maps by name. */
struct want {
	uint32_t ids[4];
	const char *names[4];
	int n, found;
};

static int see_prog(void *ctx, const struct visor_kernel_prog_info *in)
{
	struct want *w = ctx;
	for (int i = 0; i < w->n; i++)
		if (in->id == w->ids[i] && !strcmp(in->name, w->names[i]) && strlen(in->tag) == 16 &&
		    in->insns > 0)
			w->found++;
	return 0;
}

static int see_map(void *ctx, const struct visor_kernel_map_info *in)
{
	struct want *w = ctx;
	for (int i = 0; i < w->n; i++)
		if (in->id == w->ids[i] && !strcmp(in->name, w->names[i]))
			w->found++;
	return 0;
}

static uint32_t prog_id(const char *name)
{
	struct bpf_prog_info pi;
	memset(&pi, 0, sizeof(pi));
	uint32_t len = sizeof(pi);
	int fd = visor_kernel_obj_prog_fd(obj, name);
	CHECK(fd >= 0 && bpf_obj_get_info_by_fd(fd, &pi, &len) == 0, "prog info %s", name);
	return pi.id;
}

static void test_lists(struct want *progs)
{
	progs->n = 2;
	progs->names[0] = "count_openat";
	progs->names[1] = "on_sample";
	progs->ids[0] = prog_id("count_openat");
	progs->ids[1] = prog_id("on_sample");
	progs->found = 0;
	CHECK(visor_kernel_prog_list(see_prog, progs, err, sizeof(err)) == 0, "prog list: %s", err);
	CHECK(progs->found == 2, "prog list shows the object's programs (%d)", progs->found);

	struct want maps = {.n = 2, .names = {"counts", "cfg"}};
	for (int i = 0; i < 2; i++) {
		struct visor_kernel_map *m = visor_kernel_obj_map(obj, maps.names[i]);
		CHECK(m != NULL, "map %s", maps.names[i]);
		maps.ids[i] = m ? visor_kernel_map_info(m)->id : 0;
	}
	CHECK(visor_kernel_map_list(see_map, &maps, err, sizeof(err)) == 0, "map list: %s", err);
	CHECK(maps.found == 2, "map list shows the object's maps (%d)", maps.found);

	struct visor_kernel_map *m = NULL;
	CHECK(visor_kernel_map_open_id(maps.ids[0], &m, err, sizeof(err)) == 0, "open id: %s", err);
	CHECK(m && !strcmp(visor_kernel_map_info(m)->name, "counts") &&
		      visor_kernel_map_info(m)->max_entries == 6,
	      "map by id");
	visor_kernel_map_close(m);
	CHECK(visor_kernel_map_open_id(0xfffffff0u, &m, err, sizeof(err)) == -ENOENT,
	      "missing map id: %s", err);

	bool names = false;
	for (size_t i = 0; i < visor_kernel_obj_prog_count(obj); i++)
		if (!strcmp(visor_kernel_obj_prog_name(obj, i), "count_openat"))
			names = !strcmp(visor_kernel_obj_prog_section(obj, i),
					"tracepoint/syscalls/sys_enter_openat");
	CHECK(names, "prog name and section");
	CHECK(visor_kernel_obj_map_count(obj) >= 3, "map count");
	CHECK(visor_kernel_obj_prog_fd(obj, "nope") == -ENOENT, "missing prog fd");
	CHECK(visor_kernel_obj_map(obj, "nope") == NULL, "missing map");
}

/* (7) After close nothing is attached: openat of this process is no longer
 * counted (in maps kept open here), and the programs are gone. */
static void test_close(struct want *progs)
{
	struct visor_kernel_link *l = NULL;
	int r = visor_kernel_attach(obj, "count_openat", NULL, &l, note, sizeof(note), err,
				    sizeof(err));
	CHECK(r == 0, "attach: %s", err);
	int counts = dup(visor_kernel_map_fd(visor_kernel_obj_map(obj, "counts")));
	int cfg = dup(visor_kernel_map_fd(visor_kernel_obj_map(obj, "cfg")));
	uint32_t k = 0, me = (uint32_t)getpid(), ki = C_OPENAT;
	CHECK(bpf_map_update_elem(cfg, &k, &me, 0) == 0, "cfg");
	uint64_t before = 0, after = 0, later = 0;
	bpf_map_lookup_elem(counts, &ki, &before);
	close(open("/dev/null", O_RDONLY));
	bpf_map_lookup_elem(counts, &ki, &after);
	CHECK(after == before + 1, "counted while attached: %llu -> %llu",
	      (unsigned long long)before, (unsigned long long)after);
	visor_kernel_obj_close(obj);
	obj = NULL;
	for (int i = 0; i < 5; i++)
		close(open("/dev/null", O_RDONLY));
	bpf_map_lookup_elem(counts, &ki, &later);
	CHECK(later == after, "no longer counted after close: %llu -> %llu",
	      (unsigned long long)after, (unsigned long long)later);
	close(counts);
	close(cfg);
	/* Program ids go away once the last reference drops (give RCU a moment). */
	for (int i = 0; i < 100; i++) {
		progs->found = 0;
		visor_kernel_prog_list(see_prog, progs, err, sizeof(err));
		if (!progs->found)
			break;
		usleep(10000);
	}
	CHECK(progs->found == 0, "programs still listed after close: %d", progs->found);
}

int main(void)
{
	if (geteuid() != 0)
		return test_skip("test_kernel_load", "needs root to load programs into the kernel");
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0)
		return test_skip("test_kernel_load", "bpf() is not available");
	close(fd);
	if (access(OBJ, R_OK)) {
		fprintf(stderr, "%s missing: build the visor_test_progs target\n", OBJ);
		return 1;
	}
	int r = visor_kernel_obj_load(OBJ, NULL, &obj, err, sizeof(err));
	CHECK(r == 0, "load %s: %d %s", OBJ, r, err);
	if (r)
		return test_summary("test_kernel_load");
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;

	struct want progs;
	test_tracepoint();
	test_uprobe();
	test_kprobe_fallback();
	test_socket_filter();
	test_perf_event();
	test_errors(exe);
	test_lists(&progs);
	test_close(&progs);
	visor_kernel_obj_close(obj);
	return test_summary("test_kernel_load");
}
