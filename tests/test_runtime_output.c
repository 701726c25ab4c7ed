/* Output helpers and maps of maps, each compared with the kernel.
 *
 * - snprintf.bpf.o: bpf_snprintf with numbers, flags and widths,
 *   characters, strings, IPv4/IPv6 addresses, %px, truncation, str_size 0
 *   and refused formats, results in .bss: interpreter, JIT and kernel
 *   byte for byte (objdiff), and the strings expected here.
 * - perf.bpf.o: bpf_perf_event_output (an event and the first packet
 *   bytes, BPF_F_CURRENT_CPU) into a perf event array. Without a consumer
 *   the return codes against the kernel (objdiff); with one, the samples a
 *   visor_perf_buffer receives on the interpreter and the JIT against what
 *   libbpf's perf_buffer receives from the kernel (pinned to CPU 0), byte
 *   for byte, with the sizes worked out here.
 * - mapinmap.bpf.o: lookups, updates and deletes through an inner map
 *   found with a map-in-map lookup, against the kernel (objdiff); and a
 *   forged map pointer refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"

/* ---- bpf_snprintf ---------------------------------------------------------- */

#define OUT_LEN 96
#define NOUT 12
struct snprintf_bss { /* snprintf.bpf.c's .bss, in declaration order */
	char out[NOUT][OUT_LEN];
	int64_t ret[NOUT + 4];
	char small[8];
};

static void check_snprintf(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	uint32_t len = *(const uint32_t *)arg, zero = 0;
	struct visor_map *bss = objdiff_map(obj, maps, ".bss");
	static struct snprintf_bss b;
	CHECK(bss && visor_map_value_size(bss) >= sizeof(b) && visor_map_lookup(bss, &zero, &b) == 0,
	      ".bss");
	char want[NOUT][OUT_LEN] = {{0}};
	snprintf(want[0], OUT_LEN, "d=%u i=-7 u=4000000000 x=beef X=BEEF neg=-123456", len);
	snprintf(want[1], OUT_LEN,
		 "ld=-5000000000 lld=-1 lu=18446744073709551615 lx=123456789abc llX=FEDCBA9876543210");
	snprintf(want[2], OUT_LEN, "[   42][42   ][-0042][+%u][ 7][00000abc][9   |]", len);
	snprintf(want[3], OUT_LEN, "c=vm! w=[  x][y  ] pct=100%%");
	snprintf(want[4], OUT_LEN, "s=visor w=[   visor][visor   ] e=[]");
	snprintf(want[5], OUT_LEN, "192.0.2.7 192.000.002.007");
	snprintf(want[6], OUT_LEN,
		 "2001:0db8:0000:0000:0000:0000:0000:1234 20010db8000000000000000000001234");
	snprintf(want[7], OUT_LEN, "px=0000000000001234 w=[              abcdef]");
	for (int i = 0; i < 8; i++) {
		CHECK(strcmp(b.out[i], want[i]) == 0, "out[%d] '%s', want '%s'", i, b.out[i], want[i]);
		CHECK(b.ret[i] == (int64_t)strlen(want[i]) + 1, "ret[%d] %lld", i,
		      (long long)b.ret[i]);
	}
	CHECK(strcmp(b.small, "truncat") == 0 && b.ret[8] == 21, "truncated: '%s' %lld", b.small,
	      (long long)b.ret[8]);
	CHECK(b.ret[9] == 21 && b.out[9][0] == 0, "str_size 0: %lld", (long long)b.ret[9]);
}

/* Refused formats: the verifier refuses the program, as the kernel's; in
 * unsafe mode the helper's run-time check returns -EINVAL. */
static void test_snprintf_refused(void)
{
	char err[256] = "";
	uint8_t f[64];
	size_t fl = pkt_udp4(f, 0xc0000201, 0xc6336407, 1, 53, "x", 1);
	struct visor_obj *obj =
		visor_obj_open_file(PROGS "snprintf_refused.bpf.o", NULL, err, sizeof(err));
	struct visor_map **maps = NULL;
	size_t n = 0;
	CHECK(obj && visor_obj_maps_create(obj, &maps, &n, err, sizeof(err)) == 0, "open: %s", err);
	struct visor_vm *vm = visor_vm_create();
	const struct visor_obj_prog *prog = obj ? visor_obj_find_prog(obj, "xdp_snprintf_refused") : NULL;
	CHECK(maps && visor_obj_prog_load_vm(vm, prog, maps, n, err, sizeof(err)) == -EACCES &&
		      strstr(err, "invalid format string for bpf_snprintf") &&
		      strstr(err, "snprintf_refused.bpf.c:"),
	      "verifier: %s", err);
	visor_vm_set_unsafe(vm, true);
	CHECK(maps && visor_obj_prog_load_vm(vm, prog, maps, n, err, sizeof(err)) == 0,
	      "load: %s", err);
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)fl,
		   .errbuf = err, .errbuf_len = sizeof(err));
	CHECK(maps && visor_prog_test_run(vm, &o) == 0, "run: %s", err);
	struct visor_map *bss = maps ? objdiff_map(obj, maps, ".bss") : NULL;
	struct {
		char out[32];
		int64_t ret[6];
	} b;
	uint32_t zero = 0;
	CHECK(bss && visor_map_lookup(bss, &zero, &b) == 0, ".bss");
	for (int i = 0; bss && i < 6; i++)
		CHECK(b.ret[i] == -EINVAL, "refused format %d: %lld", i, (long long)b.ret[i]);
	visor_vm_destroy(vm);
	visor_obj_maps_destroy(maps, n);
	visor_obj_close(obj);
}

static void test_snprintf(void)
{
	uint8_t f[2][128];
	size_t l0 = pkt_udp4(f[0], 0xc0000201, 0xc6336407, 1, 53, "x", 1);
	size_t l1 = pkt_udp4(f[1], 0xc0000201, 0xc6336407, 1, 53, "a longer payload", 16);
	struct objdiff_case cases[] = {
		{.name = "short", .data = f[0], .data_len = (uint32_t)l0},
		{.name = "long", .data = f[1], .data_len = (uint32_t)l1},
	};
	uint32_t last_len = (uint32_t)l1;
	struct objdiff d = {.path = PROGS "snprintf.bpf.o", .prog = "xdp_snprintf",
			    .check_maps = check_snprintf, .check_arg = &last_len};
	int engines = objdiff_check(&d, cases, 2, NULL);
	CHECK(engines >= 2, "snprintf.bpf.o on %d engines", engines);
}

/* ---- bpf_perf_event_output ------------------------------------------------- */

#define MAX_SAMPLES 64
struct samples {
	int n;
	uint64_t lost;
	int cpu[MAX_SAMPLES];
	uint32_t size[MAX_SAMPLES];
	uint8_t data[MAX_SAMPLES][128];
};

static void on_sample(void *ctx, int cpu, void *data, uint32_t size)
{
	struct samples *s = ctx;
	if (s->n < MAX_SAMPLES) {
		s->cpu[s->n] = cpu;
		s->size[s->n] = size;
		memcpy(s->data[s->n], data, size < 128 ? size : 128);
	}
	s->n++;
}

static void on_lost(void *ctx, int cpu, uint64_t cnt)
{
	(void)cpu;
	((struct samples *)ctx)->lost += cnt;
}

static void on_lost_kernel(void *ctx, int cpu, __u64 cnt)
{
	on_lost(ctx, cpu, cnt);
}

#define NFRAMES 3
static uint8_t frames[NFRAMES][128];
static size_t frame_len[NFRAMES];

static void make_frames(void)
{
	frame_len[0] = pkt_udp4(frames[0], 0xc0000201, 0xc6336407, 1, 53, "abc", 3);
	frame_len[1] = 14; /* shorter than the 20 bytes asked for: all of it */
	memcpy(frames[1], frames[0], 14);
	frame_len[2] = pkt_tcp4(frames[2], 0xc0000202, 0xc6336407, 2, 80, 0x10);
}

/* The kernel's raw sample size: u32 size + data rounded up to u64 words. */
static uint32_t raw_size(uint32_t n)
{
	return ((n + 4 + 7) & ~7u) - 4;
}

static void visor_perf(int engine, struct samples *s, int64_t rc[7])
{
	char err[256] = "";
	struct visor_obj *obj = visor_obj_open_file(PROGS "perf.bpf.o", NULL, err, sizeof(err));
	struct visor_map **maps = NULL;
	size_t n = 0;
	CHECK(obj && visor_obj_maps_create(obj, &maps, &n, err, sizeof(err)) == 0, "perf: %s", err);
	if (!obj || !maps) {
		visor_obj_close(obj);
		return;
	}
	struct visor_map *events = objdiff_map(obj, maps, "events");
	struct visor_perf_buffer *pb = NULL;
	VISOR_OPTS(visor_perf_buffer_opts, po, .page_cnt = 8, .sample_cb = on_sample,
		   .lost_cb = on_lost, .ctx = s, .errbuf = err, .errbuf_len = sizeof(err));
	CHECK(visor_perf_buffer_new(events, &po, &pb) == 0, "perf buffer: %s", err);
	struct visor_perf_buffer *second = NULL;
	CHECK(visor_perf_buffer_new(events, &po, &second) == -EBUSY, "one consumer per map");
	struct visor_vm *vm = visor_vm_create();
	int rc0 = visor_obj_prog_load_vm(vm, visor_obj_find_prog(obj, "xdp_perf"), maps, n, err,
					 sizeof(err));
	if (!rc0 && engine == VISOR_ENGINE_JIT)
		rc0 = visor_vm_jit_compile(vm, 0);
	CHECK(rc0 == 0, "load: %s", err);
	for (int i = 0; i < NFRAMES && !rc0; i++) {
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = frames[i],
			   .data_size_in = (uint32_t)frame_len[i], .engine = engine, .cpu = 0,
			   .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 2, "run %d: %s", i, err);
	}
	CHECK(visor_perf_buffer_poll(pb, 100) == 2 * NFRAMES, "samples delivered");
	uint32_t zero = 0;
	struct visor_map *bss = objdiff_map(obj, maps, ".bss");
	uint8_t v[64];
	CHECK(bss && visor_map_lookup(bss, &zero, v) == 0, ".bss");
	memcpy(rc, v, 7 * sizeof(int64_t));
	visor_vm_destroy(vm);
	visor_perf_buffer_free(pb);
	visor_obj_maps_destroy(maps, n);
	visor_obj_close(obj);
}

/* The same runs in the kernel with libbpf's perf_buffer; false (after one
 * SKIP line) when the kernel cannot be used. */
static bool kernel_perf(struct samples *s, int64_t rc[7])
{
	if (geteuid() != 0) {
		printf("SKIP kernel perf buffer comparison: not root\n");
		return false;
	}
	struct bpf_object *bo = bpf_object__open_file(PROGS "perf.bpf.o", NULL);
	if (!bo || bpf_object__load(bo)) {
		printf("SKIP kernel perf buffer comparison: the kernel did not load perf.bpf.o (%s)\n",
		       strerror(errno));
		bpf_object__close(bo);
		return false;
	}
	struct bpf_program *p = bpf_object__find_program_by_name(bo, "xdp_perf");
	struct bpf_map *events = bpf_object__find_map_by_name(bo, "events");
	struct perf_buffer *pb = perf_buffer__new(bpf_map__fd(events), 8, on_sample, on_lost_kernel, s,
						  NULL);
	CHECK(p && pb, "kernel perf buffer: %s", strerror(errno));
	for (int i = 0; i < NFRAMES && pb; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frames[i],
			    .data_size_in = (uint32_t)frame_len[i]);
		CHECK(bpf_prog_test_run_opts(bpf_program__fd(p), &o) == 0 && o.retval == 2,
		      "kernel run %d", i);
	}
	if (pb)
		CHECK(perf_buffer__consume(pb) >= 0, "consume");
	struct bpf_map *bss = bpf_object__find_map_by_name(bo, ".bss");
	uint8_t v[64] = {0};
	uint32_t zero = 0;
	CHECK(bss && bpf_map_lookup_elem(bpf_map__fd(bss), &zero, v) == 0, "kernel .bss");
	memcpy(rc, v, 7 * sizeof(int64_t));
	perf_buffer__free(pb);
	bpf_object__close(bo);
	return true;
}

static void test_perf(void)
{
	make_frames();
	/* No consumer: -ENOENT everywhere, and the error cases' codes. */
	struct objdiff_case cases[NFRAMES];
	for (int i = 0; i < NFRAMES; i++)
		cases[i] = (struct objdiff_case){.name = "frame", .data = frames[i],
						 .data_len = (uint32_t)frame_len[i]};
	struct objdiff d = {.path = PROGS "perf.bpf.o", .prog = "xdp_perf"};
	CHECK(objdiff_check(&d, cases, NFRAMES, NULL) >= 2, "perf.bpf.o without a consumer");

	/* With consumers, on CPU 0 as objdiff does. */
	uint32_t old_cpus = visor_map_possible_cpus();
	int kcpus = libbpf_num_possible_cpus();
	if (kcpus > 0 && kcpus <= VISOR_MAP_MAX_CPUS)
		visor_map_set_possible_cpus((uint32_t)kcpus);
	cpu_set_t old_mask, cpu0;
	sched_getaffinity(0, sizeof(old_mask), &old_mask);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	CHECK(sched_setaffinity(0, sizeof(cpu0), &cpu0) == 0, "pin to CPU 0");

	static struct samples vs[2], ks;
	int64_t vrc[2][7], krc[7];
	for (int e = 0; e < 2; e++) {
		memset(&vs[e], 0, sizeof(vs[e]));
		visor_perf(e ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP, &vs[e], vrc[e]);
		const struct samples *s = &vs[e];
		CHECK(s->n == 2 * NFRAMES && s->lost == 0, "engine %d: %d samples", e, s->n);
		for (int i = 0; i < NFRAMES && s->n == 2 * NFRAMES; i++) {
			uint32_t pkt = frame_len[i] < 20 ? (uint32_t)frame_len[i] : 20;
			CHECK(s->size[2 * i] == raw_size(24 + pkt) && s->cpu[2 * i] == 0,
			      "event %d: size %u", i, s->size[2 * i]);
			CHECK(memcmp(s->data[2 * i] + 24, frames[i], pkt) == 0, "event %d: packet bytes", i);
			uint32_t seq, len;
			CHECK(memcmp(s->data[2 * i] + 16, "\1\2\3\0\0\0\0\0", 8) == 0, "event %d: tag", i);
			memcpy(&len, s->data[2 * i], 4);
			memcpy(&seq, s->data[2 * i] + 4, 4);
			CHECK(len == frame_len[i] && seq == (uint32_t)i, "event %d: len %u seq %u", i, len,
			      seq);
			CHECK(s->size[2 * i + 1] == 12, "magic sample size %u", s->size[2 * i + 1]);
		}
		CHECK(vrc[e][0] == 0 && vrc[e][1] == 0 && vrc[e][2] == -EFAULT &&
			      vrc[e][3] == -EINVAL && vrc[e][4] == -E2BIG,
		      "engine %d return codes %lld %lld %lld %lld %lld", e, (long long)vrc[e][0],
		      (long long)vrc[e][1], (long long)vrc[e][2], (long long)vrc[e][3],
		      (long long)vrc[e][4]);
		CHECK(vrc[e][5] == (visor_map_possible_cpus() > 1 ? -EOPNOTSUPP : -E2BIG) ||
			      vrc[e][5] == -ENOENT,
		      "engine %d: CPU 1's slot from CPU 0: %lld", e, (long long)vrc[e][5]);
	}
	CHECK(vs[0].n == vs[1].n && memcmp(vs[0].size, vs[1].size, sizeof(vs[0].size)) == 0 &&
		      memcmp(vs[0].data, vs[1].data, sizeof(vs[0].data)) == 0,
	      "interpreter and JIT samples agree");

	memset(&ks, 0, sizeof(ks));
	if (kernel_perf(&ks, krc)) {
		CHECK(ks.n == vs[0].n, "kernel %d samples, visor %d", ks.n, vs[0].n);
		for (int i = 0; i < ks.n && i < vs[0].n && i < MAX_SAMPLES; i++) {
			CHECK(ks.size[i] == vs[0].size[i] && ks.cpu[i] == vs[0].cpu[i],
			      "sample %d: kernel size %u cpu %d, visor %u cpu %d", i, ks.size[i],
			      ks.cpu[i], vs[0].size[i], vs[0].cpu[i]);
			CHECK(memcmp(ks.data[i], vs[0].data[i], ks.size[i] < 128 ? ks.size[i] : 128) == 0,
			      "sample %d: bytes", i);
			for (uint32_t b = 0; b < ks.size[i] && b < 128; b++)
				if (ks.data[i][b] != vs[0].data[i][b])
					printf("  byte %u: kernel %02x visor %02x\n", b, ks.data[i][b], vs[0].data[i][b]);
		}
		CHECK(memcmp(krc, vrc[0], sizeof(krc)) == 0,
		      "return codes: kernel %lld %lld %lld %lld %lld %lld", (long long)krc[0],
		      (long long)krc[1], (long long)krc[2], (long long)krc[3], (long long)krc[4],
		      (long long)krc[5]);
	}
	sched_setaffinity(0, sizeof(old_mask), &old_mask);
	visor_map_set_possible_cpus(old_cpus);
}

/* ---- Maps of maps ------------------------------------------------------------ */

static void check_mim(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *bss = objdiff_map(obj, maps, ".bss");
	int64_t r[4];
	uint32_t zero = 0;
	CHECK(bss && visor_map_lookup(bss, &zero, r) == 0, ".bss");
	CHECK(r[0] == 0 && r[1] == -EINVAL && r[2] == 0 && r[3] == -E2BIG,
	      "inner map helper results %lld %lld %lld %lld", (long long)r[0], (long long)r[1],
	      (long long)r[2], (long long)r[3]);
}

static void test_map_in_map(void)
{
	uint8_t f[2][128];
	size_t l0 = pkt_udp4(f[0], 0xc0000201, 0xc6336407, 1, 53, "ab", 2);
	size_t l1 = pkt_udp4(f[1], 0xc0000201, 0xc6336407, 1, 53, "abc", 3);
	struct objdiff_case cases[] = {
		{.name = "even", .data = f[0], .data_len = (uint32_t)l0, .repeat = 2},
		{.name = "odd", .data = f[1], .data_len = (uint32_t)l1},
		{.name = "even again", .data = f[0], .data_len = (uint32_t)l0},
	};
	uint64_t seven = 7;
	uint32_t k2 = 2;
	struct objdiff_update up[] = {{.map = "inner_odd", .key = &k2, .value = &seven}};
	struct objdiff d = {.path = PROGS "mapinmap.bpf.o", .prog = "xdp_map_in_map_update",
			    .updates = up, .nupdates = 1, .check_maps = check_mim};
	CHECK(objdiff_check(&d, cases, 3, NULL) >= 2, "mapinmap update");
	struct objdiff d2 = {.path = PROGS "mapinmap.bpf.o", .prog = "xdp_map_in_map"};
	CHECK(objdiff_check(&d2, cases, 3, NULL) >= 2, "mapinmap lookup");

	/* A map the program never reached is no handle: a forged pointer to a
	 * map that exists but is not bound (nor held by a bound outer map). */
	char err[256];
	struct visor_map *lone = NULL;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
		   .value_size = 8, .max_entries = 1);
	CHECK(visor_map_create(&o, &lone) == 0, "lone map");
	uint64_t addr = (uintptr_t)lone;
	struct visor_insn prog[] = {
		{.code = 0x18, .dst = 1, .imm = (int32_t)addr}, /* r1 = lone (a plain constant) */
		{.imm = (int32_t)(addr >> 32)},
		{.code = 0x7a, .dst = 10, .off = -8, .imm = 0}, /* *(u64 *)(r10 - 8) = 0 */
		{.code = 0xbf, .dst = 2, .src = 10},            /* r2 = r10 */
		{.code = 0x07, .dst = 2, .imm = -8},            /* r2 -= 8 */
		{.code = 0x85, .imm = 1},                        /* call map_lookup_elem */
		{.code = 0x95},
	};
	struct visor_vm *vm = visor_vm_create();
	CHECK(visor_vm_register_linux_helpers(vm) == 0 && visor_vm_load(vm, prog, 7) == 0,
	      "load: %s", visor_vm_errmsg(vm));
	/* The verifier refuses the constant as a map; unsafe mode shows the
	 * helper's own run-time check. */
	VISOR_OPTS(visor_verify_opts, vo);
	CHECK(visor_verify_vm(vm, &vo) == -EACCES && strstr(vo.errmsg, "must be a map"),
	      "forged map pointer, verifier: %s", vo.errmsg);
	visor_vm_set_unsafe(vm, true);
	uint64_t r0 = 0;
	VISOR_OPTS(visor_vm_exec_opts, eo, .errbuf = err, .errbuf_len = sizeof(err));
	CHECK(visor_vm_exec(vm, &eo, &r0) == -EINVAL && strstr(err, "not a map bound"),
	      "forged map pointer: %s", err);
	visor_vm_destroy(vm);
	visor_map_destroy(lone);
}

int main(void)
{
	test_snprintf();
	test_snprintf_refused();
	test_perf();
	test_map_in_map();
	return test_summary("test_runtime_output");
}
