/* Differential test of visor (interpreter and JIT) against the Linux kernel: the same
 * program runs as a BPF_PROG_TYPE_SYSCALL program under BPF_PROG_TEST_RUN and
 * in visor with r1 = a copy of the same context buffer; r0 and the buffer
 * afterwards must be identical. Hand-written cases pin the corner cases of
 * RFC 9669, then seeded random programs (tests/lib/randprog.c) sweep the
 * rest.
 *
 * Environment: VISOR_DIFF_SEED=S first random seed (default 1),
 * VISOR_DIFF_COUNT=N number of random programs (default 3000 x scale),
 * VISOR_DIFF_FLAGS=F RANDPROG_NO_* bits, VISOR_DIFF_ENGINES=interp,jit,...
 * visor engines to compare (default: all that run here), VISOR_DIFF_VERBOSE=1
 * prints every run, VISOR_DIFF_NO_MINIMIZE=1 skips shrinking failures. A
 * failing seed replays with VISOR_DIFF_SEED=S VISOR_DIFF_COUNT=1. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/isa.h>
#include <visor/verifier.h>
#include <visor/vm.h>

#include "kernel_run.h"
#include "randprog.h"
#include "testutil.h"

#define NAME "test_kernel_diff"
#define HAND_CTX_LEN 128
#define LOG_LEN 16384
#define RUN_BUDGET (1ull << 24) /* a jump bug loops for a moment, not forever */
#define MAX_REPORTS 5           /* full reports; later failures only counted */

static struct visor_vm *vm;
static char klog[LOG_LEN];
static int compared, rejected, mismatched, reports;

/* The ways visor can run a program; each is compared with the kernel. The
 * JIT variants cover both of its entry points (with and without a budget)
 * and its flags. */
struct engine {
	const char *name;
	int engine; /* enum visor_vm_engine */
	unsigned jit_flags;
	bool budget;
	bool on;
	int mismatched;
};
static struct engine engines[] = {
	{"interp", VISOR_ENGINE_INTERP, 0, true, false, 0},
	{"jit", VISOR_ENGINE_JIT, 0, false, false, 0},
	{"jit-harden", VISOR_ENGINE_JIT, VISOR_JIT_HARDEN, true, false, 0},
	{"jit-verified", VISOR_ENGINE_JIT, VISOR_JIT_VERIFIED, false, false, 0},
};
#define NENGINES (sizeof(engines) / sizeof(engines[0]))

struct subject {
	char label[64];            /* "case sdiv_min" or "seed 1234" */
	bool random;               /* ctx layout of randprog: registers, stack */
	const struct visor_insn *insns;
	size_t count;
	const uint8_t *ctx;        /* initial context */
	size_t ctx_len;
};

static void print_program(const struct subject *s, int with_index)
{
	char *text = visor_disasm(s->insns, s->count, VISOR_SYNTAX_UBPF, with_index);

	fprintf(stderr, "--- program (%zu slots)\n%s--- end\n", s->count,
		text ? text : "(disassembly failed)\n");
	free(text);
}

/* Names a context byte offset for humans: in random programs the first 72
 * bytes are r0..r8 and then the main frame's stack slots. */
static void describe_offset(const struct subject *s, size_t off, char *buf, size_t len)
{
	if (s->random && off < RANDPROG_STACK_OFF)
		snprintf(buf, len, "ctx[%zu] = r%zu byte %zu", off, off / 8, off % 8);
	else if (s->random && off < RANDPROG_STACK_OFF + 8 * 64)
		snprintf(buf, len, "ctx[%zu] = stack [r10-%zu] byte %zu", off,
			 8 * ((off - RANDPROG_STACK_OFF) / 8 + 1), off % 8);
	else
		snprintf(buf, len, "ctx[%zu]", off);
}

static void report_mismatch(const struct subject *s, const struct engine *e, uint64_t kr0,
			    const uint8_t *kctx, int verr, uint64_t vr0, const uint8_t *vctx,
			    const char *vmsg)
{
	int shown = 0;

	if (++reports > MAX_REPORTS)
		return;
	fprintf(stderr, "MISMATCH %s, visor engine %s\n", s->label, e->name);
	print_program(s, 1);
	if (verr)
		fprintf(stderr, "visor failed: %s (%s); kernel r0 = 0x%08" PRIx64 "\n",
			strerror(-verr), vmsg, kr0);
	else
		fprintf(stderr, "r0: kernel 0x%08" PRIx64 " (low 32 bits), visor 0x%016" PRIx64
			"%s\n", kr0, vr0, (uint32_t)vr0 == kr0 ? " (same low half)" : "");
	for (size_t i = 0; !verr && i < s->ctx_len && shown < 16; i++) {
		char where[96];

		if (kctx[i] == vctx[i])
			continue;
		describe_offset(s, i, where, sizeof(where));
		fprintf(stderr, "  %s: kernel 0x%02x, visor 0x%02x (was 0x%02x)\n", where,
			kctx[i], vctx[i], s->ctx[i]);
		shown++;
	}
	if (s->random)
		fprintf(stderr, "replay: VISOR_DIFF_SEED=%s VISOR_DIFF_COUNT=1 "
			"VISOR_DIFF_ENGINES=%s %s\n", s->label + 5, e->name, NAME);
}

/* Programs the kernel accepted that the visor verifier refused: the
 * jit-verified engine cannot run them (first few listed at the end). */
static int visor_refused;
#define MAX_REFUSED_SHOWN 5

/* Runs s in visor with engine e, r1 = ctx and ctx as its input memory. The
 * VM is in unsafe mode (the other engines run with their run-time checks);
 * jit-verified verifies the program first (untyped, ctx_len bytes) and
 * returns 1 with the reason in msg when the verifier refuses it. */
static int run_visor(const struct subject *s, const struct engine *e, uint8_t *ctx,
		     uint64_t *r0, char *msg, size_t msg_len)
{
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = ctx, .mem_len = s->ctx_len,
		   .budget = e->budget ? RUN_BUDGET : 0, .set_args = true, .errbuf = msg,
		   .errbuf_len = msg_len, .engine = e->engine);
	int err;

	msg[0] = 0;
	visor_vm_unload(vm);
	err = visor_vm_load(vm, s->insns, s->count);
	if (err) {
		snprintf(msg, msg_len, "load: %s", visor_vm_errmsg(vm));
		return err;
	}
	if (e->jit_flags & VISOR_JIT_VERIFIED) {
		VISOR_OPTS(visor_verify_opts, vo, .ctx_size = (uint32_t)s->ctx_len);
		if (visor_verify_vm(vm, &vo)) {
			snprintf(msg, msg_len, "refused by the visor verifier: %.200s", vo.errmsg);
			return 1;
		}
	}
	if (e->engine == VISOR_ENGINE_JIT) {
		err = visor_vm_jit_compile(vm, e->jit_flags);
		if (err) {
			snprintf(msg, msg_len, "jit compile: %s", visor_vm_errmsg(vm));
			return err;
		}
	}
	opts.args[0] = (uint64_t)(uintptr_t)ctx;
	/* A verified program gets r1 = ctx, r2 = ctx_len (what the verifier
	 * assumed; the kernel's programs never read r2). */
	if (e->jit_flags & VISOR_JIT_VERIFIED)
		opts.set_args = false;
	return visor_vm_exec(vm, &opts, r0);
}

/* Does s still run differently on e (and still pass the kernel's verifier)? */
static bool still_differs(const struct subject *s, const struct engine *e)
{
	uint8_t kctx[RANDPROG_MAX_CTX > HAND_CTX_LEN ? RANDPROG_MAX_CTX : HAND_CTX_LEN];
	uint8_t vctx[sizeof(kctx)];
	uint64_t kr0 = 0, vr0 = 0;
	char vmsg[VISOR_ERRMSG_LEN];

	memcpy(kctx, s->ctx, s->ctx_len);
	memcpy(vctx, s->ctx, s->ctx_len);
	if (kernel_run_syscall(s->insns, s->count, kctx, s->ctx_len, &kr0, NULL, 0))
		return false;
	int verr = run_visor(s, e, vctx, &vr0, vmsg, sizeof(vmsg));
	if (verr)
		return verr < 0;
	return (uint32_t)vr0 != kr0 || memcmp(kctx, vctx, s->ctx_len);
}

static bool is_nop(const struct visor_insn *in)
{
	return in->code == (VISOR_CLS_JMP | VISOR_JMP_JA) && !in->off && !in->dst && !in->src &&
	       !in->imm;
}

/* Drops the nops, retargeting jumps and calls (a jump to a dropped nop lands
 * on the next kept slot, which is where the nop fell through to). */
static size_t compact(struct visor_insn *insns, size_t n)
{
	size_t *map = malloc((n + 1) * sizeof(*map)), k = 0;

	if (!map)
		return n;
	for (size_t i = 0; i < n; i++) {
		map[i] = k;
		if (!is_nop(&insns[i]) || (i && insns[i - 1].code == VISOR_OPCODE_LDDW))
			k++;
	}
	map[n] = k;
	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct visor_insn in = insns[i];
		uint8_t cls = VISOR_CLASS(in.code), op = VISOR_OP(in.code);
		bool second = i && insns[i - 1].code == VISOR_OPCODE_LDDW;

		if (is_nop(&in) && !second)
			continue;
		if (!second && (cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) &&
		    op != VISOR_JMP_EXIT) {
			bool by_imm = (op == VISOR_JMP_CALL && in.src == VISOR_CALL_LOCAL) ||
				      (cls == VISOR_CLS_JMP32 && op == VISOR_JMP_JA);
			long t = (long)i + 1 + (by_imm ? in.imm : in.off);

			if (op != VISOR_JMP_CALL || in.src == VISOR_CALL_LOCAL) {
				if (t >= 0 && t <= (long)n) {
					long off = (long)map[t] - (long)map[i] - 1;

					if (by_imm)
						in.imm = (int32_t)off;
					else
						in.off = (int16_t)off;
				}
			}
		}
		insns[k++] = in;
	}
	free(map);
	return k;
}

/* Could any instruction read a byte of [r10+off, r10+off+8)? Conservative:
 * all frames at once, and yes when some access goes through a register
 * other than r9 (ctx) and r10. */
static bool stack_slot_read(const struct visor_insn *insns, size_t n, int off)
{
	for (size_t i = 0; i < n; i += visor_insn_slots(&insns[i])) {
		const struct visor_insn *in = &insns[i];
		uint8_t cls = VISOR_CLASS(in->code), mode = VISOR_MODE(in->code);
		int base, lo;

		if (cls == VISOR_CLS_LDX)
			base = in->src;
		else if ((cls == VISOR_CLS_ST || cls == VISOR_CLS_STX) &&
			 (mode == VISOR_MODE_ATOMIC || in->dst != 9))
			base = in->dst;
		else
			continue;
		if (base != 10 && base != 9)
			return true;
		if (base != 10 || (cls != VISOR_CLS_LDX && mode != VISOR_MODE_ATOMIC))
			continue;
		lo = in->off;
		if (lo < off + 8 && off < lo + (int)visor_size_bytes(in->code))
			return true;
	}
	return false;
}

/* A constant load (mov, mov32, lddw) into some register. */
static bool is_const_load(const struct visor_insn *in)
{
	return in->code == VISOR_OPCODE_LDDW ||
	       in->code == (VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K) ||
	       in->code == (VISOR_CLS_ALU | VISOR_ALU_MOV | VISOR_SRC_K);
}

/* Is r written, before being read, by the straight-line code from i on?
 * Then a constant load into r just before i is dead. */
static bool overwritten(const struct visor_insn *insns, size_t n, size_t i, int r)
{
	for (; i < n; i += visor_insn_slots(&insns[i])) {
		const struct visor_insn *in = &insns[i];
		uint8_t cls = VISOR_CLASS(in->code);

		if (is_nop(in))
			continue;
		if (cls != VISOR_CLS_ALU && cls != VISOR_CLS_ALU64 && cls != VISOR_CLS_LDX &&
		    in->code != VISOR_OPCODE_LDDW)
			return false; /* control flow, stores, atomics: give up */
		if (in->src == r && (cls == VISOR_CLS_LDX || VISOR_SRC(in->code) == VISOR_SRC_X))
			return false;
		if (in->dst == r)
			/* loads and moves overwrite; other ALU ops read it first */
			return cls == VISOR_CLS_LDX || in->code == VISOR_OPCODE_LDDW ||
			       VISOR_OP(in->code) == VISOR_ALU_MOV;
	}
	return false;
}

/* Might r hold a pointer before insns[i]? Looks back along straight-line
 * code for a copy of r9 or r10; r1 holds ctx where a frame begins (after
 * the previous exit, or at the start). */
static bool may_hold_pointer(const struct visor_insn *insns, size_t i, int r)
{
	while (i-- > 0) {
		const struct visor_insn *in = &insns[i];
		uint8_t cls = VISOR_CLASS(in->code);

		if (in->code == VISOR_OPCODE_EXIT)
			break;
		if (i && insns[i - 1].code == VISOR_OPCODE_LDDW)
			continue; /* second slot of lddw */
		if (in->dst != r || (cls != VISOR_CLS_ALU && cls != VISOR_CLS_ALU64 &&
				     cls != VISOR_CLS_LDX && in->code != VISOR_OPCODE_LDDW))
			continue;
		if (in->code == (VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X) && !in->off)
			return in->src == 9 || in->src == 10 || (in->src == 1 && r != 1);
		if (cls == VISOR_CLS_LDX || in->code == VISOR_OPCODE_LDDW ||
		    VISOR_OP(in->code) == VISOR_ALU_MOV)
			return false;
		/* other ALU ops keep a pointer a pointer: look further back */
	}
	return r == 1;
}

/* What the minimizer must keep: 8-byte stores that initialise stack slots
 * read later, since the verifier lets root read uninitialised stack whose
 * garbage differs between kernel and visor, and constant loads that replace
 * a pointer (ctx in r1 at entry, copies of r9 or r10), which would otherwise
 * leak an address that differs between the two sides. */
static bool must_keep(const struct visor_insn *insns, size_t n, size_t i)
{
	const struct visor_insn *in = &insns[i];
	uint8_t cls = VISOR_CLASS(in->code);

	if ((cls == VISOR_CLS_ST || cls == VISOR_CLS_STX) &&
	    VISOR_MODE(in->code) == VISOR_MODE_MEM && VISOR_SIZE(in->code) == VISOR_SIZE_DW &&
	    in->dst == 10)
		return stack_slot_read(insns, n, in->off);
	return is_const_load(in) && may_hold_pointer(insns, i, in->dst) &&
	       !overwritten(insns, n, i + visor_insn_slots(in), in->dst);
}

/* Shrinks a failing program for the report: each instruction in turn
 * becomes a nop (ja +0, which keeps every jump offset valid) when the
 * difference survives without it; then the nops are dropped. */
static void minimize(const struct subject *orig, const struct engine *e)
{
	struct visor_insn *insns = malloc(orig->count * sizeof(*insns));
	struct subject s = *orig;
	const struct visor_insn nop = {.code = VISOR_CLS_JMP | VISOR_JMP_JA};
	bool changed = true;

	if (!insns)
		return;
	memcpy(insns, orig->insns, orig->count * sizeof(*insns));
	s.insns = insns;
	for (int pass = 0; changed && pass < 4; pass++) {
		changed = false;
		for (size_t i = 0; i < s.count; i += visor_insn_slots(&insns[i])) {
			struct visor_insn save[2];
			size_t w = visor_insn_slots(&insns[i]);

			if (insns[i].code == VISOR_OPCODE_EXIT || is_nop(&insns[i]) ||
			    i + w > s.count || must_keep(insns, s.count, i))
				continue;
			memcpy(save, &insns[i], w * sizeof(*insns));
			for (size_t j = 0; j < w; j++)
				insns[i + j] = nop;
			if (still_differs(&s, e))
				changed = true;
			else
				memcpy(&insns[i], save, w * sizeof(*insns));
		}
	}
	s.count = compact(insns, s.count);
	if (still_differs(&s, e)) {
		fprintf(stderr, "minimized reproducer (%zu of %zu slots, re-assemblable):\n",
			s.count, orig->count);
		print_program(&s, 0);
	} else {
		fprintf(stderr, "(minimizing lost the difference)\n");
	}
	free(insns);
}

/* Runs s in the kernel and on every visor engine and compares. Returns
 * false on any difference. */
static bool compare(const struct subject *s)
{
	uint8_t kctx[RANDPROG_MAX_CTX > HAND_CTX_LEN ? RANDPROG_MAX_CTX : HAND_CTX_LEN];
	uint8_t vctx[sizeof(kctx)];
	uint64_t kr0 = 0;
	bool same = true;
	int kerr;

	memcpy(kctx, s->ctx, s->ctx_len);
	kerr = kernel_run_syscall(s->insns, s->count, kctx, s->ctx_len, &kr0, klog, sizeof(klog));
	test_checks++;
	if (kerr) {
		/* Every program here is meant to be valid; a refusal is a bug in
		 * the case or in the generator. */
		rejected++;
		test_failures++;
		if (++reports <= MAX_REPORTS) {
			size_t n = strlen(klog);
			const char *tail = klog;

			/* The last lines of the log carry the reason. */
			for (int lines = 0; n > 0 && lines < 12; n--)
				if (klog[n - 1] == '\n' && ++lines == 12)
					tail = klog + n;
			fprintf(stderr, "REJECTED by the kernel verifier: %s (%s)\n", s->label,
				strerror(-kerr));
			print_program(s, 1);
			fprintf(stderr, "--- verifier log (tail)\n%s\n--- end\n", tail);
		}
		return false;
	}
	compared++;
	for (size_t i = 0; i < NENGINES; i++) {
		struct engine *e = &engines[i];
		char vmsg[VISOR_ERRMSG_LEN];
		uint64_t vr0 = 0;
		int verr;

		if (!e->on)
			continue;
		memcpy(vctx, s->ctx, s->ctx_len);
		verr = run_visor(s, e, vctx, &vr0, vmsg, sizeof(vmsg));
		if (verr > 0) {
			if (++visor_refused <= MAX_REFUSED_SHOWN)
				fprintf(stderr, "note: %s: %s\n", s->label, vmsg);
			continue;
		}
		if (getenv("VISOR_DIFF_VERBOSE"))
			printf("%s: %zu slots, kernel r0 0x%" PRIx64 ", %s r0 0x%" PRIx64 " (%d)\n",
			       s->label, s->count, kr0, e->name, vr0, verr);
		/* The kernel reports only r0's low half; programs store r0 in full. */
		if (!verr && (uint32_t)vr0 == kr0 && !memcmp(kctx, vctx, s->ctx_len))
			continue;
		same = false;
		e->mismatched++;
		report_mismatch(s, e, kr0, kctx, verr, vr0, vctx, vmsg);
		if (reports <= MAX_REPORTS && !getenv("VISOR_DIFF_NO_MINIMIZE"))
			minimize(s, e);
	}
	if (!same) {
		mismatched++;
		test_failures++;
	}
	return same;
}

/* ---- Hand-written cases ------------------------------------------------- */

/* Each case starts with r1 = ctx (128 bytes of a fixed pattern), keeps it in
 * r9 and stores what it computed into ctx so every value is compared. */
struct hand_case {
	const char *name;
	const char *text;
};

static const struct hand_case hand_cases[] = {
	{"sdiv_smod_min",
	 /* INT_MIN / -1 overflows: the result is INT_MIN, the remainder 0. */
	 "mov r9, r1\n"
	 "lddw r0, 0x8000000000000000\n"
	 "mov r3, -1\n"
	 "mov r1, r0\n sdiv r1, -1\n stxdw [r9+0], r1\n"
	 "mov r2, r0\n sdiv r2, r3\n stxdw [r9+8], r2\n"
	 "mov r4, r0\n smod r4, -1\n stxdw [r9+16], r4\n"
	 "mov r5, r0\n smod r5, r3\n stxdw [r9+24], r5\n"
	 "lddw r6, 0x1234567880000000\n sdiv32 r6, -1\n stxdw [r9+32], r6\n"
	 "lddw r7, 0x1234567880000000\n smod32 r7, r3\n stxdw [r9+40], r7\n"
	 "lddw r8, 0xffffffff80000000\n sdiv32 r8, r3\n stxdw [r9+48], r8\n"
	 "mov r6, -7\n sdiv r6, 2\n stxdw [r9+56], r6\n"
	 "mov r6, -7\n smod r6, 2\n stxdw [r9+64], r6\n"
	 "mov r6, 7\n smod r6, -2\n stxdw [r9+72], r6\n"
	 "mov r6, -7\n smod r6, -2\n stxdw [r9+80], r6\n"
	 "mov r6, -7\n sdiv r6, -2\n stxdw [r9+88], r6\n"
	 "mov32 r6, -7\n sdiv32 r6, 2\n stxdw [r9+96], r6\n"
	 "mov32 r6, -7\n smod32 r6, -2\n stxdw [r9+104], r6\n"
	 "lddw r6, 0xfffffff9\n mov r7, -2\n smod32 r6, r7\n stxdw [r9+112], r6\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"div_mod_by_zero_reg",
	 /* Division by zero gives 0; modulo leaves dst (ALU: its low half). */
	 "mov r9, r1\n"
	 "mov r0, 0\n"
	 "lddw r2, 0x100000000\n" /* zero in the low 32 bits only */
	 "lddw r1, 0x123456789abcdef0\n div r1, r0\n stxdw [r9+0], r1\n"
	 "lddw r1, 0x123456789abcdef0\n mod r1, r0\n stxdw [r9+8], r1\n"
	 "lddw r1, 0x123456789abcdef0\n div32 r1, r0\n stxdw [r9+16], r1\n"
	 "lddw r1, 0x123456789abcdef0\n mod32 r1, r0\n stxdw [r9+24], r1\n"
	 "lddw r1, 0x823456789abcdef0\n sdiv r1, r0\n stxdw [r9+32], r1\n"
	 "lddw r1, 0x823456789abcdef0\n smod r1, r0\n stxdw [r9+40], r1\n"
	 "lddw r1, 0x823456789abcdef0\n sdiv32 r1, r0\n stxdw [r9+48], r1\n"
	 "lddw r1, 0x823456789abcdef0\n smod32 r1, r0\n stxdw [r9+56], r1\n"
	 "lddw r1, 0x123456789abcdef0\n div32 r1, r2\n stxdw [r9+64], r1\n"
	 "lddw r1, 0x123456789abcdef0\n mod32 r1, r2\n stxdw [r9+72], r1\n"
	 "lddw r1, 0x123456789abcdef0\n smod32 r1, r2\n stxdw [r9+80], r1\n"
	 "lddw r1, 0x123456789abcdef0\n div r1, r2\n stxdw [r9+88], r1\n"
	 "lddw r1, 0x123456789abcdef0\n mod r1, r2\n stxdw [r9+96], r1\n"
	 "mov r0, 0\n mod r0, r0\n stxdw [r9+104], r0\n"
	 "mov r0, 0\n div r0, r0\n stxdw [r9+112], r0\n"
	 "mov r0, 5\n"
	 "exit\n"},
	{"shifts",
	 /* Constant shifts up to width-1; register amounts are masked. */
	 "mov r9, r1\n"
	 "lddw r0, 0x8000000000000001\n"
	 "mov r1, r0\n lsh r1, 63\n stxdw [r9+0], r1\n"
	 "mov r1, r0\n rsh r1, 63\n stxdw [r9+8], r1\n"
	 "mov r1, r0\n arsh r1, 63\n stxdw [r9+16], r1\n"
	 "mov r2, 64\n mov r1, r0\n lsh r1, r2\n stxdw [r9+24], r1\n"
	 "mov r2, 65\n mov r1, r0\n rsh r1, r2\n stxdw [r9+32], r1\n"
	 "mov r2, 127\n mov r1, r0\n arsh r1, r2\n stxdw [r9+40], r1\n"
	 "mov r2, -1\n mov r1, r0\n lsh r1, r2\n stxdw [r9+48], r1\n"
	 "mov32 r1, 0x80000001\n lsh32 r1, 31\n stxdw [r9+56], r1\n"
	 "mov32 r1, 0x80000001\n arsh32 r1, 31\n stxdw [r9+64], r1\n"
	 "mov r2, 32\n lddw r1, 0xffffffff80000001\n lsh32 r1, r2\n stxdw [r9+72], r1\n"
	 "mov r2, 33\n lddw r1, 0xffffffff80000001\n rsh32 r1, r2\n stxdw [r9+80], r1\n"
	 "lddw r2, 0x100000023\n lddw r1, 0x0000000080000001\n arsh32 r1, r2\n"
	 "stxdw [r9+88], r1\n"
	 "mov r2, 63\n mov r1, r0\n arsh r1, r2\n stxdw [r9+96], r1\n"
	 "mov r1, r0\n lsh r1, 0\n stxdw [r9+104], r1\n"
	 "lddw r1, 0xfedcba9876543210\n rsh32 r1, 0\n stxdw [r9+112], r1\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"alu32_wrap",
	 /* 32-bit results wrap and zero the upper half; ALU64 imm sign-extends. */
	 "mov r9, r1\n"
	 "mov32 r0, -1\n add32 r0, 1\n stxdw [r9+0], r0\n"
	 "mov r1, 0\n sub32 r1, 1\n stxdw [r9+8], r1\n"
	 "mov32 r2, 0x10001\n mul32 r2, 0x10001\n stxdw [r9+16], r2\n"
	 "mov32 r3, 0x80000000\n neg32 r3\n stxdw [r9+24], r3\n"
	 "lddw r4, 0xdeadbeefcafebabe\n mov32 r5, r4\n stxdw [r9+32], r5\n"
	 "mov r4, 0\n or r4, -1\n stxdw [r9+40], r4\n"
	 "lddw r4, 0x123456789abcdef0\n and r4, 0x80000000\n stxdw [r9+48], r4\n"
	 "lddw r4, 0x123456789abcdef0\n xor32 r4, -1\n stxdw [r9+56], r4\n"
	 "lddw r4, 0x123456789abcdef0\n add r4, -1\n stxdw [r9+64], r4\n"
	 "lddw r4, 0x7fffffffffffffff\n add r4, 1\n stxdw [r9+72], r4\n"
	 "lddw r4, 0xffffffffffffffff\n mul r4, r4\n stxdw [r9+80], r4\n"
	 "lddw r4, 0x8000000000000000\n neg r4\n stxdw [r9+88], r4\n"
	 "mov r4, -1\n div32 r4, 3\n stxdw [r9+96], r4\n"
	 "mov r4, -1\n div r4, -1\n stxdw [r9+104], r4\n" /* unsigned: imm is 2^64-1 */
	 "mov r4, -1\n mod r4, -2\n stxdw [r9+112], r4\n"
	 "mov r0, -1\n" /* r0 truncated to 32 bits by the kernel */
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"movsx",
	 "mov r9, r1\n"
	 "lddw r0, 0x1234567880008080\n"
	 "movsx864 r1, r0\n stxdw [r9+0], r1\n"
	 "movsx1664 r1, r0\n stxdw [r9+8], r1\n"
	 "movsx3264 r1, r0\n stxdw [r9+16], r1\n"
	 "movsx832 r1, r0\n stxdw [r9+24], r1\n"
	 "movsx1632 r1, r0\n stxdw [r9+32], r1\n"
	 "lddw r2, 0xffffffff7f7f7f7f\n"
	 "movsx864 r1, r2\n stxdw [r9+40], r1\n"
	 "movsx1664 r1, r2\n stxdw [r9+48], r1\n"
	 "movsx3264 r1, r2\n stxdw [r9+56], r1\n"
	 "movsx832 r1, r2\n stxdw [r9+64], r1\n"
	 "movsx1632 r1, r2\n stxdw [r9+72], r1\n"
	 "movsx864 r2, r2\n stxdw [r9+80], r2\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"ldsx",
	 /* Sign-extending loads from ctx and from the stack. */
	 "mov r9, r1\n"
	 "lddw r0, 0x7f017f8001808000\n"
	 "stxdw [r9+96], r0\n"
	 "stxdw [r10-8], r0\n"
	 "ldxsb r1, [r9+96]\n stxdw [r9+0], r1\n"
	 "ldxsb r1, [r9+97]\n stxdw [r9+8], r1\n"
	 "ldxsh r1, [r9+96]\n stxdw [r9+16], r1\n"
	 "ldxsh r1, [r9+98]\n stxdw [r9+24], r1\n"
	 "ldxsw r1, [r9+96]\n stxdw [r9+32], r1\n"
	 "ldxsw r1, [r9+100]\n stxdw [r9+40], r1\n"
	 "ldxsb r1, [r10-7]\n stxdw [r9+48], r1\n"
	 "ldxsh r1, [r10-6]\n stxdw [r9+56], r1\n"
	 "ldxsw r1, [r10-8]\n stxdw [r9+64], r1\n"
	 "ldxsw r1, [r10-4]\n stxdw [r9+72], r1\n"
	 "ldxb r1, [r10-7]\n stxdw [r9+80], r1\n"
	 "ldxh r1, [r10-6]\n stxdw [r9+88], r1\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"byte_swaps",
	 "mov r9, r1\n"
	 "lddw r0, 0x0123456789abcdef\n"
	 "mov r1, r0\n be16 r1\n stxdw [r9+0], r1\n"
	 "mov r1, r0\n be32 r1\n stxdw [r9+8], r1\n"
	 "mov r1, r0\n be64 r1\n stxdw [r9+16], r1\n"
	 "mov r1, r0\n le16 r1\n stxdw [r9+24], r1\n"
	 "mov r1, r0\n le32 r1\n stxdw [r9+32], r1\n"
	 "mov r1, r0\n le64 r1\n stxdw [r9+40], r1\n"
	 "mov r1, r0\n bswap16 r1\n stxdw [r9+48], r1\n"
	 "mov r1, r0\n bswap32 r1\n stxdw [r9+56], r1\n"
	 "mov r1, r0\n bswap64 r1\n stxdw [r9+64], r1\n"
	 "ldxdw r2, [r9+72]\n be16 r2\n stxdw [r9+72], r2\n"
	 "ldxdw r2, [r9+80]\n bswap32 r2\n stxdw [r9+80], r2\n"
	 "ldxdw r2, [r9+88]\n le16 r2\n stxdw [r9+88], r2\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"jset_and_signed_jumps",
	 /* Each taken jump skips setting its bit in r0; the operands come from
	 * ctx so the verifier cannot fold them away. */
	 "mov r9, r1\n"
	 "mov r0, 0\n"
	 "lddw r1, 0x8000000000000000\n stxdw [r9+0], r1\n ldxdw r1, [r9+0]\n"
	 "lddw r2, 0x7fffffffffffffff\n stxdw [r9+8], r2\n ldxdw r2, [r9+8]\n"
	 "lddw r3, 0xffffffff00000000\n stxdw [r9+16], r3\n ldxdw r3, [r9+16]\n"
	 "lddw r4, 0x0000000080000000\n stxdw [r9+24], r4\n ldxdw r4, [r9+24]\n"
	 "mov r5, -1\n stxdw [r9+32], r5\n ldxdw r5, [r9+32]\n"
	 "jset r3, 0xffff, l1\n or r0, 0x1\n"
	 "l1: jset32 r3, r3, l2\n or r0, 0x2\n"
	 "l2: jset r3, r1, l3\n or r0, 0x4\n"
	 "l3: jsgt r1, r2, l4\n or r0, 0x8\n"
	 "l4: jslt r1, r2, l5\n or r0, 0x10\n"
	 "l5: jsge r5, 0, l6\n or r0, 0x20\n"
	 "l6: jsle r5, -1, l7\n or r0, 0x40\n"
	 "l7: jgt r5, -1, l8\n or r0, 0x80\n"
	 "l8: jge r5, -1, l9\n or r0, 0x100\n"
	 "l9: jsgt32 r4, 0, l10\n or r0, 0x200\n"
	 "l10: jslt32 r4, r2, l11\n or r0, 0x400\n"
	 "l11: jlt32 r3, 1, l12\n or r0, 0x800\n"
	 "l12: jeq32 r3, 0, l13\n or r0, 0x1000\n"
	 "l13: jne r3, 0, l14\n or r0, 0x2000\n"
	 "l14: jle32 r5, -1, l15\n or r0, 0x4000\n"
	 "l15: jsge32 r2, r4, l16\n or r0, 0x8000\n"
	 "l16: jsgt r2, r1, l17\n or r0, 0x10000\n"
	 "l17: jeq r4, 0x80000000, l18\n or r0, 0x20000\n" /* imm sign-extends: no */
	 "l18: jeq32 r4, 0x80000000, l19\n or r0, 0x40000\n"
	 "l19: jle r1, r2, l20\n or r0, 0x80000\n"
	 "l20: jset32 r1, -1, l21\n or r0, 0x100000\n"
	 "l21: jsle32 r1, r3, l22\n or r0, 0x200000\n"
	 "l22: stxdw [r9+120], r0\n"
	 "exit\n"},
	{"atomics",
	 /* Fetch variants return the old value (zero-extended for 32 bits). */
	 "mov r9, r1\n"
	 "lddw r0, 0xf0f0f0f0f0f0f0f0\n"
	 "stxdw [r10-8], r0\n stxdw [r10-16], r0\n stxdw [r10-24], r0\n"
	 "stxdw [r10-32], r0\n stxdw [r10-40], r0\n stxdw [r10-48], r0\n"
	 "lddw r1, 0x0f0f0f0f8f0f0f11\n"
	 "mov r2, r1\n lock fetch add [r10-8], r2\n stxdw [r9+0], r2\n"
	 "mov r2, r1\n lock fetch add32 [r10-16], r2\n stxdw [r9+8], r2\n"
	 "mov r2, r1\n lock fetch or32 [r10-12], r2\n stxdw [r9+16], r2\n"
	 "mov r2, r1\n lock fetch and [r10-24], r2\n stxdw [r9+24], r2\n"
	 "mov r2, r1\n lock fetch xor32 [r10-32], r2\n stxdw [r9+32], r2\n"
	 "mov r2, r1\n lock xchg [r10-40], r2\n stxdw [r9+40], r2\n"
	 "mov r2, r1\n lock xchg32 [r10-44], r2\n stxdw [r9+48], r2\n"
	 "lock add [r10-48], r1\n lock or32 [r10-48], r1\n"
	 "lock and32 [r10-44], r1\n lock xor [r10-40], r1\n"
	 "ldxdw r3, [r10-8]\n stxdw [r9+56], r3\n"
	 "ldxdw r3, [r10-16]\n stxdw [r9+64], r3\n"
	 "ldxdw r3, [r10-24]\n stxdw [r9+72], r3\n"
	 "ldxdw r3, [r10-32]\n stxdw [r9+80], r3\n"
	 "ldxdw r3, [r10-40]\n stxdw [r9+88], r3\n"
	 "ldxdw r3, [r10-48]\n stxdw [r9+96], r3\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"cmpxchg",
	 /* Success stores r-src; either way r0 receives the old value. The
	 * 32-bit form compares and returns only the low halves. */
	 "mov r9, r1\n"
	 "lddw r1, 0x1111111122222222\n stxdw [r10-8], r1\n stxdw [r10-16], r1\n"
	 "stxdw [r10-24], r1\n stxdw [r10-32], r1\n"
	 "lddw r2, 0x3333333344444444\n"
	 "mov r0, r1\n lock cmpxchg [r10-8], r2\n stxdw [r9+0], r0\n"   /* succeeds */
	 "mov r0, 5\n lock cmpxchg [r10-16], r2\n stxdw [r9+8], r0\n"   /* fails */
	 "lddw r0, 0x9999999922222222\n lock cmpxchg32 [r10-24], r2\n"    /* succeeds */
	 "stxdw [r9+16], r0\n"
	 "lddw r0, 0x1111111111111111\n lock cmpxchg32 [r10-32], r2\n"   /* fails */
	 "stxdw [r9+24], r0\n"
	 "mov r0, 0x44444444\n lock cmpxchg32 [r10-28], r2\n stxdw [r9+32], r0\n"
	 "ldxdw r3, [r10-8]\n stxdw [r9+40], r3\n"
	 "ldxdw r3, [r10-16]\n stxdw [r9+48], r3\n"
	 "ldxdw r3, [r10-24]\n stxdw [r9+56], r3\n"
	 "ldxdw r3, [r10-32]\n stxdw [r9+64], r3\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"local_calls",
	 /* r6..r9 survive calls; each frame has its own stack; r0 returns. */
	 "mov r9, r1\n"
	 "lddw r6, 0x6666666666666666\n lddw r7, 0x7777777777777777\n"
	 "lddw r8, 0x8888888888888888\n"
	 "mov r0, 0x1234\n stxdw [r10-8], r0\n"
	 "mov r1, r9\n mov r2, 40\n mov r3, 2\n"
	 "call local f1\n"
	 "stxdw [r9+0], r0\n stxdw [r9+8], r6\n stxdw [r9+16], r7\n"
	 "stxdw [r9+24], r8\n"
	 "ldxdw r1, [r10-8]\n stxdw [r9+32], r1\n"
	 "exit\n"
	 "f1:\n"
	 "mov r9, r1\n mov r6, -1\n mov r7, -2\n mov r8, -3\n"
	 "stxdw [r10-8], r6\n"
	 "mov r0, r2\n mul r0, r3\n"
	 "mov r6, r0\n mov r1, r9\n mov r2, r0\n"
	 "call local f2\n"
	 "add r0, r6\n ldxdw r1, [r10-8]\n add r0, r1\n"
	 "stxdw [r9+40], r0\n"
	 "exit\n"
	 "f2:\n"
	 "mov r6, r1\n mov r0, r2\n lsh r0, 4\n stxdw [r10-16], r0\n"
	 "ldxdw r0, [r10-16]\n add r0, 7\n stxdw [r6+48], r0\n"
	 "exit\n"},
	{"loops_and_ja32",
	 "mov r9, r1\n"
	 "mov r0, 0\n mov r1, 0\n mov r2, 1\n"
	 "loop: add r0, r1\n mul r2, 3\n add r1, 1\n jlt r1, 8, loop\n"
	 "stxdw [r9+0], r0\n stxdw [r9+8], r2\n"
	 "ldxdw r3, [r9+16]\n"
	 "jgt r3, 5, big\n"
	 "mov r4, 1\n gotol done\n"
	 "big: mov r4, 2\n"
	 "done: stxdw [r9+24], r4\n"
	 "mov32 r5, 3\n"
	 "l2: sub32 r5, 1\n ja32 +0\n jne32 r5, 0, l2\n"
	 "stxdw [r9+32], r5\n"
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
	{"stores_and_loads",
	 /* ST stores sign-extended imm32; narrow stores keep the other bytes. */
	 "mov r9, r1\n"
	 "stdw [r10-8], -1\n stdw [r10-16], 0x7fffffff\n stdw [r10-24], -0x80000000\n"
	 "stw [r10-32], -2\n stw [r10-28], 0x12345678\n"
	 "sth [r10-40], 0x8001\n sth [r10-38], -1\n stw [r10-36], 0\n"
	 "stb [r10-48], 0x80\n stb [r10-47], 0xff\n sth [r10-46], 0x1234\n stw [r10-44], -1\n"
	 "ldxdw r1, [r10-8]\n stxdw [r9+0], r1\n"
	 "ldxdw r1, [r10-16]\n stxdw [r9+8], r1\n"
	 "ldxdw r1, [r10-24]\n stxdw [r9+16], r1\n"
	 "ldxdw r1, [r10-32]\n stxdw [r9+24], r1\n"
	 "ldxdw r1, [r10-40]\n stxdw [r9+32], r1\n"
	 "ldxdw r1, [r10-48]\n stxdw [r9+40], r1\n"
	 "stdw [r9+48], -3\n stw [r9+56], -4\n sth [r9+60], -5\n stb [r9+62], -6\n"
	 "ldxw r1, [r9+64]\n stxdw [r9+64], r1\n"
	 "ldxh r1, [r9+72]\n stxdw [r9+72], r1\n"
	 "ldxb r1, [r9+80]\n stxdw [r9+80], r1\n"
	 "stxb [r9+88], r1\n stxh [r9+90], r1\n stxw [r9+92], r1\n"
	 "lddw r0, 0x100000007\n" /* the kernel reports 7 */
	 "stxdw [r9+120], r0\n"
	 "exit\n"},
};

static int run_hand_cases(void)
{
	uint8_t ctx[HAND_CTX_LEN];
	int n = 0;

	/* A fixed pattern with both signs in every byte position. */
	for (size_t i = 0; i < sizeof(ctx); i++)
		ctx[i] = (uint8_t)(i * 0x9d + 0x35);
	for (size_t i = 0; i < sizeof(hand_cases) / sizeof(hand_cases[0]); i++) {
		const struct hand_case *hc = &hand_cases[i];
		struct visor_insn *insns = NULL;
		size_t count = 0;
		char err[256];
		struct subject s = {.ctx = ctx, .ctx_len = sizeof(ctx)};

		if (visor_asm(hc->text, &insns, &count, err, sizeof(err))) {
			CHECK(0, "case %s does not assemble: %s", hc->name, err);
			continue;
		}
		snprintf(s.label, sizeof(s.label), "case %s", hc->name);
		s.insns = insns;
		s.count = count;
		compare(&s);
		n++;
		free(insns);
	}
	return n;
}

/* ---- Random programs ---------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static int run_random(uint64_t first, uint64_t count, unsigned flags)
{
	int n = 0;

	for (uint64_t seed = first; seed < first + count; seed++) {
		struct randprog p;
		struct subject s = {.random = true};

		if (randprog_generate(seed, flags, &p)) {
			CHECK(0, "seed %" PRIu64 ": out of memory", seed);
			break;
		}
		snprintf(s.label, sizeof(s.label), "seed %" PRIu64, seed);
		s.insns = p.insns;
		s.count = p.count;
		s.ctx = p.ctx;
		s.ctx_len = p.ctx_len;
		compare(&s);
		n++;
		randprog_free(&p);
	}
	return n;
}

/* VISOR_DIFF_ENGINES=name,name... picks engines; by default all of them, the
 * JIT ones where the JIT runs (x86-64). */
static bool pick_engines(void)
{
	const char *list = getenv("VISOR_DIFF_ENGINES");
	bool any = false;

	for (size_t i = 0; i < NENGINES; i++) {
		struct engine *e = &engines[i];

		if (list && *list) {
			const char *p = strstr(list, e->name);
			size_t n = strlen(e->name);

			/* whole names only: "jit" must not pick "jit-harden" */
			while (p && ((p != list && p[-1] != ',') || (p[n] && p[n] != ',')))
				p = strstr(p + 1, e->name);
			e->on = p != NULL;
		} else {
			e->on = e->engine != VISOR_ENGINE_JIT || visor_vm_jit_supported();
		}
		any |= e->on;
	}
	if (!any)
		fprintf(stderr, "%s: VISOR_DIFF_ENGINES=%s names no engine (interp, jit, "
			"jit-harden, jit-verified)\n", NAME, list);
	return any;
}

int main(void)
{
	char why[512];
	uint64_t first = env_u64("VISOR_DIFF_SEED", 1);
	uint64_t count = env_u64("VISOR_DIFF_COUNT", (uint64_t)(3000 * test_scale()));
	unsigned flags = (unsigned)env_u64("VISOR_DIFF_FLAGS", 0);
	struct timespec t0, t1;
	int hand, random;

	if (!kernel_available(why, sizeof(why)))
		return test_skip(NAME, why);
	if (!pick_engines())
		return 1;
	vm = visor_vm_create();
	if (!vm) {
		fprintf(stderr, "%s: out of memory\n", NAME);
		return 1;
	}
	/* Unsafe mode: the engines are compared on every program the kernel
	 * accepts, with their run-time checks; jit-verified runs only what the
	 * visor verifier accepts too. */
	visor_vm_set_unsafe(vm, true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hand = run_hand_cases();
	random = run_random(first, count, flags);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	visor_vm_destroy(vm);

	if (reports > MAX_REPORTS)
		fprintf(stderr, "(%d more failures not shown)\n", reports - MAX_REPORTS);
	printf("%s: compared %d programs (%d hand-written, %d random), %d rejected by the "
	       "kernel verifier\n", NAME, hand + random, hand, random, rejected);
	printf("%s: %d ran in the kernel and visor, %d mismatched, %.1f s; engines:", NAME,
	       compared, mismatched,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (size_t i = 0; i < NENGINES; i++)
		if (engines[i].on)
			printf(" %s (%d mismatched)", engines[i].name, engines[i].mismatched);
	printf("\n");
	printf("%s: %d programs the kernel accepted were refused by the visor verifier (not run "
	       "in jit-verified)\n", NAME, visor_refused);
	return test_summary(NAME);
}
