/* bench_maps: how fast are visor's maps and packet path next to the kernel's?
 *
 *   (a) hash map ops  tests/progs/bench_maps.bpf.c: XDP programs doing 64
 *                     bpf_map_lookup_elem or bpf_map_update_elem on a hash
 *                     map filled with 1024 keys, and a baseline doing the
 *                     same loop without the map. ns per operation =
 *                     (program - baseline) / 64, so the cost of a run (test
 *                     run set-up, the loop, the packet store) cancels out.
 *   (b) packets/s     tests/progs/xdp_parser.bpf.o over an in-memory batch of
 *                     mixed frames (IPv4/IPv6 UDP/TCP/ICMP, ARP, VLAN): the
 *                     mean ns per packet over the batch, as packets/second.
 *
 * Engines: visor's interpreter, visor's JIT (both through
 * visor_prog_test_run) and the kernel (libbpf + BPF_PROG_TEST_RUN); the
 * kernel column is skipped with one line when bpf() cannot be used. Each
 * figure is the median over batches of the test run's own "duration" (mean
 * ns per run over `repeat` runs, as the kernel reports it). Results (the
 * value each program stores in the packet, the return codes) must agree
 * across engines: a disagreement, a failed load or run is the only non-zero
 * exit. Timings are measurements, never asserted. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "kernel_run.h"
#include "stats.h"
#include "packets.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define OPS_PER_RUN 64 /* OPS in bench_maps.bpf.c */
#define HASH_KEYS 1024
#define MAX_PROGS 4
#define MAX_FRAMES 16
#define FRAME_MAX 256
#define WHY_LEN 512

enum engine_kind { ENGINE_INTERP, ENGINE_JIT, ENGINE_KERNEL, NENGINES };
static const char *const engine_names[NENGINES] = {"interp", "jit", "kernel"};

struct options {
	unsigned batches;
	uint32_t repeat_ops;  /* runs per batch, map programs */
	uint32_t repeat_pkts; /* runs per batch and frame, xdp_parser */
};

/* One object loaded in one engine, its programs ready to test-run. */
struct side {
	enum engine_kind kind;
	bool usable;
	char why[WHY_LEN];
	size_t nprogs;
	/* visor */
	struct visor_obj *obj;
	struct visor_map **maps;
	size_t nmaps;
	struct visor_vm *vm[MAX_PROGS];
	/* kernel */
	struct bpf_object *bo;
	int fd[MAX_PROGS];
};

struct run_out {
	uint32_t retval;
	uint32_t ns; /* mean per run */
	uint8_t head[16]; /* first bytes of data_out */
};

static void side_close(struct side *s)
{
	for (size_t i = 0; i < MAX_PROGS; i++)
		visor_vm_destroy(s->vm[i]);
	visor_obj_maps_destroy(s->maps, s->nmaps);
	visor_obj_close(s->obj);
	if (s->bo)
		bpf_object__close(s->bo);
	memset(s->vm, 0, sizeof(s->vm));
	s->maps = NULL, s->obj = NULL, s->bo = NULL;
}

/* Keys 0..1023 with value key * 3, the state bench_maps.bpf.c expects. */
static int fill_visor(struct visor_map *m)
{
	for (uint32_t k = 0; k < HASH_KEYS; k++) {
		uint64_t v = (uint64_t)k * 3;
		int rc = visor_map_update(m, &k, &v, VISOR_ANY);
		if (rc)
			return rc;
	}
	return 0;
}

static int fill_kernel(int fd)
{
	for (uint32_t k = 0; k < HASH_KEYS; k++) {
		uint64_t v = (uint64_t)k * 3;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static bool side_open_visor(struct side *s, const char *path, const char *const *names,
			    const char *fill_map)
{
	s->obj = visor_obj_open_file(path, NULL, s->why, sizeof(s->why));
	if (!s->obj || visor_obj_maps_create(s->obj, &s->maps, &s->nmaps, s->why, sizeof(s->why)))
		return false;
	if (fill_map) {
		int idx = visor_obj_find_map(s->obj, fill_map);
		if (idx < 0 || fill_visor(s->maps[idx])) {
			snprintf(s->why, sizeof(s->why), "filling %s failed", fill_map);
			return false;
		}
	}
	for (size_t i = 0; i < s->nprogs; i++) {
		struct visor_obj_prog *p = visor_obj_find_prog(s->obj, names[i]);
		s->vm[i] = visor_vm_create();
		if (!p || !s->vm[i] ||
		    visor_obj_prog_load_vm(s->vm[i], p, s->maps, s->nmaps, s->why, sizeof(s->why)))
			return false;
		if (s->kind == ENGINE_JIT && visor_vm_jit_compile(s->vm[i], 0)) {
			snprintf(s->why, sizeof(s->why), "jit: %s", visor_vm_errmsg(s->vm[i]));
			return false;
		}
	}
	return true;
}

static bool side_open_kernel(struct side *s, const char *path, const char *const *names,
			     const char *fill_map)
{
	if (!kernel_available(s->why, sizeof(s->why)))
		return false;
	s->bo = bpf_object__open_file(path, NULL);
	if (!s->bo || bpf_object__load(s->bo)) {
		snprintf(s->why, sizeof(s->why), "libbpf could not load %s", path);
		return false;
	}
	if (fill_map) {
		struct bpf_map *m = bpf_object__find_map_by_name(s->bo, fill_map);
		if (!m || fill_kernel(bpf_map__fd(m))) {
			snprintf(s->why, sizeof(s->why), "filling %s failed", fill_map);
			return false;
		}
	}
	for (size_t i = 0; i < s->nprogs; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(s->bo, names[i]);
		s->fd[i] = p ? bpf_program__fd(p) : -1;
		if (s->fd[i] < 0) {
			snprintf(s->why, sizeof(s->why), "no program %s", names[i]);
			return false;
		}
	}
	return true;
}

static void side_open(struct side *s, enum engine_kind kind, const char *path,
		      const char *const *names, size_t n, const char *fill_map)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->nprogs = n;
	s->usable = kind == ENGINE_KERNEL ? side_open_kernel(s, path, names, fill_map)
					  : side_open_visor(s, path, names, fill_map);
	if (!s->usable)
		side_close(s);
}

static int side_run(struct side *s, size_t prog, const uint8_t *pkt, size_t len, uint32_t repeat,
		    struct run_out *out)
{
	uint8_t data[FRAME_MAX];
	if (s->kind == ENGINE_KERNEL) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
			    .data_out = data, .data_size_out = sizeof(data), .repeat = repeat);
		if (bpf_prog_test_run_opts(s->fd[prog], &o))
			return -errno;
		out->retval = o.retval;
		out->ns = o.duration;
	} else {
		char err[256] = "";
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
			   .data_out = data, .data_size_out = sizeof(data), .repeat = repeat,
			   .engine = s->kind == ENGINE_JIT ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP,
			   .errbuf = err, .errbuf_len = sizeof(err));
		int rc = visor_prog_test_run(s->vm[prog], &o);
		if (rc) {
			fprintf(stderr, "%s: test run: %s\n", engine_names[s->kind], err);
			return rc;
		}
		out->retval = o.retval;
		out->ns = o.duration;
	}
	memcpy(out->head, data, sizeof(out->head));
	return 0;
}

static void print_skip(const struct side *s)
{
	printf("  %s: skipped: %s\n", engine_names[s->kind], s->why);
}

/* ---- (a) hash map operations --------------------------------------------- */

static const char *const map_progs[] = {"xdp_bench_baseline", "xdp_bench_lookup",
					"xdp_bench_update"};
#define NMAP_PROGS 3

/* What each program stores: the sum of the values looked up / the number
 * of successful updates, for seed 0 (first packet byte). */
static uint64_t map_expected(size_t prog)
{
	uint64_t sum = 0;
	for (uint64_t i = 0; i < OPS_PER_RUN; i++)
		sum += ((i * 13) & 1023) * 3;
	return prog == 2 ? OPS_PER_RUN : sum;
}

static int bench_map_ops(const struct options *opt)
{
	int failures = 0;
	uint8_t pkt[64];
	size_t len = pkt_udp4(pkt, 0xc0000201, 0xc6336407, 1, 2, NULL, 0);
	pkt[0] = 0; /* seed: the destination MAC's first byte */
	double ns[NENGINES][NMAP_PROGS] = {{0}};
	bool have[NENGINES] = {false};

	printf("(a) hash map, %d operations per run, 1024 keys; ns per run (median of %u batches of %u runs)\n",
	       OPS_PER_RUN, opt->batches, opt->repeat_ops);
	for (int e = 0; e < NENGINES; e++) {
		struct side s;
		side_open(&s, (enum engine_kind)e, PROGS "bench_maps.bpf.o", map_progs, NMAP_PROGS,
			  "bench_hash");
		if (!s.usable) {
			print_skip(&s);
			failures += e != ENGINE_KERNEL; /* visor must load it */
			continue;
		}
		int before = failures;
		for (size_t p = 0; p < NMAP_PROGS && failures == before; p++) {
			double t[64];
			for (unsigned b = 0; b < opt->batches; b++) {
				struct run_out o;
				int rc = side_run(&s, p, pkt, len, opt->repeat_ops, &o);
				uint64_t got;
				memcpy(&got, o.head + 8, 8);
				if (rc || o.retval != 2 || got != map_expected(p)) {
					fprintf(stderr, "FAIL %s %s: rc %d retval %u stored %llu, want %llu\n",
						engine_names[e], map_progs[p], rc, o.retval,
						(unsigned long long)got, (unsigned long long)map_expected(p));
					failures++;
					break;
				}
				t[b] = o.ns;
			}
			if (failures == before)
				ns[e][p] = stats_median(t, opt->batches);
		}
		have[e] = failures == before;
		side_close(&s);
	}
	printf("  %-8s %10s %10s %10s   %12s %12s\n", "engine", "baseline", "lookup", "update",
	       "ns/lookup", "ns/update");
	for (int e = 0; e < NENGINES; e++) {
		if (!have[e])
			continue;
		printf("  %-8s %10.0f %10.0f %10.0f   %12.1f %12.1f\n", engine_names[e], ns[e][0],
		       ns[e][1], ns[e][2], (ns[e][1] - ns[e][0]) / OPS_PER_RUN,
		       (ns[e][2] - ns[e][0]) / OPS_PER_RUN);
	}
	if (have[ENGINE_KERNEL]) {
		double kl = (ns[ENGINE_KERNEL][1] - ns[ENGINE_KERNEL][0]) / OPS_PER_RUN;
		double ku = (ns[ENGINE_KERNEL][2] - ns[ENGINE_KERNEL][0]) / OPS_PER_RUN;
		printf("  per-operation time relative to the kernel (< 1: faster than the kernel)\n");
		for (int e = 0; e < ENGINE_KERNEL; e++)
			if (have[e])
				printf("  %-8s lookup %.2fx  update %.2fx\n", engine_names[e],
				       (ns[e][1] - ns[e][0]) / OPS_PER_RUN / kl,
				       (ns[e][2] - ns[e][0]) / OPS_PER_RUN / ku);
	}
	return failures;
}

/* ---- (b) packets per second ------------------------------------------------ */

static size_t make_batch(uint8_t frames[][FRAME_MAX], size_t *lens)
{
	static const uint8_t icmp[8] = {8, 0, 0xf7, 0xfe, 0, 1, 0, 1};
	static const uint8_t tcp[20] = {0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff};
	static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 192, 0, 2, 1};
	uint8_t a6[16], b6[16], payload[128] = {0};
	size_t n = 0, l;
	pkt_addr6(a6, 1);
	pkt_addr6(b6, 2);
	lens[n] = pkt_udp4(frames[n], 0xc0000201, 0xc6336407, 5353, 53, payload, 32), n++;
	lens[n] = pkt_udp4(frames[n], 0xc0000202, 0xc6336407, 5353, 9, payload, 64), n++;
	lens[n] = pkt_tcp4(frames[n], 0xc0000203, 0xcb007101, 40000, 443, 0x10), n++;
	lens[n] = pkt_tcp4(frames[n], 0xc0000204, 0xcb007101, 40001, 80, 0x02), n++;
	l = pkt_eth_hdr(frames[n], 0x0800);
	lens[n] = l + pkt_ipv4(frames[n] + l, 0xc0000205, 0xc6336401, 1, icmp, sizeof(icmp)), n++;
	lens[n] = pkt_udp6(frames[n], a6, b6, 5353, 53, payload, 100), n++;
	l = pkt_eth_hdr(frames[n], 0x86dd);
	lens[n] = l + pkt_ipv6(frames[n] + l, a6, b6, 6, tcp, sizeof(tcp)), n++;
	l = pkt_eth_hdr(frames[n], 0x0806);
	memcpy(frames[n] + l, arp, sizeof(arp));
	lens[n] = l + sizeof(arp), n++;
	/* VLAN 5 around IPv4 TCP: the frame built 4 bytes in, the MACs moved
	 * back and the tag put between them and the EtherType. */
	l = pkt_tcp4(frames[n] + 4, 0xc0000206, 0xcb007101, 40002, 22, 0x10);
	memmove(frames[n], frames[n] + 4, 12);
	frames[n][12] = 0x81, frames[n][13] = 0x00, frames[n][14] = 0, frames[n][15] = 5;
	lens[n] = l + 4, n++;
	return n;
}

static int bench_pps(const struct options *opt)
{
	static const char *const names[] = {"xdp_count_protocols"};
	static uint8_t frames[MAX_FRAMES][FRAME_MAX];
	size_t lens[MAX_FRAMES];
	size_t n = make_batch(frames, lens);
	uint32_t ref_ret[MAX_FRAMES];
	bool have_ref = false;
	int failures = 0;
	double ns[NENGINES] = {0};
	bool have[NENGINES] = {false};

	printf("\n(b) xdp_parser.bpf.o over a batch of %zu mixed frames (IPv4/IPv6 UDP/TCP/ICMP, ARP, VLAN)\n",
	       n);
	for (int e = 0; e < NENGINES; e++) {
		struct side s;
		side_open(&s, (enum engine_kind)e, PROGS "xdp_parser.bpf.o", names, 1, NULL);
		if (!s.usable) {
			print_skip(&s);
			failures += e != ENGINE_KERNEL;
			continue;
		}
		double t[64];
		for (unsigned b = 0; b < opt->batches && !failures; b++) {
			double sum = 0;
			for (size_t i = 0; i < n; i++) {
				struct run_out o;
				if (side_run(&s, 0, frames[i], lens[i], opt->repeat_pkts, &o)) {
					failures++;
					break;
				}
				if (!have_ref)
					ref_ret[i] = o.retval;
				else if (o.retval != ref_ret[i]) {
					fprintf(stderr, "FAIL %s: frame %zu returned %u, %s returned %u\n",
						engine_names[e], i, o.retval, engine_names[0], ref_ret[i]);
					failures++;
				}
				sum += o.ns;
			}
			have_ref = true;
			t[b] = sum / (double)n;
		}
		have[e] = !failures;
		if (have[e])
			ns[e] = stats_median(t, opt->batches);
		side_close(&s);
	}
	printf("  %-8s %12s %14s %12s\n", "engine", "ns/packet", "packets/s", "vs kernel");
	for (int e = 0; e < NENGINES; e++) {
		if (!have[e])
			continue;
		char rel[32] = "-";
		if (have[ENGINE_KERNEL])
			snprintf(rel, sizeof(rel), "%.2fx", ns[e] / ns[ENGINE_KERNEL]);
		printf("  %-8s %12.1f %14.0f %12s\n", engine_names[e], ns[e], 1e9 / ns[e], rel);
	}
	printf("  (vs kernel: time per packet relative to the kernel's; < 1 is faster)\n");
	return failures;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_maps [--quick] [--help]\n"
		"  (a) ns per hash map lookup / update from inside an XDP program\n"
		"      (tests/progs/bench_maps.bpf.c), baseline subtracted\n"
		"  (b) packets per second of tests/progs/xdp_parser.bpf.o on mixed frames\n"
		"  engines: visor interpreter, visor JIT, kernel (BPF_PROG_TEST_RUN; skipped\n"
		"  when bpf() cannot be used). --quick: fewer, shorter batches.\n"
		"  Exit status: non-zero only if an engine failed or engines disagreed.\n");
}

int main(int argc, char **argv)
{
	struct options opt = {.batches = 9, .repeat_ops = 20000, .repeat_pkts = 50000};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt = (struct options){.batches = 3, .repeat_ops = 2000, .repeat_pkts = 5000};
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	/* One CPU for every engine: the kernel runs on the caller's CPU, and
	 * visor's per-CPU slot 0 is then the same CPU's cache. */
	cpu_set_t cpu0;
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	sched_setaffinity(0, sizeof(cpu0), &cpu0);
	libbpf_set_print(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	int failures = bench_map_ops(&opt);
	failures += bench_pps(&opt);
	if (failures)
		fprintf(stderr, "bench_maps: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
