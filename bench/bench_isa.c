/* bench_isa: how fast does visor execute eBPF instructions?
 *
 * A handful of small programs, each written once in visor assembly, timed in
 * every engine of this process side by side:
 *
 *   interp  visor's interpreter (visor_vm_exec)
 *   kernel  the Linux kernel (BPF_PROG_TEST_RUN with repeat, as an XDP
 *           program; JIT-compiled when net.core.bpf_jit_enable is 1)
 *   native  the same algorithm written in C, compiled with this file (-O2)
 *
 * An engine is one entry of the engines[] table: the JIT adds itself there
 * and gets its ns/run, ns/insn and ratio-to-interp columns for free.
 *
 * Programs take r1 = start of the packet, r2 = its end (visor passes them as
 * arguments; the kernel gets a two-instruction prologue that reads them from
 * struct xdp_md). Every packet access is checked against the end and every
 * loop is counted, so the kernel's verifier accepts them. Each program stores
 * its result in the packet and returns XDP_PASS; the packets after one run
 * in each engine must be identical (CHECK column).
 *
 * Timing: each figure is the best of several short batches, a batch being
 * as many runs as fit in the batch time, timed in thread CPU time. The best,
 * not the mean or median: other processes and the hypervisor only ever add
 * time (interrupts, evicted caches), and short batches give some of them a
 * quiet moment. No figure is asserted: this is a measurement, not a test. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <visor/isa.h>
#include <visor/verifier.h>
#include <visor/vm.h>

#include "kernel_run.h"
#include "stats.h"

#define PKT_LEN 1500
#define XDP_PASS 2
#define WHY_LEN 512
#define MAX_ENGINES 8
#define CELL_LEN 32 /* one table cell */
#define MAX_BATCHES 32

/* Hides a value from the optimiser, so that native code computes from it at
 * run time instead of folding the whole loop into a constant. */
#define OPAQUE(v) __asm__ volatile("" : "+r"(v))
/* Makes the compiler assume memory was read and written: stores of the
 * native programs cannot be dropped or hoisted out of the timing loop. */
#define CLOBBER_MEMORY() __asm__ volatile("" ::: "memory")

/* ---- the programs ------------------------------------------------------- */

/* Every program ends by storing its result at the start of the packet (when
 * it fits) and returning XDP_PASS. */
#define STORE_R(reg)                                                          \
	"	mov %r6, %r1\n"                                               \
	"	add %r6, 8\n"                                                 \
	"	jgt %r6, %r2, out\n"                                          \
	"	stxdw [%r1+0], " reg "\n"                                     \
	"out:\n"                                                              \
	"	mov %r0, 2\n"                                                 \
	"	exit\n"

/* Nothing but the return: what one run costs before any work is done
 * (call, setup, the exit), the floor under every other row. */
static const char exit_only_asm[] =
	"	mov %r0, 2\n"
	"	exit\n";

__attribute__((noinline)) static void exit_only_native(uint8_t *data, uint8_t *end)
{
}

/* 1000 rounds of xorshift64 (13, 7, 17) folded into acc = acc * 31 + x:
 * pure 64-bit ALU work, registers only. Stores acc, then x at +8. */
static const char alu_loop_asm[] =
	"	mov %r3, 0\n"
	"	mov %r4, 0x2545f491\n"
	"	mov %r5, 0\n"
	"loop:\n"
	"	mov %r6, %r4\n"
	"	lsh %r6, 13\n"
	"	xor %r4, %r6\n"
	"	mov %r6, %r4\n"
	"	rsh %r6, 7\n"
	"	xor %r4, %r6\n"
	"	mov %r6, %r4\n"
	"	lsh %r6, 17\n"
	"	xor %r4, %r6\n"
	"	mul %r5, 31\n"
	"	add %r5, %r4\n"
	"	add %r3, 1\n"
	"	jlt %r3, 1000, loop\n"
	"	mov %r6, %r1\n"
	"	add %r6, 16\n"
	"	jgt %r6, %r2, out\n"
	"	stxdw [%r1+0], %r5\n"
	"	stxdw [%r1+8], %r4\n"
	"out:\n"
	"	mov %r0, 2\n"
	"	exit\n";

__attribute__((noinline)) static void alu_loop_native(uint8_t *data, uint8_t *end)
{
	uint64_t x = 0x2545f491, acc = 0;

	OPAQUE(x);
	for (unsigned i = 0; i < 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc = acc * 31 + x;
	}
	if (end - data >= 16) {
		memcpy(data, &acc, 8);
		memcpy(data + 8, &x, 8);
	}
}

/* Fletcher-style checksum, one byte at a time over the whole packet:
 * a += byte, b += a. Stores b << 32 | a. */
static const char checksum_asm[] =
	"	mov %r3, 0\n"
	"	mov %r4, 0\n"
	"	mov %r5, %r1\n"
	"	mov %r7, 0\n"
	"loop:\n"
	"	mov %r6, %r5\n"
	"	add %r6, 1\n"
	"	jgt %r6, %r2, done\n"
	"	ldxb %r8, [%r5+0]\n"
	"	add %r3, %r8\n"
	"	add %r4, %r3\n"
	"	mov %r5, %r6\n"
	"	add %r7, 1\n"
	"	jlt %r7, 1500, loop\n"
	"done:\n"
	"	lsh %r4, 32\n"
	"	or %r4, %r3\n"
	STORE_R("%r4");

__attribute__((noinline)) static void checksum_native(uint8_t *data, uint8_t *end)
{
	uint64_t a = 0, b = 0;
	const uint8_t *p = data;

	for (unsigned i = 0; i < 1500; i++) {
		if (end - p < 1)
			break;
		a += *p++;
		b += a;
	}
	b = b << 32 | a;
	if (end - data >= 8)
		memcpy(data, &b, 8);
}

/* MurmurHash3 (x86, 32-bit, seed 0) over the packet in 4-byte blocks:
 * 32-bit multiplies, rotates built from shifts, xors, then the final
 * avalanche. Stores the hash (zero-extended). */
static const char hash_asm[] =
	"	mov32 %r3, 0\n"
	"	mov %r4, %r1\n"
	"	mov %r5, 0\n"
	"loop:\n"
	"	mov %r6, %r4\n"
	"	add %r6, 4\n"
	"	jgt %r6, %r2, done\n"
	"	ldxw %r7, [%r4+0]\n"
	"	mul32 %r7, 0xcc9e2d51\n"
	"	mov32 %r8, %r7\n"
	"	lsh32 %r7, 15\n"
	"	rsh32 %r8, 17\n"
	"	or32 %r7, %r8\n"
	"	mul32 %r7, 0x1b873593\n"
	"	xor32 %r3, %r7\n"
	"	mov32 %r8, %r3\n"
	"	lsh32 %r3, 13\n"
	"	rsh32 %r8, 19\n"
	"	or32 %r3, %r8\n"
	"	mul32 %r3, 5\n"
	"	add32 %r3, 0xe6546b64\n"
	"	mov %r4, %r6\n"
	"	add %r5, 1\n"
	"	jlt %r5, 375, loop\n"
	"done:\n"
	"	xor32 %r3, 1500\n"
	"	mov32 %r8, %r3\n"
	"	rsh32 %r8, 16\n"
	"	xor32 %r3, %r8\n"
	"	mul32 %r3, 0x85ebca6b\n"
	"	mov32 %r8, %r3\n"
	"	rsh32 %r8, 13\n"
	"	xor32 %r3, %r8\n"
	"	mul32 %r3, 0xc2b2ae35\n"
	"	mov32 %r8, %r3\n"
	"	rsh32 %r8, 16\n"
	"	xor32 %r3, %r8\n"
	STORE_R("%r3");

static inline uint32_t rotl32(uint32_t x, unsigned r)
{
	return x << r | x >> (32 - r);
}

__attribute__((noinline)) static void hash_native(uint8_t *data, uint8_t *end)
{
	uint32_t h = 0, k;
	const uint8_t *p = data;

	for (unsigned i = 0; i < 375; i++) {
		if (end - p < 4)
			break;
		memcpy(&k, p, 4);
		p += 4;
		k = rotl32(k * 0xcc9e2d51u, 15) * 0x1b873593u;
		h = rotl32(h ^ k, 13) * 5 + 0xe6546b64u;
	}
	h ^= 1500;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	uint64_t r = h;
	if (end - data >= 8)
		memcpy(data, &r, 8);
}

/* Copies 92 × 8 = 736 bytes from offset 8 (first half) to offset 760
 * (second half) with 8-byte loads and stores; one end check per word, on
 * the destination, which lies beyond the source. Stores the bytes copied. */
static const char memcpy_asm[] =
	"	mov %r3, %r1\n"
	"	add %r3, 8\n"
	"	mov %r4, %r1\n"
	"	add %r4, 760\n"
	"	mov %r5, 0\n"
	"loop:\n"
	"	mov %r6, %r4\n"
	"	add %r6, 8\n"
	"	jgt %r6, %r2, done\n"
	"	ldxdw %r7, [%r3+0]\n"
	"	stxdw [%r4+0], %r7\n"
	"	add %r3, 8\n"
	"	mov %r4, %r6\n"
	"	add %r5, 1\n"
	"	jlt %r5, 92, loop\n"
	"done:\n"
	"	lsh %r5, 3\n"
	STORE_R("%r5");

__attribute__((noinline)) static void memcpy_native(uint8_t *data, uint8_t *end)
{
	const uint8_t *src = data + 8;
	uint8_t *dst = data + 760;
	uint64_t i, v;

	for (i = 0; i < 92; i++) {
		if (end - dst < 8)
			break;
		memcpy(&v, src, 8);
		memcpy(dst, &v, 8);
		src += 8;
		dst += 8;
	}
	i <<= 3;
	if (end - data >= 8)
		memcpy(data, &i, 8);
}

struct bench_prog {
	const char *name;
	const char *what; /* one line for --help */
	const char *text; /* body: r1 = packet start, r2 = packet end */
	void (*native)(uint8_t *data, uint8_t *end);
	struct visor_insn *insns; /* assembled text */
	size_t n;
};

static struct bench_prog progs[] = {
	{
		.name = "exit_only",
		.what = "return XDP_PASS at once: the fixed cost of one run",
		.text = exit_only_asm,
		.native = exit_only_native,
	},
	{
		.name = "alu_loop",
		.what = "1000 rounds of xorshift64 + multiply-add, registers only",
		.text = alu_loop_asm,
		.native = alu_loop_native,
	},
	{
		.name = "checksum",
		.what = "Fletcher-style sum, byte loads over the 1500-byte packet",
		.text = checksum_asm,
		.native = checksum_native,
	},
	{
		.name = "hash",
		.what = "MurmurHash3-32 over the packet: mul32, rotates, xors",
		.text = hash_asm,
		.native = hash_native,
	},
	{
		.name = "memcpy",
		.what = "copy 736 bytes, 8-byte loads and stores",
		.text = memcpy_asm,
		.native = memcpy_native,
	},
};
#define NPROGS (sizeof(progs) / sizeof(progs[0]))

/* ---- engines ------------------------------------------------------------ */

struct engine {
	const char *name;     /* column heading prefix */
	bool runs_ebpf;       /* executes the instructions: has a ns/insn figure */
	unsigned extra_insns; /* instructions run besides the body (prologue) */
	/* Once per process: 1 if usable, else 0 with the reason in why. */
	int (*available)(char *why, size_t len);
	/* Per program: sets *state; 0 or a negative errno with the reason. */
	int (*prepare)(const struct bench_prog *p, void **state, char *why, size_t len);
	/* One run on pkt (which it may modify); *executed: instructions run, when
	 * the engine knows. */
	int (*run_once)(void *state, uint8_t *pkt, size_t len, uint64_t *executed, char *why,
			size_t wlen);
	/* n runs on pkt; *ns: the average duration of one run. */
	int (*run_batch)(void *state, uint8_t *pkt, size_t len, uint64_t n, double *ns, char *why,
			 size_t wlen);
	void (*release)(void *state);
	/* filled in at startup */
	bool usable;
	char why[WHY_LEN];
};

/* CPU time of this thread, not wall time: time spent preempted by other
 * processes is left out, as the kernel leaves it out of its own figure
 * (bpf_test_run stops its timer when it reschedules). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int always(char *why, size_t len)
{
	return 1;
}

/* interp: visor's interpreter. */

static int interp_prepare(const struct bench_prog *p, void **state, char *why, size_t len)
{
	struct visor_vm *vm = visor_vm_create();
	int err;

	if (!vm) {
		snprintf(why, len, "visor_vm_create: out of memory");
		return -ENOMEM;
	}
	/* Unsafe mode: interp and jit measure the engines with their run-time
	 * checks, as unverified programs run. */
	visor_vm_set_unsafe(vm, true);
	err = visor_vm_load(vm, p->insns, p->n);
	if (err) {
		snprintf(why, len, "visor_vm_load: %s", visor_vm_errmsg(vm));
		visor_vm_destroy(vm);
		return err;
	}
	*state = vm;
	return 0;
}

static void interp_opts(struct visor_vm_exec_opts *o, uint8_t *pkt, size_t len, char *why,
			size_t wlen)
{
	/* The packet is both the arguments and the memory the program may use. */
	*o = (struct visor_vm_exec_opts){.sz = sizeof(*o), .mem = pkt, .mem_len = len,
					 .set_args = true, .errbuf = why, .errbuf_len = wlen};
	o->args[0] = (uintptr_t)pkt;
	o->args[1] = (uintptr_t)pkt + len;
}

static int interp_run_once(void *state, uint8_t *pkt, size_t len, uint64_t *executed, char *why,
			   size_t wlen)
{
	struct visor_vm_exec_opts o;
	uint64_t r0 = 0;
	int err;

	interp_opts(&o, pkt, len, why, wlen);
	err = visor_vm_exec(state, &o, &r0);
	if (!err && r0 != XDP_PASS) {
		snprintf(why, wlen, "returned %" PRIu64 ", expected XDP_PASS", r0);
		err = -EINVAL;
	}
	*executed = o.insns_executed;
	return err;
}

static int interp_run_batch(void *state, uint8_t *pkt, size_t len, uint64_t n, double *ns,
			    char *why, size_t wlen)
{
	struct visor_vm_exec_opts o;
	uint64_t r0, t0;

	interp_opts(&o, pkt, len, why, wlen);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		int err = visor_vm_exec(state, &o, &r0);
		if (err)
			return err;
	}
	*ns = (double)(now_ns() - t0) / (double)n;
	return 0;
}

static void interp_release(void *state)
{
	visor_vm_destroy(state);
}

/* jit, jit-v: visor's JIT, the same visor_vm_exec call with the engine
 * set. jit checks every memory access, as unverified programs need;
 * jit-v is compiled with VISOR_JIT_VERIFIED (no bounds checks), which is
 * what programs the verifier has passed get: the program (after a
 * prologue, see jitv_prepare) must pass visor_verify_vm as untyped (r1 =
 * the packet), else jit-v reports why. */

static int jit_usable(char *why, size_t len)
{
	if (visor_vm_jit_supported())
		return 1;
	snprintf(why, len, "the JIT supports x86-64 only");
	return 0;
}

static int jit_prepare_flags(const struct bench_prog *p, void **state, char *why, size_t len,
			     unsigned flags)
{
	int err = interp_prepare(p, state, why, len);

	if (err)
		return err;
	err = visor_vm_jit_compile(*state, flags);
	if (err) {
		snprintf(why, len, "visor_vm_jit_compile: %s", visor_vm_errmsg(*state));
		visor_vm_destroy(*state);
	}
	return err;
}

static int jit_prepare(const struct bench_prog *p, void **state, char *why, size_t len)
{
	return jit_prepare_flags(p, state, why, len, 0);
}

static int jitv_prepare(const struct bench_prog *p, void **state, char *why, size_t len)
{
	/* Verified untyped programs get r1 = the packet and r2 = its length
	 * (the verifier's assumption, so no set_args): a one-instruction
	 * prologue makes r2 the end pointer the body expects. */
	static const struct visor_insn prologue[] = {
		{.code = VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_X, .dst = 2, .src = 1},
	};
	const size_t np = sizeof(prologue) / sizeof(prologue[0]);
	struct visor_insn *insns = malloc((np + p->n) * sizeof(*insns));
	struct visor_vm *vm = visor_vm_create();
	int err = -ENOMEM;

	if (!insns || !vm) {
		snprintf(why, len, "out of memory");
		goto fail;
	}
	memcpy(insns, prologue, sizeof(prologue));
	memcpy(insns + np, p->insns, p->n * sizeof(*insns));
	err = visor_vm_load(vm, insns, np + p->n);
	if (err) {
		snprintf(why, len, "visor_vm_load: %s", visor_vm_errmsg(vm));
		goto fail;
	}
	VISOR_OPTS(visor_verify_opts, vo, .ctx_size = PKT_LEN);
	err = visor_verify_vm(vm, &vo);
	if (err) {
		snprintf(why, len, "not verified: %s", vo.errmsg);
		goto fail;
	}
	err = visor_vm_jit_compile(vm, VISOR_JIT_VERIFIED);
	if (err) {
		snprintf(why, len, "visor_vm_jit_compile: %s", visor_vm_errmsg(vm));
		goto fail;
	}
	free(insns);
	*state = vm;
	return 0;
fail:
	free(insns);
	visor_vm_destroy(vm);
	return err;
}

/* The run's options: a verified program (jit-v) takes r1 = mem and
 * r2 = mem_len, the others the packet's start and end as arguments. */
static void jit_opts(void *state, struct visor_vm_exec_opts *o, uint8_t *pkt, size_t len,
		     char *why, size_t wlen)
{
	interp_opts(o, pkt, len, why, wlen);
	o->engine = VISOR_ENGINE_JIT;
	if (visor_vm_verified(state))
		o->set_args = false;
}

static int jit_run_once(void *state, uint8_t *pkt, size_t len, uint64_t *executed, char *why,
			size_t wlen)
{
	struct visor_vm_exec_opts o;
	uint64_t r0 = 0;
	int err;

	jit_opts(state, &o, pkt, len, why, wlen);
	err = visor_vm_exec(state, &o, &r0);
	if (!err && r0 != XDP_PASS) {
		snprintf(why, wlen, "returned %" PRIu64 ", expected XDP_PASS", r0);
		err = -EINVAL;
	}
	*executed = 0; /* counted only under a budget */
	return err;
}

static int jit_run_batch(void *state, uint8_t *pkt, size_t len, uint64_t n, double *ns,
			 char *why, size_t wlen)
{
	struct visor_vm_exec_opts o;
	uint64_t r0, t0;

	jit_opts(state, &o, pkt, len, why, wlen);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		int err = visor_vm_exec(state, &o, &r0);
		if (err)
			return err;
	}
	*ns = (double)(now_ns() - t0) / (double)n;
	return 0;
}

/* kernel: BPF_PROG_TEST_RUN on an XDP program; the kernel times the runs. */

struct kernel_state {
	int fd;
};

static int kernel_usable(char *why, size_t len)
{
	return kernel_available(why, len);
}

static int kernel_prepare(const struct bench_prog *p, void **state, char *why, size_t len)
{
	/* r1 = ctx->data, r2 = ctx->data_end (u32 fields at 0 and 4 of xdp_md). */
	static const struct visor_insn prologue[] = {
		{.code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_W, .dst = 2, .src = 1, .off = 4},
		{.code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_W, .dst = 1, .src = 1, .off = 0},
	};
	const size_t np = sizeof(prologue) / sizeof(prologue[0]);
	struct visor_insn *insns = malloc((np + p->n) * sizeof(*insns));
	struct kernel_state *ks = malloc(sizeof(*ks));
	char log[WHY_LEN - 32];
	int fd;

	if (!insns || !ks) {
		free(insns);
		free(ks);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	memcpy(insns, prologue, sizeof(prologue));
	memcpy(insns + np, p->insns, p->n * sizeof(*insns));
	fd = kernel_prog_load(KERNEL_PROG_XDP, 0, insns, np + p->n, log, sizeof(log));
	free(insns);
	if (fd < 0) {
		snprintf(why, len, "kernel refused the program (%s): %s", strerror(-fd), log);
		free(ks);
		return fd;
	}
	ks->fd = fd;
	*state = ks;
	return 0;
}

static int kernel_run_once(void *state, uint8_t *pkt, size_t len, uint64_t *executed, char *why,
			   size_t wlen)
{
	struct kernel_state *ks = state;
	uint8_t out[PKT_LEN];
	size_t out_len = sizeof(out);
	uint32_t ret = 0;
	int err;

	*executed = 0; /* the kernel does not say */
	err = kernel_test_run_out(ks->fd, pkt, len, out, &out_len, 1, &ret, NULL);
	if (err) {
		snprintf(why, wlen, "BPF_PROG_TEST_RUN: %s", strerror(-err));
		return err;
	}
	if (ret != XDP_PASS || out_len != len) {
		snprintf(why, wlen, "returned %u with %zu bytes, expected XDP_PASS and %zu", ret,
			 out_len, len);
		return -EINVAL;
	}
	memcpy(pkt, out, len);
	return 0;
}

static int kernel_run_batch(void *state, uint8_t *pkt, size_t len, uint64_t n, double *ns,
			    char *why, size_t wlen)
{
	struct kernel_state *ks = state;
	uint32_t dur = 0;
	int err;

	if (n > INT32_MAX)
		n = INT32_MAX;
	err = kernel_test_run(ks->fd, pkt, len, (uint32_t)n, NULL, &dur);
	if (err) {
		snprintf(why, wlen, "BPF_PROG_TEST_RUN: %s", strerror(-err));
		return err;
	}
	/* The kernel's own figure: the time inside its run loop divided by
	 * repeat, in whole ns; syscall and packet copies are not in it. */
	*ns = dur;
	return 0;
}

static void kernel_release(void *state)
{
	struct kernel_state *ks = state;

	close(ks->fd);
	free(ks);
}

/* native: the C version of the program, called directly. */

static int native_prepare(const struct bench_prog *p, void **state, char *why, size_t len)
{
	*state = (void *)p;
	return 0;
}

static int native_run_once(void *state, uint8_t *pkt, size_t len, uint64_t *executed,
			   char *why, size_t wlen)
{
	const struct bench_prog *p = state;

	*executed = 0;
	p->native(pkt, pkt + len);
	CLOBBER_MEMORY();
	return 0;
}

static int native_run_batch(void *state, uint8_t *pkt, size_t len, uint64_t n, double *ns,
			    char *why, size_t wlen)
{
	const struct bench_prog *p = state;
	void (*fn)(uint8_t *, uint8_t *) = p->native;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		fn(pkt, pkt + len);
		CLOBBER_MEMORY();
	}
	*ns = (double)(now_ns() - t0) / (double)n;
	return 0;
}

static void native_release(void *state)
{
}

/* The first engine is the reference: its instruction count heads the row,
 * the others' packets are compared with its, and the ratios divide by it. */
static struct engine engines[] = {
	{
		.name = "interp",
		.runs_ebpf = true,
		.available = always,
		.prepare = interp_prepare,
		.run_once = interp_run_once,
		.run_batch = interp_run_batch,
		.release = interp_release,
	},
	{
		.name = "kernel",
		.runs_ebpf = true,
		.extra_insns = 2, /* the xdp_md prologue */
		.available = kernel_usable,
		.prepare = kernel_prepare,
		.run_once = kernel_run_once,
		.run_batch = kernel_run_batch,
		.release = kernel_release,
	},
	{
		.name = "jit",
		.runs_ebpf = true,
		.available = jit_usable,
		.prepare = jit_prepare,
		.run_once = jit_run_once,
		.run_batch = jit_run_batch,
		.release = interp_release,
	},
	{
		.name = "jit-v",
		.runs_ebpf = true,
		.extra_insns = 1, /* the prologue making r2 the end pointer */
		.available = jit_usable,
		.prepare = jitv_prepare,
		.run_once = jit_run_once,
		.run_batch = jit_run_batch,
		.release = interp_release,
	},
	{
		.name = "native",
		.available = always,
		.prepare = native_prepare,
		.run_once = native_run_once,
		.run_batch = native_run_batch,
		.release = native_release,
	},
};
#define NENGINES (sizeof(engines) / sizeof(engines[0]))
_Static_assert(NENGINES <= MAX_ENGINES, "MAX_ENGINES");

/* Ratios besides engine/interp: how the JIT compares with the kernel's JIT
 * and with native code (the targets: <= 1 and <= 2). */
static const struct {
	const char *num, *den;
} extra_ratios[] = {
	{"jit", "kernel"}, {"jit-v", "kernel"}, {"jit", "native"}, {"jit-v", "native"},
};
#define NEXTRA (sizeof(extra_ratios) / sizeof(extra_ratios[0]))

static int engine_index(const char *name)
{
	for (size_t i = 0; i < NENGINES; i++)
		if (!strcmp(engines[i].name, name))
			return engines[i].usable ? (int)i : -1;
	return -1;
}

/* ---- measuring ---------------------------------------------------------- */

struct config {
	unsigned batches; /* at most MAX_BATCHES */
	uint64_t batch_ns; /* wanted duration of one batch */
};

struct cell {
	bool ok;
	double ns;    /* best batch: ns per run */
	double noise; /* (median - best) / best over the batches */
	char why[WHY_LEN];
};

/* Times one prepared program: a calibration batch (which also warms caches
 * and branch predictors) sizes the batches, then the best of cfg->batches. */
static int measure(const struct engine *e, void *state, const uint8_t *input,
		   const struct config *cfg, struct cell *c)
{
	uint8_t pkt[PKT_LEN];
	double ns, samples[MAX_BATCHES];
	uint64_t n = 16;
	int err;

	memcpy(pkt, input, PKT_LEN);
	/* Grow the calibration batch until the runs in it (as the engine
	 * measures them: the kernel leaves out its syscall) last long enough
	 * to time. */
	for (;;) {
		uint64_t t0 = now_ns();

		err = e->run_batch(state, pkt, PKT_LEN, n, &ns, c->why, sizeof(c->why));
		if (err)
			return err;
		/* The CPU time bounds this loop if an engine reports ~0 ns. */
		if (ns * (double)n >= (double)cfg->batch_ns / 20 ||
		    now_ns() - t0 >= cfg->batch_ns || n >= (1u << 30))
			break;
		n *= 4;
	}
	if (ns < 0.1)
		ns = 0.1;
	n = (uint64_t)((double)cfg->batch_ns / ns);
	if (n < 1)
		n = 1;
	if (n > INT32_MAX)
		n = INT32_MAX;
	for (unsigned b = 0; b < cfg->batches; b++) {
		err = e->run_batch(state, pkt, PKT_LEN, n, &samples[b], c->why, sizeof(c->why));
		if (err)
			return err;
	}
	stats_sort(samples, cfg->batches);
	c->ns = samples[0];
	c->noise = c->ns > 0 ? (samples[cfg->batches / 2] - c->ns) / c->ns : 0;
	c->ok = true;
	return 0;
}

struct row {
	const struct bench_prog *p;
	uint64_t insns; /* executed per run by the reference engine */
	struct cell cells[MAX_ENGINES];
	char check[CELL_LEN]; /* "ok" or which engines disagree */
};

static void bench_program(struct bench_prog *p, const uint8_t *input, const struct config *cfg,
			  struct row *row)
{
	uint8_t ref[PKT_LEN], pkt[PKT_LEN];
	bool have_ref = false;

	row->p = p;
	row->check[0] = 0;
	for (size_t i = 0; i < NENGINES; i++) {
		struct engine *e = &engines[i];
		struct cell *c = &row->cells[i];
		void *state = NULL;
		uint64_t executed = 0;

		if (!e->usable)
			continue;
		if (e->prepare(p, &state, c->why, sizeof(c->why)))
			continue;
		/* One run on a fresh packet: the result the others must match. */
		memcpy(pkt, input, PKT_LEN);
		if (e->run_once(state, pkt, PKT_LEN, &executed, c->why, sizeof(c->why))) {
			e->release(state);
			continue;
		}
		if (i == 0) {
			memcpy(ref, pkt, PKT_LEN);
			row->insns = executed;
			have_ref = true;
		} else if (have_ref && memcmp(ref, pkt, PKT_LEN)) {
			size_t at = strlen(row->check);
			snprintf(row->check + at, sizeof(row->check) - at, "%s%s",
				 at ? "," : "DIFFERS:", e->name);
		}
		measure(e, state, input, cfg, c);
		e->release(state);
	}
	if (!row->check[0])
		snprintf(row->check, sizeof(row->check), have_ref ? "ok" : "-");
}

/* ---- output ------------------------------------------------------------- */

#define MAX_COLS (2 + 3 * MAX_ENGINES + 4 + 1)

struct table {
	size_t ncols, nrows;
	char head[MAX_COLS][CELL_LEN];
	char (*cells)[MAX_COLS][CELL_LEN];
};

static void fmt_ns(char *buf, double ns)
{
	/* Three significant figures at least, no more decimals than useful. */
	if (ns >= 1000)
		snprintf(buf, CELL_LEN, "%.0f", ns);
	else if (ns >= 10)
		snprintf(buf, CELL_LEN, "%.1f", ns);
	else
		snprintf(buf, CELL_LEN, "%.2f", ns);
}

static void set_head(struct table *t, size_t *col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->head[*col], CELL_LEN, fmt, ap);
	va_end(ap);
	for (char *s = t->head[*col]; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
	(*col)++;
}

/* Names and the check left-aligned, figures right-aligned; no trailing
 * blanks after the last column. */
static void print_line(const struct table *t, const char (*line)[CELL_LEN],
		       const size_t *width)
{
	for (size_t j = 0; j < t->ncols; j++) {
		if (j == t->ncols - 1)
			printf("%s\n", line[j]);
		else if (j == 0)
			printf("%-*s  ", (int)width[j], line[j]);
		else
			printf("%*s  ", (int)width[j], line[j]);
	}
}

static void print_table(const struct row *rows, size_t nrows)
{
	static char cells[NPROGS][MAX_COLS][CELL_LEN];
	struct table t = {.nrows = nrows, .cells = cells};
	size_t width[MAX_COLS] = {0}, col = 0;

	set_head(&t, &col, "program");
	set_head(&t, &col, "insns/run");
	for (size_t i = 0; i < NENGINES; i++) {
		if (!engines[i].usable)
			continue;
		set_head(&t, &col, "%s ns/run", engines[i].name);
		if (engines[i].runs_ebpf)
			set_head(&t, &col, "%s ns/insn", engines[i].name);
	}
	for (size_t i = 1; i < NENGINES; i++)
		if (engines[i].usable)
			set_head(&t, &col, "%s/%s", engines[i].name, engines[0].name);
	for (size_t k = 0; k < NEXTRA; k++)
		if (engine_index(extra_ratios[k].num) >= 0 && engine_index(extra_ratios[k].den) >= 0)
			set_head(&t, &col, "%s/%s", extra_ratios[k].num, extra_ratios[k].den);
	set_head(&t, &col, "check");
	t.ncols = col;

	for (size_t r = 0; r < nrows; r++) {
		const struct row *row = &rows[r];
		const struct cell *ref = &row->cells[0];
		char(*c)[CELL_LEN] = cells[r];

		col = 0;
		snprintf(c[col++], CELL_LEN, "%s", row->p->name);
		if (ref->ok)
			snprintf(c[col++], CELL_LEN, "%" PRIu64, row->insns);
		else
			snprintf(c[col++], CELL_LEN, "-");
		for (size_t i = 0; i < NENGINES; i++) {
			const struct engine *e = &engines[i];
			const struct cell *x = &row->cells[i];

			if (!e->usable)
				continue;
			if (x->ok)
				fmt_ns(c[col++], x->ns);
			else
				snprintf(c[col++], CELL_LEN, "-");
			if (!e->runs_ebpf)
				continue;
			if (x->ok && ref->ok && row->insns)
				snprintf(c[col++], CELL_LEN, "%.3f",
					 x->ns / (double)(row->insns + e->extra_insns));
			else
				snprintf(c[col++], CELL_LEN, "-");
		}
		for (size_t i = 1; i < NENGINES; i++) {
			if (!engines[i].usable)
				continue;
			if (row->cells[i].ok && ref->ok && ref->ns > 0)
				snprintf(c[col++], CELL_LEN, "%.3f", row->cells[i].ns / ref->ns);
			else
				snprintf(c[col++], CELL_LEN, "-");
		}
		for (size_t k = 0; k < NEXTRA; k++) {
			int a = engine_index(extra_ratios[k].num), b = engine_index(extra_ratios[k].den);
			if (a < 0 || b < 0)
				continue;
			if (row->cells[a].ok && row->cells[b].ok && row->cells[b].ns > 0)
				snprintf(c[col++], CELL_LEN, "%.2f", row->cells[a].ns / row->cells[b].ns);
			else
				snprintf(c[col++], CELL_LEN, "-");
		}
		snprintf(c[col++], CELL_LEN, "%s", row->check);
	}

	for (size_t j = 0; j < t.ncols; j++) {
		width[j] = strlen(t.head[j]);
		for (size_t r = 0; r < nrows; r++)
			if (strlen(cells[r][j]) > width[j])
				width[j] = strlen(cells[r][j]);
	}
	print_line(&t, t.head, width);
	for (size_t r = 0; r < nrows; r++)
		print_line(&t, cells[r], width);
}

/* ---- the machine -------------------------------------------------------- */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += strspn(colon + 1, " \t") + 1;
		colon[strcspn(colon, "\n")] = 0;
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

static const char *jit_state(void)
{
	FILE *f = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v == 0 ? "JIT off: the kernel column is the kernel's interpreter"
	       : v > 0 ? "JIT on"
		       : "JIT state unknown";
}

static void print_machine(const struct config *cfg)
{
	struct utsname u;
	char cpu[128];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	cpu_model(cpu, sizeof(cpu));
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	printf("cpu: %s (%ld online), kernel: Linux %s, compiler: %s\n", cpu, ncpu, u.release,
#ifdef __clang__
	       "clang " __clang_version__
#else
	       "gcc " __VERSION__
#endif
	);
	printf("%zu-byte packet; each figure is the best of %u batches of ~%.0f ms\n",
	       (size_t)PKT_LEN, cfg->batches, (double)cfg->batch_ns / 1e6);
	printf("ns/insn: ns/run over the instructions the interpreter counted, plus the\n"
	       "engine's prologue (kernel: 2, reading xdp_md); ratios: ns/run over interp's\n");
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_isa [--quick] [PROGRAM]...\n"
		"Times small eBPF programs in each engine and prints ns per run, ns per\n"
		"executed instruction and the ratio of each engine to the interpreter.\n"
		"  --quick   5 batches of 5 ms per figure instead of 15 of 20 ms\n"
		"  --help    this text\n"
		"Engines:");
	for (size_t i = 0; i < NENGINES; i++)
		fprintf(f, " %s", engines[i].name);
	fprintf(f, "\nPrograms (default: all):\n");
	for (size_t i = 0; i < NPROGS; i++)
		fprintf(f, "  %-10s %s\n", progs[i].name, progs[i].what);
}

int main(int argc, char **argv)
{
	struct config cfg = {.batches = 15, .batch_ns = 20 * 1000 * 1000};
	bool selected[NPROGS] = {false}, any = false;
	struct row rows[NPROGS];
	uint8_t input[PKT_LEN];
	size_t nrows = 0;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		bool found = false;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--quick")) {
			cfg.batches = 5;
			cfg.batch_ns = 5 * 1000 * 1000;
			continue;
		}
		for (size_t j = 0; j < NPROGS; j++)
			if (!strcmp(argv[i], progs[j].name))
				selected[j] = found = any = true;
		if (!found) {
			fprintf(stderr, "bench_isa: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	/* A fixed pseudo-random packet, the same in every engine and run. */
	uint32_t s = 0x9e3779b9;
	for (size_t i = 0; i < PKT_LEN; i++) {
		s ^= s << 13, s ^= s >> 17, s ^= s << 5;
		input[i] = (uint8_t)s;
	}

	print_machine(&cfg);
	for (size_t i = 0; i < NENGINES; i++) {
		struct engine *e = &engines[i];

		e->usable = e->available(e->why, sizeof(e->why));
		if (!e->usable)
			printf("%s: skipped: %s\n", e->name, e->why);
		else if (!strcmp(e->name, "kernel"))
			printf("kernel: BPF_PROG_TEST_RUN of XDP programs, %s\n", jit_state());
	}
	printf("\n");

	for (size_t i = 0; i < NPROGS; i++) {
		char err[WHY_LEN];

		if (any && !selected[i])
			continue;
		if (visor_asm(progs[i].text, &progs[i].insns, &progs[i].n, err, sizeof(err))) {
			/* A bug in this file or the assembler: say so, keep going. */
			fprintf(stderr, "bench_isa: %s: assembler: %s\n", progs[i].name, err);
			status = 1;
			continue;
		}
		memset(&rows[nrows], 0, sizeof(rows[nrows]));
		bench_program(&progs[i], input, &cfg, &rows[nrows]);
		nrows++;
	}
	print_table(rows, nrows);

	/* Why any figure is missing, and which are unsteady. */
	for (size_t r = 0; r < nrows; r++) {
		for (size_t i = 0; i < NENGINES; i++) {
			const struct cell *c = &rows[r].cells[i];

			if (!engines[i].usable)
				continue;
			if (!c->ok) {
				printf("%s/%s: %s\n", rows[r].p->name, engines[i].name, c->why);
				status = 1;
			} else if (c->noise > 0.10) {
				printf("note: %s/%s: the median batch was %.0f%% slower than the "
				       "best (a busy machine?)\n",
				       rows[r].p->name, engines[i].name, c->noise * 100);
			}
		}
		if (strcmp(rows[r].check, "ok")) {
			printf("%s: the packets after one run differ between engines (%s): a bug\n",
			       rows[r].p->name, rows[r].check);
			status = 1;
		}
	}
	for (size_t i = 0; i < NPROGS; i++)
		free(progs[i].insns);
	return status;
}
