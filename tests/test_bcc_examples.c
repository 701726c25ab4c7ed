/* issue 7's three BCC examples, verbatim (tests/bcc/), through the
 * BCC-like API (include/visor/bpf.h):
 *  1. hello.c: auto-attached (kprobe__sys_clone -> the syscalls/
 *     sys_enter_clone tracepoint on this kernel, said once in a note); a
 *     child that forks makes a trace line "Hello, World!" whose pid is a
 *     process that cloned;
 *  2. count_sched.c: compiles to a kprobe program the kernel's verifier
 *     accepts (the probe read of prev->pid inserted);
 *  3. recv_packet.c: loads as a socket filter;
 *  4. examples/count_pairs.c, the corrected variant: attached to a raw socket
 *     on a veth in a network namespace, known numbers of IPv4 frames per
 *     address pair sent from the peer are counted exactly per (dip, sip);
 *     the same program on visor's engine (visor_bpf_test_run per frame)
 *     gives the same counts; attached to tc ingress instead (loaded again
 *     as SCHED_CLS, the table shared), the same counts again.
 * And bad input through the API: a syntax error, an unknown table method,
 * a bad bpf_trace_printk format, a type not in BTF: each fails with the
 * message at the line and column. And `visor run FILE.c`: the corrected
 * example over a capture on the engine, a compile error's line:col and
 * exit status 1.
 * The engine part needs clang-19 and kernel BTF; the kernel parts root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <visor/bpf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>

#include "netns.h"
#include "testutil.h"

#define BCC_DIR VISOR_SOURCE_DIR "/tests/bcc/"
#define EXAMPLES_DIR VISOR_SOURCE_DIR "/examples/"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* visor_bpf_new with diagnostics into a buffer: rc, *b, the diag text
 * (malloc'd) and the one-line error in err. The stream stays open: *b
 * keeps writing its notes (later attaches) to it. */
static int bpf_new(struct visor_bpf_opts *o, struct visor_bpf **b, char **diag, char *err,
		   size_t err_len)
{
	FILE *f = tmpfile();
	o->diag = f ? f : stderr;
	int rc = visor_bpf_new(o, b, err, err_len);
	char *buf = NULL;
	if (f) {
		long n = ftell(f);
		buf = calloc(1, n > 0 ? (size_t)n + 1 : 1);
		rewind(f);
		if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
			buf[0] = 0;
		fseek(f, 0, SEEK_END);
	}
	if (diag)
		*diag = buf ? buf : strdup("");
	else
		free(buf);
	return rc;
}

/* ---- Packets --------------------------------------------------------------- */

struct pair {
	const char *src, *dst;
	unsigned count;
};

static const struct pair pairs[] = {
	{"192.0.2.2", "198.51.100.1", 3},
	{"203.0.113.9", "198.51.100.200", 5},
	{"198.51.100.3", "203.0.113.4", 2},
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

struct ipkey {
	uint32_t dip, sip;
};

/* An Ethernet + IPv4 + UDP frame of 60 bytes from src to dst. */
static void ip_frame(uint8_t *f, const uint8_t *dst_mac, const char *src, const char *dst)
{
	memset(f, 0, 60);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x0b\xcc", 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 46;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	memcpy(ip + 20, "\x30\x39\x30\x3a\x00\x1a", 6); /* UDP 12345 -> 12346 */
}

static struct ipkey key_of(const struct pair *p)
{
	struct in_addr s, d;
	inet_pton(AF_INET, p->src, &s);
	inet_pton(AF_INET, p->dst, &d);
	/* BCC's ip->dst and ip->src are host-order values. */
	return (struct ipkey){ntohl(d.s_addr), ntohl(s.s_addr)};
}

/* Every pair's count in mytable equals what was sent (scaled by times). */
static void check_counts(struct visor_bpf *b, const char *where, unsigned times)
{
	struct visor_bpf_table *t = visor_bpf_table(b, "mytable");
	CHECK(t, "%s: no mytable: %s", where, visor_bpf_errmsg(b));
	if (!t)
		return;
	CHECK(!strcmp(visor_bpf_table_key_type(t), "struct IPKey"), "%s: key type '%s'", where,
	      visor_bpf_table_key_type(t));
	CHECK(!strcmp(visor_bpf_table_value_type(t), "int"), "%s: value type '%s'", where,
	      visor_bpf_table_value_type(t));
	for (size_t i = 0; i < NPAIRS; i++) {
		struct ipkey k = key_of(&pairs[i]);
		int v = -1;
		int rc = visor_bpf_table_lookup(t, &k, &v);
		CHECK(rc == 0 && v == (int)(pairs[i].count * times), "%s: %s -> %s: rc %d, count %d, want %u",
		      where, pairs[i].src, pairs[i].dst, rc, v, pairs[i].count * times);
	}
}

/* ---- visor's engine ---------------------------------------------------------- */

static void vm_counts(void)
{
	char err[1024];
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = EXAMPLES_DIR "count_pairs.c",
		      .backend = VISOR_BACKEND_VM);
	char *diag;
	int rc = bpf_new(&o, &b, &diag, err, sizeof(err));
	CHECK(rc == 0, "examples/count_pairs.c on the engine: %s\n%s", err, diag);
	free(diag);
	if (rc)
		return;
	static const uint8_t mac[6] = {2, 0, 0, 0, 0x0b, 0xdd};
	uint8_t f[60];
	for (size_t i = 0; i < NPAIRS; i++) {
		ip_frame(f, mac, pairs[i].src, pairs[i].dst);
		for (unsigned n = 0; n < pairs[i].count; n++) {
			uint32_t ret = 99;
			rc = visor_bpf_test_run(b, "recv_packet", f, sizeof(f), &ret);
			CHECK(rc == 0 && ret == 0, "test run: rc %d ret %u: %s", rc, ret, visor_bpf_errmsg(b));
		}
	}
	/* A frame that is not IPv4 is not counted. */
	ip_frame(f, mac, "192.0.2.2", "198.51.100.1");
	f[12] = 0x86, f[13] = 0xdd;
	CHECK(visor_bpf_test_run(b, "recv_packet", f, sizeof(f), NULL) == 0, "IPv6 test run");
	check_counts(b, "engine", 1);
	CHECK(visor_bpf_table_print(visor_bpf_table(b, "mytable"), stdout, 0) == 0, "table print");
	visor_bpf_free(b);
}

/* ---- Bad input ------------------------------------------------------------------ */

struct bad {
	const char *what, *text;
	const char *at;      /* "<line>:<col>" prefix the diagnostics must hold */
	const char *says;    /* and this text */
};

static const struct bad bads[] = {
	{"syntax error", "int kprobe__sys_getpid(void *ctx) {\n    return 0\n}\n", ":2:", "error"},
	{"unknown method",
	 "BPF_HASH(counts, u32, u64);\n"
	 "int kprobe__sys_getpid(void *ctx) {\n"
	 "    u32 k = 0;\n"
	 "    counts.frobnicate(&k);\n"
	 "    return 0;\n"
	 "}\n",
	 ":4:", "frobnicate"},
	{"bad printk format",
	 "int kprobe__sys_getpid(void *ctx) {\n"
	 "    bpf_trace_printk(\"%d %d %d %d\\n\", 1, 2, 3, 4);\n"
	 "    return 0;\n"
	 "}\n",
	 ":2:", "error"},
	{"type not in BTF",
	 "int kprobe__sys_getpid(void *ctx) {\n"
	 "    struct visor_no_such_type t;\n"
	 "    return 0;\n"
	 "}\n",
	 ":2:", "visor_no_such_type"},
};

static void bad_inputs(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *c = &bads[i];
		char err[1024], *diag = NULL;
		int rc = test_bpf_compile_diag(c->text, &diag, err, sizeof(err));
		CHECK(rc < 0, "%s: compiled: rc %d", c->what, rc);
		/* The line and column: "<text>:LINE:COL: error: ..." */
		const char *at = diag ? strstr(diag, c->at) : NULL;
		CHECK(at && at[strlen(c->at)] >= '1' && at[strlen(c->at)] <= '9',
		      "%s: no diagnostic at line %s col N: %s / %s", c->what, c->at, err,
		      diag ? diag : "");
		CHECK(diag && strstr(diag, c->says), "%s: diagnostics lack '%s': %s", c->what, c->says,
		      diag ? diag : "");
		CHECK(err[0] && !strchr(err, '\n'), "%s: the error is not one line: '%s'", c->what, err);
		free(diag);
	}
}

/* ---- The command: visor run FILE.c ------------------------------------------- */

/* Runs a shell command line; its stdout+stderr (malloc'd) and exit status. */
static int run_cmd(const char *cmd, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t n;
	while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, o);
	int st = p ? pclose(p) : -1;
	fclose(o);
	*out = buf;
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `visor run examples/count_pairs.c --backend vm --pcap` over the pairs, and
 * a compile error's exit status and line:col. */
static void cli_run(void)
{
	char dir[] = "/tmp/visor-bcc-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	char pcap[64], bad[64], cmd[1024], *out;
	snprintf(pcap, sizeof(pcap), "%s/in.pcap", dir);
	snprintf(bad, sizeof(bad), "%s/bad.c", dir);
	FILE *f = fopen(pcap, "w");
	uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1}; /* Ethernet */
	fwrite(hdr, sizeof(hdr), 1, f);
	static const uint8_t mac[6] = {2, 0, 0, 0, 0x0b, 0xdd};
	for (size_t i = 0; i < NPAIRS; i++)
		for (unsigned n = 0; n < pairs[i].count; n++) {
			uint8_t fr[60];
			uint32_t rec[4] = {0, 0, sizeof(fr), sizeof(fr)};
			ip_frame(fr, mac, pairs[i].src, pairs[i].dst);
			fwrite(rec, sizeof(rec), 1, f);
			fwrite(fr, sizeof(fr), 1, f);
		}
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 VISOR_BINARY_DIR "/visor run " EXAMPLES_DIR "count_pairs.c --backend vm --pcap %s 2>&1",
		 pcap);
	int st = run_cmd(cmd, &out);
	CHECK(st == 0, "visor run FILE.c --backend vm: status %d: %s", st, out);
	for (size_t i = 0; i < NPAIRS; i++) {
		struct ipkey k = key_of(&pairs[i]);
		char line[160];
		snprintf(line, sizeof(line),
			 "  (struct IPKey){.dip = (u32)%u,.sip = (u32)%u,} -> (int)%u\n", k.dip, k.sip,
			 pairs[i].count);
		CHECK(strstr(out, line), "visor run: no line '%s' in: %s", line, out);
	}
	free(out);
	f = fopen(bad, "w");
	fputs("int f(struct __sk_buff *skb) {\n    return nope;\n}\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), VISOR_BINARY_DIR "/visor run %s 2>&1", bad);
	st = run_cmd(cmd, &out);
	char at[80];
	snprintf(at, sizeof(at), "%s:2:12: error:", bad);
	CHECK(st == 1 && strstr(out, at), "visor run bad.c: status %d, want 1 and '%s': %s", st, at,
	      out);
	free(out);
	unlink(pcap);
	unlink(bad);
	rmdir(dir);
}

/* ---- The kernel ---------------------------------------------------------------- */

static int prog_type(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : (int)info.type;
}

/* Counts how many lines of text hold needle. */
static int count_of(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void hello_world(void)
{
	char err[1024], *diag = NULL;
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = BCC_DIR "hello.c");
	int rc = bpf_new(&o, &b, &diag, err, sizeof(err));
	CHECK(rc == 0, "hello.c: %s\n%s", err, diag ? diag : "");
	if (rc) {
		free(diag);
		return;
	}
	/* The kprobe fallback is said once, naming the tracepoint. */
	if (!visor_kernel_has_kprobes())
		CHECK(count_of(diag, "sys_enter_clone") == 1,
		      "want one note naming sys_enter_clone, got: '%s'", diag);
	free(diag);
	/* Start reading before the clone: lines come only while open. */
	struct visor_bpf_trace_fields f;
	while (visor_bpf_trace_fields(b, &f, 0) == 1)
		;
	pid_t child = fork();
	if (child == 0) {
		pid_t g = fork(); /* the clone the program sees */
		if (g == 0)
			_exit(0);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	CHECK(child > 0, "fork: %s", strerror(errno));
	if (child > 0)
		waitpid(child, NULL, 0);
	/* Lines of other processes' clones may come first. */
	int seen = 0, ours = 0;
	double end = now_s() + 5;
	while (!ours && now_s() < end) {
		rc = visor_bpf_trace_fields(b, &f, 200);
		CHECK(rc >= 0, "trace_fields: %s", visor_bpf_errmsg(b));
		if (rc < 0)
			break;
		if (rc == 1 && strstr(f.msg, "Hello, World!")) {
			seen++;
			ours = f.pid == child || f.pid == getpid();
		}
	}
	CHECK(ours, "no 'Hello, World!' line from pid %d or %d (%d other hello lines; last: %s-%d '%s')",
	      (int)child, (int)getpid(), seen, f.task, f.pid, f.msg);
	visor_bpf_free(b);
}

static void count_sched(void)
{
	char err[1024], *diag = NULL;
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = BCC_DIR "count_sched.c", .no_autoattach = true);
	int rc = bpf_new(&o, &b, &diag, err, sizeof(err));
	CHECK(rc == 0, "count_sched.c: %s\n%s", err, diag ? diag : "");
	free(diag);
	if (rc)
		return;
	int fd = visor_bpf_prog_fd(b, "count_sched");
	CHECK(fd >= 0, "count_sched: no prog fd: %s", visor_bpf_errmsg(b));
	if (fd >= 0)
		CHECK(prog_type(fd) == BPF_PROG_TYPE_KPROBE, "count_sched: type %d, want kprobe",
		      prog_type(fd));
	CHECK(visor_bpf_prog_type(b, "count_sched") == BPF_PROG_TYPE_KPROBE, "prog_type");
	visor_bpf_free(b);
}

static void recv_packet_loads(void)
{
	char err[1024], *diag = NULL;
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = BCC_DIR "recv_packet.c");
	int rc = bpf_new(&o, &b, &diag, err, sizeof(err));
	CHECK(rc == 0, "recv_packet.c: %s\n%s", err, diag ? diag : "");
	free(diag);
	if (rc)
		return;
	int fd = visor_bpf_prog_fd(b, "recv_packet");
	CHECK(fd >= 0 && prog_type(fd) == BPF_PROG_TYPE_SOCKET_FILTER,
	      "recv_packet: fd %d type %d, want a socket filter", fd, fd >= 0 ? prog_type(fd) : -1);
	visor_bpf_free(b);
}

/* Delivery is asynchronous: waits (at most 3 s) until t counts want frames
 * over all pairs. */
static void wait_counted(struct visor_bpf_table *t, int want)
{
	for (double end = now_s() + 3; t && now_s() < end;) {
		int total = 0;
		for (size_t i = 0; i < NPAIRS; i++) {
			struct ipkey k = key_of(&pairs[i]);
			int v = 0;
			if (!visor_bpf_table_lookup(t, &k, &v))
				total += v;
		}
		if (total >= want)
			break;
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	}
}

static void kernel_counts(void)
{
	char reason[256], err[1024], *diag = NULL;
	if (netns_available(reason, sizeof(reason)) < 0) {
		printf("skipped the raw socket part: %s\n", reason);
		return;
	}
	struct netns_pair p;
	if (netns_pair_create(&p, err, sizeof(err)) < 0) {
		CHECK(0, "netns: %s", err);
		return;
	}
	struct visor_bpf *b = NULL;
	LIBVISOR_OPTS(visor_bpf_opts, o, .src_file = EXAMPLES_DIR "count_pairs.c");
	int rc = bpf_new(&o, &b, &diag, err, sizeof(err));
	CHECK(rc == 0, "examples/count_pairs.c: %s\n%s", err, diag ? diag : "");
	free(diag);
	int tx = -1, saved;
	if (rc)
		goto out;
	/* The raw socket is made in the namespace of the calling thread. */
	rc = netns_enter(p.ns, &saved);
	CHECK(rc == 0, "netns_enter: %d", rc);
	if (rc)
		goto out;
	int sock = visor_bpf_attach_raw_socket(b, "recv_packet", p.dev);
	netns_leave(saved);
	CHECK(sock >= 0, "attach_raw_socket: %s", visor_bpf_errmsg(b));
	if (sock < 0)
		goto out;
	tx = netns_packet_socket(p.peer_ns, p.peer, 0x0003);
	CHECK(tx >= 0, "peer socket: %d", tx);
	if (tx < 0)
		goto out;
	uint8_t f[60];
	for (size_t i = 0; i < NPAIRS; i++) {
		ip_frame(f, p.dev_mac, pairs[i].src, pairs[i].dst);
		int sent = netns_send_frames(tx, f, sizeof(f), pairs[i].count, 2000);
		CHECK(sent == (int)pairs[i].count, "sent %d of %u", sent, pairs[i].count);
	}
	struct visor_bpf_table *t = visor_bpf_table(b, "mytable");
	int want = 0;
	for (size_t i = 0; i < NPAIRS; i++)
		want += (int)pairs[i].count;
	wait_counted(t, want);
	check_counts(b, "kernel", 1);

	/* The same function on tc ingress: loaded again as SCHED_CLS (it is a
	 * socket filter to the front end), the table shared. */
	visor_bpf_detach_all(b);
	CHECK(visor_bpf_table_clear(t) == 0, "clear: %s", visor_bpf_errmsg(b));
	rc = netns_enter(p.ns, &saved);
	CHECK(rc == 0, "netns_enter: %d", rc);
	if (rc)
		goto out;
	rc = visor_bpf_attach_tc(b, p.dev, "recv_packet", false);
	netns_leave(saved);
	CHECK(rc == 0, "attach_tc: %s", visor_bpf_errmsg(b));
	if (rc)
		goto out;
	for (size_t i = 0; i < NPAIRS; i++) {
		ip_frame(f, p.dev_mac, pairs[i].src, pairs[i].dst);
		netns_send_frames(tx, f, sizeof(f), pairs[i].count, 2000);
	}
	wait_counted(t, want);
	check_counts(b, "tc", 1);
out:
	if (tx >= 0)
		close(tx);
	visor_bpf_free(b);
	netns_pair_destroy(&p);
}

int main(void)
{
	char err[512];
	/* The front end needs clang-19 and the kernel's BTF: try a tiny compile. */
	char *obj = NULL;
	LIBVISOR_OPTS(visor_compile_opts, co, .text = "int x;\n", .dialect_off = true);
	int rc = visor_compile_cached(&co, &obj, err, sizeof(err));
	free(obj);
	if (rc == -ENOEXEC || rc == -ENOENT)
		return test_skip("test_bcc_examples", err);
	CHECK(rc == 0, "compiling a trivial source: %s", err);

	vm_counts();
	bad_inputs();
	cli_run();
	if (geteuid() != 0) {
		printf("skipped the kernel parts: not root\n");
		return test_summary("test_bcc_examples");
	}
	hello_world();
	count_sched();
	recv_packet_loads();
	kernel_counts();
	return test_summary("test_bcc_examples");
}
