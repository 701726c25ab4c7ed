/* visor run: a BCC-dialect source (compiled through the front end's
 * cache) or an object, loaded into the kernel through the BCC-like API
 * (include/visor/bpf.h), every program attached by its section; while it
 * runs it prints what the programs say (trace pipe lines, ring and perf
 * buffer records) and, when stopped (SIGINT, SIGTERM or --duration), it
 * detaches and dumps the maps — histograms as log2 bars, as BCC's
 * print_log2_hist does. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/bpf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>

#include "cli.h"

#define RUN_MAX_PROGS 64
#define RUN_MAX_CHANNELS 16
#define RUN_MAX_CFLAGS 64

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor run FILE.c|-|OBJ [--prog NAME...] [--duration S] [--backend kernel] [-- CFLAGS...]\n"
		"       visor run FILE.c|OBJ --backend vm --pcap FILE [--prog NAME] [-- CFLAGS...]\n"
		"FILE.c (C in the BCC dialect, or libbpf style) is compiled first, as 'visor\n"
		"compile' does (cached; kernel types from BTF; CFLAGS after '--' go to the\n"
		"compiler); its errors are shown at FILE.c:LINE:COL ('-': the source is read\n"
		"from standard input); a compile that is not cached starts a compile server for\n"
		"the next ones (see 'visor compile-server --help'; VISOR_COMPILE_SERVER=0: not).\n"
		"OBJ is a BPF ELF object.\n"
		"The object is loaded into the kernel (libbpf), every program is attached by\n"
		"its section (the front end names them from the function: kprobe__X,\n"
		"tracepoint__CAT__EVENT, TRACEPOINT_PROBE ...; tracepoint/..., raw_tp/...,\n"
		"uprobe/..., kprobe/... falling back to the syscall tracepoint with a note,\n"
		"perf_event ...), and while it runs visor prints:\n"
		"  - trace pipe lines (bpf_trace_printk), as BCC's trace_print: 'comm-pid [cpu] ... : text'\n"
		"  - ring buffer and perf buffer records: 'MAP: N bytes' and a hex dump\n"
		"It stops on Ctrl-C (SIGINT), SIGTERM or after --duration seconds, detaches\n"
		"everything, then dumps every map: values formatted through BTF when the map\n"
		"has it (hex otherwise). A histogram is printed as log2 bars like BCC's\n"
		"print_log2_hist: an array or hash map with 4- or 8-byte keys (the log2 slot,\n"
		"0..64) and 8-byte values (counts; per-CPU maps summed) whose name ends with\n"
		"'hist', or whose key or value BTF type name contains 'hist'.\n"
		"Needs root (or CAP_BPF + CAP_PERFMON).\n"
		"With --backend vm, the object is loaded on visor's own engine instead (every\n"
		"program verified) and its packet program (XDP, tc, socket filter) runs once on\n"
		"every packet of the capture, in order: it prints how many packets got each\n"
		"return code, then dumps the maps the same way (no root needed).\n\n"
		"  --prog NAME         attach only this program (repeatable; all are loaded)\n"
		"  --duration S        stop after S seconds (decimals allowed; default: until a signal)\n"
		"  --backend B         kernel (default), or vm: visor's engine\n"
		"  --pcap FILE         with --backend vm: the packets (Ethernet capture)\n"
		"  -h, --help          this text\n");
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- While it runs ---------------------------------------------------- */

struct channel {
	const char *map;
	uint64_t records, lost;
};

static int on_record(void *ctx, const void *data, size_t size)
{
	struct channel *c = ctx;
	c->records++;
	printf("%s: %zu bytes\n", c->map, size);
	cli_hexdump(stdout, data, size, "  ");
	return 0;
}

static void on_lost(void *ctx, int cpu, uint64_t count)
{
	struct channel *c = ctx;
	c->lost += count;
	printf("%s: %llu records lost on CPU %d\n", c->map, (unsigned long long)count, cpu);
}

/* Opens a reader on every ring buffer and perf buffer of b. */
static int open_channels(struct visor_bpf *b, struct channel *ch, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < visor_bpf_table_count(b); i++) {
		const char *name = visor_bpf_table_name_at(b, i);
		struct visor_bpf_table *t = name ? visor_bpf_table(b, name) : NULL;
		if (!t)
			continue;
		uint32_t type = visor_bpf_table_type(t);
		int rb = type == VISOR_MAP_TYPE_RINGBUF, pb = type == VISOR_MAP_TYPE_PERF_EVENT_ARRAY;
		if (!rb && !pb)
			continue;
		if (*n == RUN_MAX_CHANNELS) {
			cli_error("%s: more than %d ring/perf buffers", name, RUN_MAX_CHANNELS);
			return -1;
		}
		struct channel *c = &ch[*n];
		memset(c, 0, sizeof(*c));
		c->map = name;
		int rc = rb ? visor_bpf_open_ring_buffer(b, name, on_record, c)
			    : visor_bpf_open_perf_buffer(b, name, on_record, on_lost, c);
		if (rc) {
			cli_error("%s", visor_bpf_errmsg(b));
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/* Polls everything until a signal or the deadline (end < 0: none). */
static int run_loop(struct visor_bpf *b, size_t nch, int trace, double end)
{
	for (;;) {
		if (stop_signal)
			return 0;
		int wait = 100;
		if (end >= 0) {
			double left = end - now_s();
			if (left <= 0)
				return 0;
			if (left * 1000 < wait)
				wait = (int)(left * 1000) + 1;
		}
		if (nch) {
			int rc = visor_bpf_poll(b, trace ? 0 : wait);
			if (rc < 0 && rc != -EINTR) {
				cli_error("%s", visor_bpf_errmsg(b));
				return -1;
			}
		}
		int rc = 0;
		if (trace)
			rc = visor_bpf_trace_print(b, stdout, wait, 0);
		else if (!nch)
			rc = nanosleep(&(struct timespec){0, wait * 1000000L}, NULL) ? -errno : 0;
		if (rc < 0 && rc != -EINTR) {
			cli_error("%s", visor_bpf_errmsg(b));
			return -1;
		}
		fflush(stdout);
	}
}

/* The FILE.c of `visor run FILE.c`: compiled into the cache (diagnostics on
 * stderr at FILE.c:LINE:COL); the object's path, or NULL after the error. */
static char *compile(const char *path, const char *const *cflags, size_t ncflags)
{
	char err[1024], *obj = NULL, *text = NULL;
	if (!strcmp(path, "-")) { /* the source on standard input */
		size_t len;
		if (!(text = cli_read_file("-", &len)))
			return NULL;
		if (strlen(text) != len) {
			cli_error("<stdin>: a NUL byte: this is not C source text");
			free(text);
			return NULL;
		}
		path = "<stdin>";
	}
	struct visor_compile_stats st;
	memset(&st, 0, sizeof(st));
	LIBVISOR_OPTS(visor_compile_opts, co, .path = path, .text = text, .cflags = cflags,
		      .ncflags = ncflags, .diag = stderr, .stats = &st);
	int rc = visor_compile_cached(&co, &obj, err, sizeof(err));
	free(text);
	if (!stop_signal)
		cli_compile_server_autostart(&st);
	if (rc && !stop_signal) { /* interrupted: the caller says so */
		/* Source errors were shown at FILE:LINE:COL; the count names the file. */
		cli_error("%s%s%s", rc == -EINVAL ? path : "", rc == -EINVAL ? ": " : "", err);
		return NULL;
	}
	if (rc)
		return NULL;
	return obj;
}

/* FILE.c, or "-": a source on standard input. */
static int is_source(const char *path)
{
	size_t n = strlen(path);
	return !strcmp(path, "-") || (n > 2 && !strcmp(path + n - 2, ".c"));
}

/* ---- The command -------------------------------------------------------- */

/* Loaded, attached, run, dumped: the kernel backend. */
static int run_kernel(const char *path, const char *source, const char *const *progs,
		      size_t nprogs, double duration)
{
	char err[1024];
	struct visor_bpf *b;
	LIBVISOR_OPTS(visor_bpf_opts, bo, .obj_file = path, .no_autoattach = true, .diag = stderr,
		      .source_name = source);
	if (visor_bpf_new(&bo, &b, err, sizeof(err))) {
		cli_error("%s", err);
		return 1;
	}
	int status = 1;
	struct channel ch[RUN_MAX_CHANNELS];
	size_t nch = 0;
	for (size_t i = 0; i < nprogs; i++)
		if (visor_bpf_prog_fd(b, progs[i]) < 0) {
			cli_error("%s: no program named '%s'", path, progs[i]);
			goto out;
		}
	/* Signals stop the loop below; set before attaching so a Ctrl-C at
	 * any point still detaches. No SA_RESTART: polls return EINTR. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (size_t i = 0; i < (nprogs ? nprogs : 1); i++)
		if (visor_bpf_attach_auto(b, nprogs ? progs[i] : NULL)) {
			cli_error("%s", visor_bpf_errmsg(b));
			goto out;
		}
	if (open_channels(b, ch, &nch))
		goto out;
	/* The trace pipe opens on the first read: now, so a problem is said
	 * before "running". */
	int trace = visor_bpf_trace_print(b, stdout, 0, 0) >= 0;
	if (!trace)
		fprintf(stderr, "visor: no trace output: %s\n", visor_bpf_errmsg(b));
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(visor_bpf_loaded(b));
	for (size_t i = 0; visor_kernel_obj_link_at(k, i); i++)
		fprintf(stderr, "visor: attached %s\n",
			visor_kernel_link_describe(visor_kernel_obj_link_at(k, i)));
	fprintf(stderr, "visor: running%s; Ctrl-C stops\n",
		duration >= 0 ? " for the given duration" : "");
	if (run_loop(b, nch, trace, duration >= 0 ? now_s() + duration : -1))
		goto out;
	/* Detach first so the maps hold still while they are dumped. */
	visor_bpf_detach_all(b);
	/* What the programs sent before detaching. */
	if (nch)
		visor_bpf_poll(b, 0);
	if (trace)
		visor_bpf_trace_print(b, stdout, 0, 0);
	for (size_t i = 0; i < nch; i++)
		if (ch[i].lost)
			fprintf(stderr, "visor: %s: %llu records lost\n", ch[i].map,
				(unsigned long long)ch[i].lost);
	status = 0;
	if (visor_bpf_dump(b, stdout)) {
		cli_error("%s", visor_bpf_errmsg(b));
		status = 1;
	}
out:
	fflush(stdout);
	visor_bpf_free(b);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return status;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"prog", required_argument, 0, 'p'},
		{"duration", required_argument, 0, 'd'},
		{"backend", required_argument, 0, 'b'},
		{"pcap", required_argument, 0, 'P'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *progs[RUN_MAX_PROGS];
	size_t nprogs = 0;
	double duration = -1;
	const char *pcap = NULL;
	int c, vm = 0;
	/* Compiler flags come after "--": options are parsed before it only. */
	int nargs = argc;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			nargs = i;
			break;
		}
	const char *const *cflags = (const char *const *)argv + nargs + 1;
	size_t ncflags = nargs < argc ? (size_t)(argc - nargs - 1) : 0;
	optind = 1;
	while ((c = getopt_long(nargs, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (nprogs == RUN_MAX_PROGS) {
				cli_error("run: at most %d --prog options", RUN_MAX_PROGS);
				return 2;
			}
			progs[nprogs++] = optarg;
			break;
		case 'd': {
			char *end;
			duration = strtod(optarg, &end);
			if (*end || end == optarg || !(duration >= 0) || duration > 1e7) {
				cli_error("run: --duration wants seconds (e.g. 1 or 0.5), not '%s'", optarg);
				return 2;
			}
			break;
		}
		case 'P': pcap = optarg; break;
		case 'b':
			vm = !strcmp(optarg, "vm");
			if (!vm && strcmp(optarg, "kernel")) {
				cli_error("run: unknown backend '%s' (kernel or vm)", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != nargs - 1) {
		cli_error("run: expected one source (.c) or object file (try 'visor run --help')");
		return 2;
	}
	const char *path = argv[optind];
	if (ncflags && !is_source(path)) {
		cli_error("run: compiler flags after '--' are for a .c source, not the object %s", path);
		return 2;
	}
	if (vm || pcap) {
		if (!vm) {
			cli_error("run: --pcap is input for --backend vm (the kernel backend sees live traffic)");
			return 2;
		}
		if (!pcap) {
			cli_error("run: --backend vm needs --pcap FILE (the packets to run the program on)");
			return 2;
		}
		if (nprogs > 1 || duration >= 0) {
			cli_error("run: --backend vm runs one program (--prog NAME) over the capture; no --duration");
			return 2;
		}
	}
	char *obj = NULL;
	if (is_source(path)) {
		/* Ctrl-C while compiling: the compiler's children get it too and
		 * stop; visor notes it and exits once the cache is consistent
		 * (no half-written entry, nothing loaded). */
		struct sigaction sa = {.sa_handler = on_signal};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		obj = stop_signal ? NULL : compile(path, cflags, ncflags);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (stop_signal) {
			cli_error("run: interrupted while compiling %s", path);
			free(obj);
			return 128 + stop_signal;
		}
		if (!obj)
			return 1;
	}
	/* A compiled source: load errors name it, not the object in the cache. */
	const char *source = obj ? path : NULL;
	int status = vm ? cli_run_vm(obj ? obj : path, source, nprogs ? progs[0] : NULL, pcap)
			: run_kernel(obj ? obj : path, source, progs, nprogs, duration);
	free(obj);
	return status;
}
