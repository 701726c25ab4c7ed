/* visor test-run: run an object's XDP, socket filter or tc program on
 * packets, or a tracing-family program (kprobe, tracepoint, raw tracepoint,
 * tracing, syscall) on a context, in the visor VM, the way
 * BPF_PROG_TEST_RUN runs it in the kernel. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

#define MAX_FRAME 65536

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor test-run OBJ [--prog NAME] (--data FILE | --data-hex HEX | --pcap FILE)\n"
		"                      [--ctx FILE | --ctx-hex HEX] [--repeat N] [--jit [--harden]]\n"
		"                      [--print-data] [--dump-maps] [--unsafe]\n"
		"Creates OBJ's maps, loads one of its programs into the visor VM and runs it on a\n"
		"packet, like BPF_PROG_TEST_RUN: prints the return code (XDP_PASS ...) and the mean\n"
		"time per run. XDP, socket filter and tc programs; the packet is an Ethernet frame\n"
		"(socket filters see it from the network header, as in the kernel).\n"
		"Kprobe, tracepoint, raw tracepoint, tracing and syscall programs take no packet:\n"
		"their context comes from --ctx / --ctx-hex (struct pt_regs, the tracepoint record,\n"
		"the u64 arguments, the syscall program's buffer); a syscall program's buffer is\n"
		"printed after the run.\n"
		"Every program of OBJ is verified as it loads; a program the verifier refuses\n"
		"does not run (exit 1, with the verifier's reason and source line) unless\n"
		"--unsafe.\n\n"
		"  --prog NAME         the program (default: the object's only program)\n"
		"  --data FILE         the packet, raw bytes from FILE\n"
		"  --data-hex HEX      the packet as hex bytes (\"02 00 00 ...\")\n"
		"  --pcap FILE         run every packet of a capture (Ethernet link type) and print\n"
		"                      how many got each return code, and packets per second\n"
		"  --ctx FILE          ctx_in, raw bytes from FILE (struct xdp_md, __sk_buff, or the\n"
		"                      context of the program types above); ctx_out is printed\n"
		"  --ctx-hex HEX       ctx_in as hex bytes (\"2a 00 00 00 ...\", little-endian fields)\n"
		"  --repeat N          run each packet N times (default 1); maps see every run\n"
		"  --jit               run the x86-64 JIT's code instead of the interpreter\n"
		"  --harden            with --jit: blind constants (as bpf_jit_harden)\n"
		"  --print-data        print the packet after the (last) run, in hex\n"
		"  --dump-maps         print every map's contents after the runs (as 'visor map dump')\n"
		"  --unsafe            load programs the verifier refuses too, and run them with\n"
		"                      run-time checks of every memory access instead\n"
		"  -h, --help          this text\n");
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct run_ctx {
	const char *path;
	struct visor_vm *vm;
	int engine;
	uint32_t type;
	uint32_t repeat;
	uint8_t *out;
	const uint8_t *ctx; /* --ctx / --ctx-hex, or NULL */
	size_t ctx_len;
};

static bool is_packet_type(uint32_t type)
{
	return type == VISOR_VM_PROG_XDP || type == VISOR_VM_PROG_SOCKET_FILTER ||
	       type == VISOR_VM_PROG_SCHED_CLS;
}

static int run_one(struct run_ctx *rc, const uint8_t *pkt, size_t len, int print_data)
{
	char err[512] = "";
	uint8_t *ctx_out = rc->ctx ? malloc(MAX_FRAME) : NULL;
	if (rc->ctx && !ctx_out) {
		cli_error("test-run: out of memory");
		return -1;
	}
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		   .data_out = pkt ? rc->out : NULL, .data_size_out = pkt ? MAX_FRAME : 0,
		   .repeat = rc->repeat, .engine = rc->engine, .errbuf = err, .errbuf_len = sizeof(err),
		   .ctx_in = rc->ctx, .ctx_size_in = (uint32_t)rc->ctx_len, .ctx_out = ctx_out,
		   .ctx_size_out = ctx_out ? MAX_FRAME : 0);
	int r = visor_prog_test_run(rc->vm, &o);
	if (r) {
		cli_error("%s: %s", rc->path, err[0] ? err : visor_vm_errmsg(rc->vm));
		free(ctx_out);
		return -1;
	}
	const char *n = cli_retval_name(rc->type, o.retval);
	if (n || is_packet_type(rc->type))
		printf("retval %u (%s)\n", o.retval, n ? n : "not an action of the program type");
	else
		printf("retval %u (0x%x)\n", o.retval, o.retval);
	if (o.redirect.kind == VISOR_REDIRECT_IFINDEX)
		printf("redirect to ifindex %u%s\n", o.redirect.ifindex,
		       o.redirect.flags & VISOR_F_INGRESS ? " (ingress)" : "");
	else if (o.redirect.kind == VISOR_REDIRECT_MAP)
		printf("redirect through map '%s', key %u%s\n", visor_map_name(o.redirect.map),
		       o.redirect.key, o.redirect.flags & VISOR_F_BROADCAST ? " (broadcast)" : "");
	printf("duration %u ns (mean of %u run%s, %s)\n", o.duration, rc->repeat,
	       rc->repeat == 1 ? "" : "s", rc->engine == VISOR_ENGINE_JIT ? "jit" : "interpreter");
	if (print_data && pkt) {
		printf("data out (%u bytes):\n", o.data_size_out);
		cli_hexdump(stdout, rc->out, o.data_size_out, "  ");
	}
	if (ctx_out && o.ctx_size_out) {
		printf("ctx out (%u bytes):\n", o.ctx_size_out);
		cli_hexdump(stdout, ctx_out, o.ctx_size_out, "  ");
	}
	free(ctx_out);
	return 0;
}

struct pcap_run {
	struct run_ctx *rc;
	struct cli_retval_counts counts;
	double busy;
	uint64_t seen; /* packets given to the program */
	char first_err[512];
};

static int run_packet(void *ctx, const uint8_t *data, uint32_t len)
{
	struct pcap_run *pr = ctx;
	struct run_ctx *rc = pr->rc;
	char err[512] = "";
	pr->seen++;
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = data, .data_size_in = len,
		   .repeat = rc->repeat, .engine = rc->engine, .errbuf = err,
		   .errbuf_len = sizeof(err));
	double t0 = now_ns();
	int tr = visor_prog_test_run(rc->vm, &o);
	pr->busy += now_ns() - t0;
	if (tr) {
		if (!pr->counts.failed++)
			snprintf(pr->first_err, sizeof(pr->first_err), "packet %llu: %.400s",
				 (unsigned long long)(pr->counts.runts + pr->seen),
				 err[0] ? err : visor_vm_errmsg(rc->vm));
		return 0;
	}
	cli_retval_count(&pr->counts, o.retval);
	return 0;
}

static int run_pcap(struct run_ctx *rc, const char *file)
{
	struct pcap_run pr = {.rc = rc, .counts = {.prog_type = rc->type}};
	long long packets = cli_pcap_each(file, "test-run", run_packet, &pr, &pr.counts.runts);
	if (packets < 0)
		return -1;
	pr.counts.packets = (uint64_t)packets;
	cli_retval_print(stdout, file, &pr.counts);
	uint64_t ran = pr.counts.packets - pr.counts.runts - pr.counts.failed;
	if (ran && pr.busy > 0) {
		double runs = (double)ran * rc->repeat;
		printf("%.0f runs in %.3f ms (%s): %.0f packets per second, %.1f ns per packet\n", runs,
		       pr.busy / 1e6, rc->engine == VISOR_ENGINE_JIT ? "jit" : "interpreter",
		       runs / (pr.busy / 1e9), pr.busy / runs);
	}
	if (pr.counts.failed) {
		cli_error("%s: %s%s", file, pr.first_err, pr.counts.failed > 1 ? " (and more)" : "");
		return -1;
	}
	return 0;
}

static int parse_repeat(const char *s, uint32_t *v)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || x == 0 || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int cmd_test_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"prog", required_argument, 0, 'p'},   {"data", required_argument, 0, 'd'},
		{"data-hex", required_argument, 0, 'x'}, {"pcap", required_argument, 0, 'P'},
		{"repeat", required_argument, 0, 'r'}, {"jit", no_argument, 0, 'j'},
		{"harden", no_argument, 0, 'H'},       {"print-data", no_argument, 0, 'o'},
		{"dump-maps", no_argument, 0, 'm'},    {"help", no_argument, 0, 'h'},
		{"ctx", required_argument, 0, 'c'},    {"ctx-hex", required_argument, 0, 'C'},
		{"unsafe", no_argument, 0, 'u'},       {0, 0, 0, 0},
	};
	const char *prog_name = NULL, *data_file = NULL, *data_hex = NULL, *pcap_file = NULL;
	const char *ctx_file = NULL, *ctx_hex = NULL;
	uint32_t repeat = 1;
	int jit = 0, harden = 0, print_data = 0, dump_maps = 0, unsafe = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prog_name = optarg; break;
		case 'd': data_file = optarg; break;
		case 'x': data_hex = optarg; break;
		case 'P': pcap_file = optarg; break;
		case 'c': ctx_file = optarg; break;
		case 'C': ctx_hex = optarg; break;
		case 'r':
			if (parse_repeat(optarg, &repeat)) {
				cli_error("test-run: --repeat needs a number from 1 to %u, not '%s'",
					  UINT32_MAX, optarg);
				return 2;
			}
			break;
		case 'j': jit = 1; break;
		case 'H': harden = 1; break;
		case 'o': print_data = 1; break;
		case 'm': dump_maps = 1; break;
		case 'u': unsafe = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		cli_error("test-run: expected one object file (try 'visor test-run --help')");
		return 2;
	}
	/* No packet is fine when a context is given: the tracing-family
	 * types take none (the library says which type needs what). */
	if (!!data_file + !!data_hex + !!pcap_file > 1 ||
	    (!data_file && !data_hex && !pcap_file && !ctx_file && !ctx_hex)) {
		cli_error("test-run: give exactly one of --data, --data-hex and --pcap (a packet), or a context alone with --ctx / --ctx-hex");
		return 2;
	}
	if ((ctx_file && ctx_hex) || ((ctx_file || ctx_hex) && pcap_file)) {
		cli_error("test-run: give at most one of --ctx and --ctx-hex, and not with --pcap");
		return 2;
	}
	if (harden && !jit) {
		cli_error("test-run: --harden applies to the JIT; add --jit");
		return 2;
	}
	if (print_data && pcap_file) {
		cli_error("test-run: --print-data shows one packet; it does not go with --pcap");
		return 2;
	}

	const char *path = argv[optind];
	int status = 1;
	char err[512];
	uint8_t *pkt = NULL, *out = NULL;
	size_t len = 0, nmaps = 0;
	struct visor_map *const *maps = NULL;
	struct visor_vm *vm = NULL;
	struct visor_obj *obj = NULL;
	struct visor_obj_vm *ovm = NULL;
	struct visor_obj_prog *prog;

	if (data_hex && cli_parse_hex(data_hex, &pkt, &len, err, sizeof(err))) {
		cli_error("test-run: --data-hex: %s", err);
		return 2;
	}
	if (data_file && !(pkt = (uint8_t *)cli_read_file(data_file, &len)))
		return 1;
	uint8_t *ctx = NULL;
	size_t ctx_len = 0;
	if (ctx_hex && cli_parse_hex(ctx_hex, &ctx, &ctx_len, err, sizeof(err))) {
		cli_error("test-run: --ctx-hex: %s", err);
		free(pkt);
		return 2;
	}
	if (ctx_file && !(ctx = (uint8_t *)cli_read_file(ctx_file, &ctx_len))) {
		free(pkt);
		return 1;
	}
	if (pkt && len < 14) {
		cli_error("test-run: the packet has %zu bytes; test-run needs at least an Ethernet header (14)",
			  len);
		goto out;
	}
	obj = cli_open_obj(path);
	if (!obj)
		goto out;
	if (cli_pick_prog(path, obj, prog_name, &prog))
		goto out;
	/* The whole object, so that prog arrays reach the other programs. */
	VISOR_OPTS(visor_obj_vm_opts, lo, .jit = jit, .jit_flags = harden ? VISOR_JIT_HARDEN : 0,
		   .unsafe = unsafe);
	ovm = visor_obj_vm_load(obj, &lo, err, sizeof(err));
	if (!ovm) {
		cli_error("%s: %s", path, err);
		goto out;
	}
	maps = visor_obj_vm_maps(ovm, &nmaps);
	const char *why;
	if (visor_obj_vm_prog_status(ovm, visor_obj_prog_name(prog), &why)) {
		cli_error("%s: %s", path, why);
		goto out;
	}
	vm = visor_obj_vm_prog(ovm, visor_obj_prog_name(prog));
	out = malloc(MAX_FRAME);
	if (!out) {
		cli_error("test-run: out of memory");
		goto out;
	}
	struct run_ctx rc = {.path = path, .vm = vm, .repeat = repeat, .out = out, .ctx = ctx,
			     .ctx_len = ctx_len,
			     .type = visor_obj_prog_type(prog),
			     .engine = jit ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP};
	if (pcap_file ? run_pcap(&rc, pcap_file) : run_one(&rc, pkt, len, print_data))
		goto out;
	status = 0;
	if (dump_maps) {
		for (size_t i = 0; i < nmaps; i++) {
			printf("\n");
			if (cli_map_dump(stdout, maps[i], visor_obj_map_def_at(obj, i)))
				status = 1;
		}
	}
out:
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
	free(pkt);
	free(ctx);
	free(out);
	return status;
}
