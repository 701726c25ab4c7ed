/* visor run: loads an object into the kernel, attaches every program by
 * its section, prints what the programs say while they run (trace pipe
 * lines, ring and perf buffer records) and, when stopped (SIGINT, SIGTERM
 * or --duration), detaches and dumps the maps — histograms as log2 bars,
 * as BCC's print_log2_hist does. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/kernel.h>

#include "cli.h"

#define RUN_MAX_PROGS 64
#define RUN_MAX_CHANNELS 16

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor run OBJ [--prog NAME...] [--duration S] [--backend kernel]\n"
		"       visor run OBJ --backend vm --pcap FILE [--prog NAME]\n"
		"Loads OBJ into the kernel (libbpf), attaches every program by its section\n"
		"(tracepoint/..., raw_tp/..., uprobe/..., kprobe/... falling back to the\n"
		"syscall tracepoint, perf_event ...), and while it runs prints:\n"
		"  - trace pipe lines (bpf_printk), as BCC's trace_print: 'comm-pid [cpu] ... : text'\n"
		"  - ring buffer and perf buffer records: 'MAP: N bytes' and a hex dump\n"
		"It stops on Ctrl-C (SIGINT), SIGTERM or after --duration seconds, detaches\n"
		"everything, then dumps every map: values formatted through BTF when the map\n"
		"has it (hex otherwise). A histogram is printed as log2 bars like BCC's\n"
		"print_log2_hist: an array or hash map with 4- or 8-byte keys (the log2 slot,\n"
		"0..64) and 8-byte values (counts; per-CPU maps summed) whose name ends with\n"
		"'hist', or whose key or value BTF type name contains 'hist'.\n"
		"Needs root (or CAP_BPF + CAP_PERFMON).\n"
		"With --backend vm, OBJ is loaded on visor's own engine instead (every program\n"
		"verified) and its packet program (XDP, tc, socket filter) runs once on every\n"
		"packet of the capture, in order: it prints how many packets got each return\n"
		"code, then dumps the maps the same way (no root needed).\n\n"
		"  --prog NAME         load and attach only this program (repeatable)\n"
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
	struct visor_kernel_ringbuf *rb;
	struct visor_kernel_perfbuf *pb;
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

static void on_trace_line(void *ctx, const char *line)
{
	(void)ctx;
	puts(line);
}

/* Opens a reader on every ring buffer and perf buffer of obj. */
static int open_channels(struct visor_kernel_obj *obj, struct channel *ch, size_t *n)
{
	char err[512];
	*n = 0;
	for (size_t i = 0; i < visor_kernel_obj_map_count(obj); i++) {
		const char *name = visor_kernel_obj_map_name(obj, i);
		struct visor_kernel_map *m = name ? visor_kernel_obj_map(obj, name) : NULL;
		if (!m)
			continue;
		const char *tn = visor_kernel_map_type_name(visor_kernel_map_info(m)->type);
		int rb = tn && !strcmp(tn, "ringbuf"), pb = tn && !strcmp(tn, "perf_event_array");
		if (!rb && !pb)
			continue;
		if (*n == RUN_MAX_CHANNELS) {
			cli_error("%s: more than %d ring/perf buffers", name, RUN_MAX_CHANNELS);
			return -1;
		}
		struct channel *c = &ch[*n];
		memset(c, 0, sizeof(*c));
		c->map = name;
		int rc = rb ? visor_kernel_ringbuf_open(obj, name, on_record, c, &c->rb, err, sizeof(err))
			    : visor_kernel_perfbuf_open(obj, name, on_record, on_lost, c, &c->pb, err,
							sizeof(err));
		if (rc) {
			cli_error("%s", err);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static void close_channels(struct channel *ch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		visor_kernel_ringbuf_free(ch[i].rb);
		visor_kernel_perfbuf_free(ch[i].pb);
	}
}

/* Polls everything until a signal or the deadline (end < 0: none). */
static int run_loop(struct channel *ch, size_t nch, struct visor_kernel_trace *tr, double end)
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
		for (size_t i = 0; i < nch; i++) {
			int rc = ch[i].rb ? visor_kernel_ringbuf_poll(ch[i].rb, 0)
					  : visor_kernel_perfbuf_poll(ch[i].pb, 0);
			if (rc < 0 && rc != -EINTR) {
				cli_error("%s: poll: %s", ch[i].map, strerror(-rc));
				return -1;
			}
		}
		int rc;
		if (tr)
			rc = visor_kernel_trace_poll(tr, wait, on_trace_line, NULL);
		else if (nch == 1 && ch[0].rb)
			rc = visor_kernel_ringbuf_poll(ch[0].rb, wait);
		else
			rc = nanosleep(&(struct timespec){0, wait * 1000000L}, NULL) ? -errno : 0;
		if (rc < 0 && rc != -EINTR) {
			cli_error("trace pipe: %s", strerror(-rc));
			return -1;
		}
		fflush(stdout);
	}
}

/* ---- The maps afterwards ---------------------------------------------- */

/* The "(type name)" that starts a BTF-formatted key or value, or "". */
static void btf_type_name(struct visor_kernel_map *m, int value, const void *data, char *name,
			  size_t len)
{
	char text[256];
	name[0] = '\0';
	int n = value ? visor_kernel_map_format_value(m, data, text, sizeof(text))
		      : visor_kernel_map_format_key(m, data, text, sizeof(text));
	if (n < 0 || text[0] != '(')
		return;
	const char *close = strchr(text, ')');
	if (!close)
		return;
	snprintf(name, len, "%.*s", (int)(close - text - 1), text + 1);
}

/* Reads a histogram's slots (summing per-CPU values): 1 when m is one by
 * the rule of cli_hist_candidate, 0 when not, -1 on a read error (printed). */
static int read_hist(struct visor_kernel_map *m, const char *name, uint64_t *slots)
{
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	const char *tn = visor_kernel_map_type_name(in->type);
	uint8_t key[8] = {0}, prev[8], val_first[8] = {0};
	char kt[128] = "", vt[128] = "";
	if (!cli_hist_candidate(tn, in->key_size, in->value_size, "", "hist", NULL))
		return 0; /* not even the shape of one */
	if (in->btf_id) {
		btf_type_name(m, 0, key, kt, sizeof(kt));
		btf_type_name(m, 1, val_first, vt, sizeof(vt));
	}
	if (!cli_hist_candidate(tn, in->key_size, in->value_size, name, kt, vt))
		return 0;
	uint8_t *val = malloc(in->value_buf_size);
	if (!val) {
		cli_error("map %s: out of memory", name);
		return -1;
	}
	memset(slots, 0, CLI_HIST_SLOTS * sizeof(*slots));
	int rc, hist = 1;
	for (rc = visor_kernel_map_get_next_key(m, NULL, key); rc == 0;
	     rc = visor_kernel_map_get_next_key(m, prev, key)) {
		memcpy(prev, key, in->key_size);
		int lr = visor_kernel_map_lookup(m, key, val);
		if (lr == -ENOENT)
			continue;
		if (lr) {
			cli_error("map %s: %s", name, visor_kernel_map_errmsg(m));
			free(val);
			return -1;
		}
		if (cli_hist_add(slots, key, in->key_size, val, in->nr_cpus, in->value_stride)) {
			hist = 0; /* not log2 slots after all: dump it as a map */
			break;
		}
	}
	free(val);
	if (hist && rc && rc != -ENOENT) {
		cli_error("map %s: %s", name, visor_kernel_map_errmsg(m));
		return -1;
	}
	return hist;
}

static int dump_maps(struct visor_kernel_obj *obj)
{
	int status = 0;
	uint64_t slots[CLI_HIST_SLOTS];
	for (size_t i = 0; i < visor_kernel_obj_map_count(obj); i++) {
		const char *name = visor_kernel_obj_map_name(obj, i);
		struct visor_kernel_map *m = name ? visor_kernel_obj_map(obj, name) : NULL;
		if (!m)
			continue;
		const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
		const char *tn = visor_kernel_map_type_name(in->type);
		if (tn && !strcmp(tn, "perf_event_array"))
			continue; /* its records were printed as they came */
		int h = read_hist(m, name, slots);
		if (h < 0) {
			status = 1;
			continue;
		}
		if (h) {
			printf("\nmap %s: %s, log2 histogram\n", name, tn);
			cli_print_log2_hist(stdout, slots, "value");
			continue;
		}
		fputc('\n', stdout);
		if (cli_kernel_map_dump(stdout, m, name, true))
			status = 1;
	}
	return status;
}

/* ---- The command -------------------------------------------------------- */

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
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
	if (optind != argc - 1) {
		cli_error("run: expected one object file (try 'visor run --help')");
		return 2;
	}
	const char *path = argv[optind];
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
		return cli_run_vm(path, nprogs ? progs[0] : NULL, pcap);
	}
	char err[1024], note[1024] = "";
	struct visor_kernel_obj_opts lo = {.sz = sizeof(lo), .progs = nprogs ? progs : NULL,
					   .nprogs = nprogs, .log_level = 1};
	struct visor_kernel_obj *obj;
	if (visor_kernel_obj_load(path, &lo, &obj, err, sizeof(err))) {
		cli_error("%s", err);
		return 1;
	}
	int status = 1;
	struct channel ch[RUN_MAX_CHANNELS];
	size_t nch = 0;
	struct visor_kernel_trace *tr = NULL;
	for (size_t i = 0; i < nprogs; i++)
		if (visor_kernel_obj_prog_fd(obj, progs[i]) < 0) {
			cli_error("%s: no program named '%s'", path, progs[i]);
			goto out;
		}
	/* Signals stop the loop below; set before attaching so a Ctrl-C at
	 * any point still detaches. No SA_RESTART: polls return EINTR. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (visor_kernel_attach_all(obj, note, sizeof(note), err, sizeof(err))) {
		cli_error("%s", err);
		goto out;
	}
	if (note[0])
		fprintf(stderr, "visor: %s\n", note);
	if (open_channels(obj, ch, &nch))
		goto out;
	if (visor_kernel_trace_open(&tr, err, sizeof(err))) {
		fprintf(stderr, "visor: no trace output: %s\n", err);
		tr = NULL;
	}
	for (size_t i = 0; visor_kernel_obj_link_at(obj, i); i++)
		fprintf(stderr, "visor: attached %s\n",
			visor_kernel_link_describe(visor_kernel_obj_link_at(obj, i)));
	fprintf(stderr, "visor: running%s; Ctrl-C stops\n",
		duration >= 0 ? " for the given duration" : "");
	if (run_loop(ch, nch, tr, duration >= 0 ? now_s() + duration : -1))
		goto out;
	/* Detach first so the maps hold still while they are dumped. */
	visor_kernel_obj_detach_all(obj);
	/* What the programs sent before detaching. */
	for (size_t i = 0; i < nch; i++) {
		if (ch[i].rb)
			visor_kernel_ringbuf_poll(ch[i].rb, 0);
		else
			visor_kernel_perfbuf_poll(ch[i].pb, 0);
	}
	if (tr)
		visor_kernel_trace_poll(tr, 0, on_trace_line, NULL);
	for (size_t i = 0; i < nch; i++)
		if (ch[i].lost)
			fprintf(stderr, "visor: %s: %llu records lost\n", ch[i].map,
				(unsigned long long)ch[i].lost);
	status = dump_maps(obj);
out:
	fflush(stdout);
	visor_kernel_trace_close(tr);
	close_channels(ch, nch);
	visor_kernel_obj_close(obj);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return status;
}
