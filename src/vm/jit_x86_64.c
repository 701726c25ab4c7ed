/* x86-64 backend of the visor JIT.
 *
 * Register mapping. The BPF argument registers are the System V argument
 * registers in order, so a helper call needs no shuffling; r6-r9 live in
 * callee-saved registers, so they survive helper calls for free. This is
 * the Linux x86-64 JIT's mapping, apart from the scratch registers.
 *
 *   BPF   x86-64  role
 *   r0    rax     return value (helpers return in rax too)
 *   r1    rdi     argument 1
 *   r2    rsi     argument 2
 *   r3    rdx     argument 3 (also the high half of div/idiv: saved around)
 *   r4    rcx     argument 4 (also the shift count cl: saved around)
 *   r5    r8      argument 5
 *   r6    rbx     callee-saved
 *   r7    r13     callee-saved
 *   r8    r14     callee-saved
 *   r9    r15     callee-saved
 *   r10   rbp     frame pointer, read-only for programs
 *   -     r9      6th helper argument (the struct visor_vm_run *); scratch
 *   -     r10     scratch: bounds checks, blinded constants (the kernel's AX)
 *   -     r11     scratch: effective addresses, divisors, helper pointers
 *   -     r12     struct visor_jit_ctx * of the run (callee-saved)
 *
 * r10. The BPF stack is not the native stack: it is a 4096-byte array on
 * the C stack of the run (8 frames of 512 bytes). rbp points at the top of
 * the current frame; a local call lowers it by 512 and the return restores
 * it. As in the interpreter, only the frames in use are addressable
 * ([r10 - 512, top), ctx->stack_base follows r10), and each is zeroed when
 * entered. rbp is never a native frame pointer, and programs cannot write
 * r10 (the loader refuses it), so rbp + off with -512 <= off <= -size is
 * inside the stack at every call depth and needs no run-time check.
 *
 * Native stack. The entry point is a function
 * uint64_t entry(struct visor_jit_ctx *ctx) returning r0:
 *
 *   entry:       push rbp, rbx, r12, r13, r14, r15    (fixed size, so a
 *                mov r12, rdi                          tail call can land
 *                mov [r12 + saved_rsp], rsp            at tail_entry with
 *                r1..r5 = ctx->args, r0 = r6..r9 = 0   the same frame)
 *                rbp = ctx->stack_top
 *   tail_entry:  call body
 *   epilogue:    pop r15 .. rbp; ret                   (rax = r0)
 *
 * The program body is "called", so every BPF exit is a plain ret: from the
 * main frame it returns into the epilogue, from a local call to the
 * caller. A local call pushes the caller's r6-r9 and r10 (5 pushes + the
 * return address: 48 bytes, so rsp stays 16-byte aligned for helper calls)
 * and pops them after the ret, which is the interpreter's frame handling.
 * The call depth is read off rbp: a call from a frame whose r10 is at
 * or below the stack array's start + 512 (ctx->stack_limit) would be the
 * ninth. Any error unwinds at once: rsp is
 * reloaded from ctx->saved_rsp and the epilogue returns, with the reason in
 * ctx->status and ctx->pc.
 *
 * Entry points. Each entry is preceded by 16 bytes of int3 (and is
 * 16-byte aligned), never by the start of the mapping or by code: the C
 * caller calls it through a function pointer, and instrumentation of
 * indirect calls reads the bytes just before the callee. clang's
 * -fsanitize=function (part of -fsanitize=undefined since clang 17) loads
 * the 4 bytes at entry - 8 looking for its 0xc105cafe signature prefix
 * (and then entry - 4, the type hash, if found). Entered at offset 0 of
 * its mapping, the code made that load fault whenever the page below was
 * unmapped, which is the usual case with ASLR; behind cold stubs, a
 * program's immediate could have posed as the prefix. The int3 bytes are
 * mapped, are not the prefix, and trap if ever executed.
 *
 * Tail calls (once prog arrays exist) reset rsp from ctx->saved_rsp and rbp
 * from ctx->stack_top, count in ctx->tail_calls, and jump to the target's
 * tail_entry: every program has the same prologue, so its epilogue pops
 * what the first program pushed.
 *
 * Memory checks (unless VISOR_JIT_VERIFIED): the address goes to r11 and is
 * compared with the bounds of the input memory and of the stack frames in
 * use (two cmp/jcc pairs each, against ctx fields); an address in neither
 * goes to an out-of-line stub that calls ctx->slow_access (the registered
 * regions, and the fault report) with every BPF register preserved.
 * r10-based accesses try the stack first, others the input memory.
 *
 * Budget. Each program is compiled twice into one image: without counting
 * (runs without a budget), and with counting. The counting variant splits
 * the code into segments that end at every jump, call, exit and memory
 * access; a segment of n instructions subtracts n from ctx->left on entry,
 * paying for the dispatch of each of its instructions, which is where the
 * interpreter counts. When the charge does not fit, the run stops before
 * the first instruction it cannot pay for; only pure computations come
 * before a segment's last instruction, so stopping at once is exact, and
 * the instruction the error names and insns_executed are the
 * interpreter's.
 *
 * Hardening (VISOR_JIT_HARDEN) loads every non-zero immediate as
 * (imm ^ key) ^ key with a fresh random key per instruction, as the
 * kernel's bpf_jit_blind_constants does, so no user-chosen 32- or 64-bit
 * constant appears in executable memory. */
#if defined(__x86_64__)

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static const uint8_t reg_map[11] = {RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP};

#define AUX R10 /* scratch: checks, blinding */
#define ADR R11 /* scratch: addresses */
#define TMP R9  /* scratch: 6th helper argument */
#define CTX R12

#define CTX_OFF(f) ((int32_t)offsetof(struct visor_jit_ctx, f))

/* Condition codes (the low nibble of jcc). */
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7, CC_S = 8, CC_L = 0xc, CC_GE = 0xd,
       CC_LE = 0xe, CC_G = 0xf, CC_JMP = -1 };

/* ModRM.reg extensions of the group-1 ALU (0x81/0x83) and shift opcodes. */
enum { X_ADD = 0, X_OR = 1, X_AND = 4, X_SUB = 5, X_XOR = 6, X_CMP = 7 };
enum { S_ROL = 0, S_SHL = 4, S_SHR = 5, S_SAR = 7 };

/* ALU operation kinds in VISOR_VM_OPS order (ADD64_K, ADD64_X, SUB64_K ...). */
enum { A_ADD, A_SUB, A_MUL, A_DIV, A_SDIV, A_MOD, A_SMOD, A_OR, A_AND, A_LSH, A_RSH, A_ARSH,
       A_XOR, A_MOV };
_Static_assert(VM_OP_MOV64_X - VM_OP_ADD64_K == 2 * A_MOV + 1, "ALU64 op order");
_Static_assert(VM_OP_MOV32_X - VM_OP_ADD32_K == 2 * A_MOV + 1, "ALU32 op order");
_Static_assert(VM_OP_SMOD64_K - VM_OP_ADD64_K == 2 * A_SMOD, "ALU64 op order");
_Static_assert(VM_OP_JSLE_X - VM_OP_JEQ_K == 21 && VM_OP_JSLE32_X - VM_OP_JEQ32_K == 21,
	       "jump op order");
_Static_assert(CTX_OFF(stack_limit) < 128 && CTX_OFF(left) < 128, "hot ctx fields in disp8");

/* Conditions of JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, JLT, JLE, JSLT, JSLE. */
static const int8_t jmp_cc[11] = {CC_E, CC_A, CC_AE, CC_NE, CC_NE, CC_G, CC_GE, CC_B, CC_BE, CC_L,
				  CC_LE};
#define J_SET 3

enum cold_kind { COLD_ACCESS, COLD_STATUS, COLD_MISALIGNED, COLD_BUDGET };

struct cold {
	uint8_t kind, status;
	uint8_t reg; /* access: the register holding the address, if not r11 */
	uint32_t pc;
	uint32_t arg;  /* access info; budget: segment length */
	int label, resume;
};

struct fixup {
	uint32_t pos; /* of a 32-bit displacement */
	int32_t label;
};

struct jit {
	const struct visor_vm *vm;
	const struct visor_vm_slot *slots;
	size_t count;
	bool checked, harden, bmi2, budget;
	uint64_t rng;

	uint8_t *buf;
	size_t len, cap;
	/* Where code goes once memory ran out: emitting goes on (so emitters
	 * need no checks) and the result is thrown away. */
	uint8_t sink[1024];

	int64_t *lab; /* label addresses in this pass, -1 = not bound yet */
	size_t nlab, cap_lab;
	struct fixup *fix;
	size_t nfix, cap_fix;
	struct cold *cold;
	size_t ncold, cap_cold;

	uint32_t *seg_n; /* per pc: instructions in the segment it starts, 0 = none */
	/* Callbacks: the stub of each variant, the offsets of the targets. */
	size_t cb_stub[2];
	uint32_t *cb_entry;

	/* Common stubs of the current variant. */
	int l_body, l_epilogue, l_error_exit, l_oob, l_misaligned, l_access_slow, l_frame_zero,
	    l_frame_enter, l_frame_set;
	int l_status[JIT_ST_FALL_OFF + 1];
	int err;
};

/* ---- buffer and labels --------------------------------------------------- */

/* Every emitter is preceded by one call to need(), with room for the
 * largest sequence one instruction produces, so the byte writers do not
 * check. The buffer starts at the program's bound (code_bound), so it
 * only grows when the tests ask for a tiny one. */
static void need(struct jit *j, size_t n)
{
	if (j->buf == j->sink) {
		j->len = 0;
		return;
	}
	if (j->len + n <= j->cap)
		return;
	size_t cap = j->cap ? j->cap : 4096;
	while (cap < j->len + n)
		cap *= 2;
	uint8_t *b = realloc(j->buf, cap);
	if (!b) {
		j->err = -ENOMEM;
		free(j->buf);
		j->buf = j->sink;
		j->cap = sizeof(j->sink);
		j->len = 0;
		return;
	}
	j->buf = b;
	j->cap = cap;
}

static inline void e1(struct jit *j, unsigned v) { j->buf[j->len++] = (uint8_t)v; }
static inline void e2(struct jit *j, unsigned v) { uint16_t x = (uint16_t)v; memcpy(j->buf + j->len, &x, 2); j->len += 2; }
static inline void e4(struct jit *j, uint32_t v) { memcpy(j->buf + j->len, &v, 4); j->len += 4; }
static inline void e8(struct jit *j, uint64_t v) { memcpy(j->buf + j->len, &v, 8); j->len += 8; }

static inline __attribute__((always_inline)) int new_label(struct jit *j)
{
	if (j->nlab == j->cap_lab) {
		size_t cap = j->cap_lab ? j->cap_lab * 2 : 256;
		int64_t *l = realloc(j->lab, cap * sizeof(*l));
		if (!l) {
			j->err = -ENOMEM;
			return 0;
		}
		j->lab = l;
		j->cap_lab = cap;
	}
	j->lab[j->nlab] = -1;
	return (int)j->nlab++;
}

static inline void bind(struct jit *j, int label) { j->lab[label] = (int64_t)j->len; }

static inline __attribute__((always_inline)) int add_cold(struct jit *j, enum cold_kind kind, uint32_t pc, uint32_t arg, int resume)
{
	if (j->ncold == j->cap_cold) {
		size_t cap = j->cap_cold ? j->cap_cold * 2 : 64;
		struct cold *c = realloc(j->cold, cap * sizeof(*c));
		if (!c) {
			j->err = -ENOMEM;
			return 0;
		}
		j->cold = c;
		j->cap_cold = cap;
	}
	int label = new_label(j);
	j->cold[j->ncold++] = (struct cold){.kind = (uint8_t)kind, .pc = pc, .arg = arg,
					    .reg = ADR, .label = label, .resume = resume};
	return label;
}

static inline __attribute__((always_inline)) void add_fixup(struct jit *j, int label)
{
	if (j->nfix == j->cap_fix) {
		size_t cap = j->cap_fix ? j->cap_fix * 2 : 256;
		struct fixup *f = realloc(j->fix, cap * sizeof(*f));
		if (!f) {
			j->err = -ENOMEM;
			return;
		}
		j->fix = f;
		j->cap_fix = cap;
	}
	j->fix[j->nfix++] = (struct fixup){.pos = (uint32_t)j->len, .label = label};
}

/* A jump (cc = CC_JMP) or conditional jump to label: short backward when
 * it fits, else long (forward jumps are patched once the label is bound).
 * A second pass could shorten forward jumps too; measured, it bought no
 * speed and doubled the compile time. Jumps inside one instruction's
 * sequence are short: see jmp8. */
static inline __attribute__((always_inline)) void jmp_to(struct jit *j, int cc, int label)
{
	int64_t target = j->lab[label];

	if (target >= 0) {
		int64_t d = target - (int64_t)(j->len + 2);
		if (d >= -128) {
			e1(j, cc == CC_JMP ? 0xeb : 0x70 | cc);
			e1(j, (uint8_t)d);
			return;
		}
	}
	if (cc == CC_JMP) {
		e1(j, 0xe9);
	} else {
		e1(j, 0x0f);
		e1(j, 0x80 | cc);
	}
	if (target >= 0) {
		e4(j, (uint32_t)(target - (int64_t)(j->len + 4)));
	} else {
		add_fixup(j, label);
		e4(j, 0);
	}
}

/* A short forward jump within one instruction's sequence: emitted with a
 * zero displacement and set by land8 where it lands. */
static inline __attribute__((always_inline)) size_t jmp8(struct jit *j, int cc)
{
	e1(j, cc == CC_JMP ? 0xeb : 0x70 | cc);
	e1(j, 0);
	return j->len;
}

static inline __attribute__((always_inline)) void land8(struct jit *j, size_t after)
{
	size_t d = j->len - after;
	if (d > 127) {
		j->err = -EFAULT; /* a bug: the sequence grew */
		return;
	}
	j->buf[after - 1] = (uint8_t)d;
}

static inline __attribute__((always_inline)) void call_to(struct jit *j, int label)
{
	e1(j, 0xe8);
	if (j->lab[label] >= 0) {
		e4(j, (uint32_t)(j->lab[label] - (int64_t)(j->len + 4)));
	} else {
		add_fixup(j, label);
		e4(j, 0);
	}
}

static void resolve_fixups(struct jit *j)
{
	for (size_t i = 0; i < j->nfix && !j->err; i++) {
		const struct fixup *f = &j->fix[i];
		if (j->lab[f->label] < 0) {
			j->err = -EFAULT; /* a bug: jump to a label never bound */
			return;
		}
		int32_t d = (int32_t)(j->lab[f->label] - (int64_t)(f->pos + 4));
		memcpy(j->buf + f->pos, &d, 4);
	}
}

/* ---- instruction encoding ------------------------------------------------ */

/* REX for operand width w, ModRM.reg r and ModRM.rm / base b. force: a
 * byte operand in spl/bpl/sil/dil, which exist only with a REX prefix. */
static inline __attribute__((always_inline)) void rexf(struct jit *j, bool w, int r, int b, bool force)
{
	unsigned v = 0x40 | (unsigned)w << 3 | (unsigned)(r >> 3) << 2 | (unsigned)(b >> 3);
	if (v != 0x40 || force)
		e1(j, v);
}
static inline void rex(struct jit *j, bool w, int r, int b) { rexf(j, w, r, b, false); }

static inline __attribute__((always_inline)) void modrm_rr(struct jit *j, int r, int rm) { e1(j, 0xc0 | (r & 7) << 3 | (rm & 7)); }

static inline __attribute__((always_inline)) void modrm_mem(struct jit *j, int r, int base, int32_t disp)
{
	int mod = disp == 0 && (base & 7) != RBP ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
	e1(j, (unsigned)(mod << 6 | (r & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP)
		e1(j, 0x24); /* SIB: base only */
	if (mod == 1)
		e1(j, (uint8_t)disp);
	else if (mod == 2)
		e4(j, (uint32_t)disp);
}

/* opc r/m, reg with a register r/m (add 01, or 09, and 21, sub 29, xor 31,
 * cmp 39, test 85, mov 89). */
static inline __attribute__((always_inline)) void op_rr(struct jit *j, bool w, unsigned opc, int rm, int reg)
{
	rex(j, w, reg, rm);
	e1(j, opc);
	modrm_rr(j, reg, rm);
}

/* opc reg, [base + disp] or opc [base + disp], reg */
static inline __attribute__((always_inline)) void op_rm(struct jit *j, bool w, unsigned opc, int reg, int base, int32_t disp)
{
	rex(j, w, reg, base);
	e1(j, opc);
	modrm_mem(j, reg, base, disp);
}

static inline bool fits8(int64_t v) { return v >= -128 && v <= 127; }

static inline __attribute__((always_inline)) void alu_ri(struct jit *j, bool w, int ext, int rm, int32_t imm)
{
	rex(j, w, 0, rm);
	if (fits8(imm)) {
		e1(j, 0x83);
		modrm_rr(j, ext, rm);
		e1(j, (uint8_t)imm);
	} else {
		e1(j, 0x81);
		modrm_rr(j, ext, rm);
		e4(j, (uint32_t)imm);
	}
}

static inline __attribute__((always_inline)) void alu_mi(struct jit *j, bool w, int ext, int base, int32_t disp, int32_t imm)
{
	rex(j, w, 0, base);
	e1(j, fits8(imm) ? 0x83 : 0x81);
	modrm_mem(j, ext, base, disp);
	if (fits8(imm))
		e1(j, (uint8_t)imm);
	else
		e4(j, (uint32_t)imm);
}

static inline void mov_rr(struct jit *j, bool w, int dst, int src) { op_rr(j, w, 0x89, dst, src); }

static inline void zero(struct jit *j, int r) { op_rr(j, false, 0x31, r, r); }

/* r = imm (64-bit value). */
static inline __attribute__((always_inline)) void mov_ri(struct jit *j, int r, uint64_t imm)
{
	if (imm == 0) {
		zero(j, r);
	} else if (imm <= UINT32_MAX) {
		rex(j, false, 0, r);
		e1(j, 0xb8 | (r & 7));
		e4(j, (uint32_t)imm);
	} else if ((int64_t)imm >= INT32_MIN && (int64_t)imm <= INT32_MAX) {
		rex(j, true, 0, r);
		e1(j, 0xc7);
		modrm_rr(j, 0, r);
		e4(j, (uint32_t)imm);
	} else {
		rex(j, true, 0, r);
		e1(j, 0xb8 | (r & 7));
		e8(j, imm);
	}
}

static uint64_t rnd64(struct jit *j)
{
	/* splitmix64: the keys only need to be unpredictable from outside. */
	uint64_t z = (j->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_key32(struct jit *j)
{
	uint32_t k;
	do
		k = (uint32_t)rnd64(j);
	while (!k);
	return k;
}

/* r = imm (sign-extended when w) in two fixed-size instructions that never
 * show imm: mov r, imm ^ key; xor r, key. */
static inline __attribute__((always_inline)) void blind_mov(struct jit *j, bool w, int r, int32_t imm)
{
	uint32_t key = rnd_key32(j);
	if (w) {
		rex(j, true, 0, r);
		e1(j, 0xc7);
		modrm_rr(j, 0, r);
	} else {
		rex(j, false, 0, r);
		e1(j, 0xb8 | (r & 7));
	}
	e4(j, (uint32_t)imm ^ key);
	rex(j, w, 0, r);
	e1(j, 0x81);
	modrm_rr(j, X_XOR, r);
	e4(j, key);
}

static inline __attribute__((always_inline)) void shift_ri(struct jit *j, bool w, int ext, int rm, unsigned n)
{
	rex(j, w, 0, rm);
	if (n == 1) {
		e1(j, 0xd1);
		modrm_rr(j, ext, rm);
	} else {
		e1(j, 0xc1);
		modrm_rr(j, ext, rm);
		e1(j, n);
	}
}

static inline __attribute__((always_inline)) void shift_cl(struct jit *j, bool w, int ext, int rm)
{
	rex(j, w, 0, rm);
	e1(j, 0xd3);
	modrm_rr(j, ext, rm);
}

static inline __attribute__((always_inline)) void push(struct jit *j, int r)
{
	if (r >= 8)
		e1(j, 0x41);
	e1(j, 0x50 | (r & 7));
}

static inline __attribute__((always_inline)) void pop(struct jit *j, int r)
{
	if (r >= 8)
		e1(j, 0x41);
	e1(j, 0x58 | (r & 7));
}

/* dst = *(size *)(base + disp), zero- or sign-extended. */
static inline __attribute__((always_inline)) void emit_load(struct jit *j, int lg, bool sx, int dst, int base, int32_t disp)
{
	switch (lg) {
	case 0:
	case 1:
		rex(j, sx, dst, base);
		e1(j, 0x0f);
		e1(j, (sx ? 0xbe : 0xb6) | (unsigned)lg);
		break;
	case 2:
		rex(j, sx, dst, base);
		e1(j, sx ? 0x63 : 0x8b);
		break;
	default:
		rex(j, true, dst, base);
		e1(j, 0x8b);
		break;
	}
	modrm_mem(j, dst, base, disp);
}

static inline __attribute__((always_inline)) void load64(struct jit *j, int dst, int base, int32_t disp)
{
	emit_load(j, 3, false, dst, base, disp);
}

static inline __attribute__((always_inline)) void emit_store_r(struct jit *j, int lg, int base, int32_t disp, int src)
{
	if (lg == 1)
		e1(j, 0x66);
	rexf(j, lg == 3, src, base, lg == 0 && src >= 4 && src <= 7);
	e1(j, lg == 0 ? 0x88 : 0x89);
	modrm_mem(j, src, base, disp);
}

static inline __attribute__((always_inline)) void emit_store_i(struct jit *j, int lg, int base, int32_t disp, int32_t imm)
{
	if (lg == 1)
		e1(j, 0x66);
	rex(j, lg == 3, 0, base);
	e1(j, lg == 0 ? 0xc6 : 0xc7);
	modrm_mem(j, 0, base, disp);
	if (lg == 0)
		e1(j, (uint8_t)imm);
	else if (lg == 1)
		e2(j, (uint16_t)imm);
	else
		e4(j, (uint32_t)imm);
}

/* BMI2 shlx/shrx/sarx dst, val, cnt: no need for cl. pp: 1 = 66 (shlx),
 * 2 = F3 (sarx), 3 = F2 (shrx). */
static void shiftx(struct jit *j, unsigned pp, bool w, int dst, int val, int cnt)
{
	e1(j, 0xc4);
	e1(j, (unsigned)((~dst >> 3) & 1) << 7 | 1 << 6 | (unsigned)((~val >> 3) & 1) << 5 | 0x02);
	e1(j, (unsigned)w << 7 | (unsigned)(~cnt & 15) << 3 | pp);
	e1(j, 0xf7);
	modrm_rr(j, dst, val);
}

/* ---- ALU ----------------------------------------------------------------- */

/* dst op= src for div/mod; the divisor is a register (never r9). check_zero
 * and check_m1: emit the run-time tests for divisor 0 and -1. */
static void emit_div(struct jit *j, int kind, bool w, int dst, int src, bool check_zero,
		     bool check_m1)
{
	bool sgn = kind == A_SDIV || kind == A_SMOD;
	bool mod = kind == A_MOD || kind == A_SMOD;
	size_t to_zero = 0, to_m1 = 0, to_done = 0, to_done2 = 0;

	if (check_zero) {
		op_rr(j, w, 0x85, src, src);
		to_zero = jmp8(j, CC_E);
	}
	if (sgn && check_m1) {
		alu_ri(j, w, X_CMP, src, -1);
		to_m1 = jmp8(j, CC_E);
	}
	if (src != ADR)
		mov_rr(j, true, ADR, src);
	if (dst != RAX)
		mov_rr(j, true, TMP, RAX);
	if (dst != RDX)
		mov_rr(j, true, AUX, RDX);
	if (dst != RAX)
		mov_rr(j, w, RAX, dst);
	if (sgn) {
		if (w)
			e1(j, 0x48);
		e1(j, 0x99); /* cqo / cdq */
	} else {
		zero(j, RDX);
	}
	rex(j, w, 0, ADR);
	e1(j, 0xf7);
	modrm_rr(j, sgn ? 7 : 6, ADR);
	int res = mod ? RDX : RAX;
	if (dst != res)
		mov_rr(j, w, dst, res);
	if (dst != RAX)
		mov_rr(j, true, RAX, TMP);
	if (dst != RDX)
		mov_rr(j, true, RDX, AUX);
	if (!to_zero && !to_m1)
		return;
	to_done = jmp8(j, CC_JMP);
	if (to_zero) {
		/* div by 0 = 0; mod by 0 leaves dst (zero-extended in 32 bits). */
		land8(j, to_zero);
		if (!mod)
			zero(j, dst);
		else if (!w)
			mov_rr(j, false, dst, dst);
		if (to_m1)
			to_done2 = jmp8(j, CC_JMP);
	}
	if (to_m1) {
		/* x / -1 = -x (INT_MIN stays INT_MIN); x % -1 = 0: no #DE. */
		land8(j, to_m1);
		if (!mod) {
			rex(j, w, 0, dst);
			e1(j, 0xf7);
			modrm_rr(j, 3, dst);
		} else {
			zero(j, dst);
		}
	}
	land8(j, to_done);
	if (to_done2)
		land8(j, to_done2);
}

static void emit_div_k(struct jit *j, int kind, bool w, int dst, uint64_t imm)
{
	bool sgn = kind == A_SDIV || kind == A_SMOD;
	bool mod = kind == A_MOD || kind == A_SMOD;
	uint64_t v = w ? imm : (uint32_t)imm;

	if (v == 0) {
		if (!mod)
			zero(j, dst);
		else if (!w)
			mov_rr(j, false, dst, dst);
		return;
	}
	if (sgn && v == (w ? UINT64_MAX : UINT32_MAX)) {
		if (!mod) {
			rex(j, w, 0, dst);
			e1(j, 0xf7);
			modrm_rr(j, 3, dst);
		} else {
			zero(j, dst);
		}
		return;
	}
	if (!sgn && !(v & (v - 1))) {
		unsigned sh = (unsigned)__builtin_ctzll(v);
		if (mod)
			alu_ri(j, w, X_AND, dst, (int32_t)(v - 1));
		else if (sh)
			shift_ri(j, w, S_SHR, dst, sh);
		else if (!w)
			mov_rr(j, false, dst, dst);
		return;
	}
	mov_ri(j, ADR, w ? imm : (uint32_t)imm);
	emit_div(j, kind, w, dst, ADR, false, false);
}

/* dst <<= / >>= src with the count in a register. */
static void emit_shift_x(struct jit *j, int kind, bool w, int dst, int src)
{
	int ext = kind == A_LSH ? S_SHL : kind == A_RSH ? S_SHR : S_SAR;
	if (j->bmi2) {
		shiftx(j, kind == A_LSH ? 1 : kind == A_RSH ? 3 : 2, w, dst, dst, src);
		return;
	}
	if (src == RCX) {
		shift_cl(j, w, ext, dst);
		return;
	}
	mov_rr(j, true, ADR, RCX);
	mov_rr(j, true, RCX, src);
	if (dst == RCX) {
		shift_cl(j, w, ext, ADR);
		mov_rr(j, w, RCX, ADR);
	} else {
		shift_cl(j, w, ext, dst);
		mov_rr(j, true, RCX, ADR);
	}
}

static void emit_alu(struct jit *j, int kind, bool w, bool is_k, int dst, int src, int32_t imm,
		     uint64_t imm64)
{
	static const uint8_t opc[] = {[A_ADD] = 0x01, [A_SUB] = 0x29, [A_OR] = 0x09,
				      [A_AND] = 0x21, [A_XOR] = 0x31};
	static const uint8_t ext[] = {[A_ADD] = X_ADD, [A_SUB] = X_SUB, [A_OR] = X_OR,
				      [A_AND] = X_AND, [A_XOR] = X_XOR};

	if (is_k && kind == A_MOV) {
		if (j->harden && imm)
			blind_mov(j, w, dst, imm);
		else
			mov_ri(j, dst, w ? (uint64_t)(int64_t)imm : (uint32_t)imm);
		return;
	}
	if (is_k && j->harden && imm) {
		blind_mov(j, w, AUX, imm);
		is_k = false;
		src = AUX;
	}
	switch (kind) {
	case A_ADD:
	case A_SUB:
	case A_OR:
	case A_AND:
	case A_XOR:
		if (is_k)
			alu_ri(j, w, ext[kind], dst, imm);
		else
			op_rr(j, w, opc[kind], dst, src);
		return;
	case A_MOV:
		if (dst != src || !w)
			mov_rr(j, w, dst, src);
		return;
	case A_MUL:
		if (is_k) {
			rex(j, w, dst, dst);
			e1(j, fits8(imm) ? 0x6b : 0x69);
			modrm_rr(j, dst, dst);
			if (fits8(imm))
				e1(j, (uint8_t)imm);
			else
				e4(j, (uint32_t)imm);
		} else {
			rex(j, w, dst, src);
			e1(j, 0x0f);
			e1(j, 0xaf);
			modrm_rr(j, dst, src);
		}
		return;
	case A_LSH:
	case A_RSH:
	case A_ARSH:
		if (is_k) {
			unsigned n = (unsigned)imm & (w ? 63 : 31);
			if (n)
				shift_ri(j, w, kind == A_LSH ? S_SHL : kind == A_RSH ? S_SHR : S_SAR,
					 dst, n);
			else if (!w)
				mov_rr(j, false, dst, dst);
		} else {
			emit_shift_x(j, kind, w, dst, src);
		}
		return;
	default: /* div, mod and their signed forms */
		if (is_k)
			emit_div_k(j, kind, w, dst, imm64);
		else
			emit_div(j, kind, w, dst, src, true, true);
		return;
	}
}

/* ---- memory -------------------------------------------------------------- */

/* cmp reg, [r12 + field] */
static inline __attribute__((always_inline)) void cmp_ctx(struct jit *j, int reg, int32_t field)
{
	op_rm(j, true, 0x3b, reg, CTX, field);
}

/* Checks the access [base + off] of 1 << lg bytes (unless it needs no
 * check) and says which base register and displacement to use for it. */
static void emit_check(struct jit *j, uint32_t pc, int bpf_base, int16_t off, int lg, bool write,
		       bool force_adr, int *mb, int32_t *md)
{
	int base = reg_map[bpf_base];
	unsigned size = 1u << lg;

	if (!j->checked || (bpf_base == 10 && off >= -VISOR_STACK_FRAME && off <= -(int)size)) {
		/* Unchecked, or inside the stack at any call depth. */
		if (force_adr) {
			op_rm(j, true, 0x8d, ADR, base, off);
			*mb = ADR;
			*md = 0;
		} else {
			*mb = base;
			*md = off;
		}
		return;
	}
	/* [reg + 0] is checked on reg itself; the slow path copies it to r11. */
	int a = off || force_adr ? ADR : base;
	if (off)
		op_rm(j, true, 0x8d, ADR, base, off); /* lea r11, [base + off] */
	else if (a == ADR)
		mov_rr(j, true, ADR, base);
	int ok = new_label(j); /* where the slow path resumes */
	int cold = add_cold(j, COLD_ACCESS, pc, JIT_ACCESS_INFO(pc, lg, write), ok);
	j->cold[j->ncold - 1].reg = (uint8_t)a;
	int32_t lo1 = CTX_OFF(stack_base), hi1 = CTX_OFF(stack_end) + 8 * lg;
	int32_t lo2 = CTX_OFF(mem_lo), hi2 = CTX_OFF(mem_hi) + 8 * lg;
	if (bpf_base != 10) {
		lo1 = CTX_OFF(mem_lo), hi1 = CTX_OFF(mem_hi) + 8 * lg;
		lo2 = CTX_OFF(stack_base), hi2 = CTX_OFF(stack_end) + 8 * lg;
	}
	cmp_ctx(j, a, lo1);
	size_t to_second = jmp8(j, CC_B);
	cmp_ctx(j, a, hi1);
	size_t to_ok = jmp8(j, CC_BE);
	land8(j, to_second);
	cmp_ctx(j, a, lo2);
	jmp_to(j, CC_B, cold);
	cmp_ctx(j, a, hi2);
	jmp_to(j, CC_A, cold);
	land8(j, to_ok);
	bind(j, ok);
	*mb = a;
	*md = 0;
}

/* Legacy packet loads: r0 = big-endian value at packet[off], where off is
 * imm (LD_ABS) or (int32)(src + imm) (LD_IND); out of bounds ends the run
 * with r0 = 0. */
static void emit_ldpkt(struct jit *j, const struct visor_vm_slot *s, bool ind, int lg)
{
	unsigned size = 1u << lg;
	int32_t imm = (int32_t)s->imm;
	int32_t disp = 0;

	if (!ind && !j->harden && imm < 0) {
		jmp_to(j, CC_JMP, j->l_oob); /* never inside */
		return;
	}
	if (!ind && !j->harden && (int64_t)imm + size <= INT32_MAX) {
		alu_mi(j, true, X_CMP, CTX, CTX_OFF(packet_len), imm + (int32_t)size);
		jmp_to(j, CC_B, j->l_oob);
		load64(j, ADR, CTX, CTX_OFF(packet));
		disp = imm;
	} else {
		/* r10d = offset, wrapping in 32 bits as the interpreter */
		if (ind) {
			mov_rr(j, false, AUX, reg_map[s->src]);
			if (imm && j->harden) {
				blind_mov(j, false, TMP, imm);
				op_rr(j, false, 0x01, AUX, TMP);
			} else if (imm) {
				alu_ri(j, false, X_ADD, AUX, imm);
			}
		} else if (imm && j->harden) {
			blind_mov(j, false, AUX, imm);
		} else {
			mov_ri(j, AUX, (uint32_t)imm);
		}
		op_rr(j, false, 0x85, AUX, AUX);
		jmp_to(j, CC_S, j->l_oob); /* negative */
		load64(j, ADR, CTX, CTX_OFF(packet_len));
		alu_ri(j, true, X_SUB, ADR, (int32_t)size);
		jmp_to(j, CC_B, j->l_oob);
		op_rr(j, true, 0x39, ADR, AUX); /* len - size < off? */
		jmp_to(j, CC_B, j->l_oob);
		load64(j, ADR, CTX, CTX_OFF(packet));
		op_rr(j, true, 0x01, ADR, AUX);
	}
	emit_load(j, lg == 1 ? 1 : lg, false, RAX, ADR, disp);
	if (lg == 1) {
		e1(j, 0x66); /* rol ax, 8 */
		shift_ri(j, false, S_ROL, RAX, 8);
	} else if (lg >= 2) {
		rex(j, lg == 3, 0, RAX); /* bswap */
		e1(j, 0x0f);
		e1(j, 0xc8);
	}
}

static void emit_atomic(struct jit *j, uint32_t pc, const struct visor_vm_slot *s)
{
	bool w = s->op == VM_OP_ATOMIC64;
	int lg = w ? 3 : 2;
	int src = reg_map[s->src];
	int mb;
	int32_t md;

	emit_check(j, pc, s->dst, (int16_t)s->target, lg, true, true, &mb, &md);
	if (j->checked) {
		/* test r11b, size - 1 */
		e1(j, 0x41);
		e1(j, 0xf6);
		modrm_rr(j, 0, ADR);
		e1(j, (1u << lg) - 1);
		int cold = add_cold(j, COLD_MISALIGNED, pc, 0, -1);
		jmp_to(j, CC_NE, cold);
	}
	uint8_t op = s->aux;
	switch (op) {
	case VISOR_ATOMIC_ADD:
	case VISOR_ATOMIC_OR:
	case VISOR_ATOMIC_AND:
	case VISOR_ATOMIC_XOR: {
		unsigned opc = op == VISOR_ATOMIC_ADD ? 0x01 : op == VISOR_ATOMIC_OR ? 0x09 :
			       op == VISOR_ATOMIC_AND ? 0x21 : 0x31;
		e1(j, 0xf0);
		op_rm(j, w, opc, src, ADR, 0);
		return;
	}
	case VISOR_ATOMIC_ADD | VISOR_ATOMIC_FETCH:
		e1(j, 0xf0); /* lock xadd [r11], src */
		rex(j, w, src, ADR);
		e1(j, 0x0f);
		e1(j, 0xc1);
		modrm_mem(j, src, ADR, 0);
		return;
	case VISOR_ATOMIC_XCHG:
		op_rm(j, w, 0x87, src, ADR, 0); /* xchg locks by itself */
		return;
	case VISOR_ATOMIC_CMPXCHG:
		e1(j, 0xf0);
		rex(j, w, src, ADR);
		e1(j, 0x0f);
		e1(j, 0xb1);
		modrm_mem(j, src, ADR, 0);
		if (!w)
			mov_rr(j, false, RAX, RAX); /* r0 is zero-extended either way */
		return;
	default: {
		/* fetch-or/and/xor: a cmpxchg loop on rax, with r0 kept in r10. */
		unsigned opc = (op & ~VISOR_ATOMIC_FETCH) == VISOR_ATOMIC_OR ? 0x09 :
			       (op & ~VISOR_ATOMIC_FETCH) == VISOR_ATOMIC_AND ? 0x21 : 0x31;
		int operand = src == RAX ? AUX : src;
		mov_rr(j, true, AUX, RAX);
		emit_load(j, lg, false, RAX, ADR, 0);
		int loop = new_label(j);
		bind(j, loop);
		mov_rr(j, true, TMP, RAX);
		op_rr(j, w, opc, TMP, operand);
		e1(j, 0xf0);
		rex(j, w, TMP, ADR);
		e1(j, 0x0f);
		e1(j, 0xb1);
		modrm_mem(j, TMP, ADR, 0);
		jmp_to(j, CC_NE, loop);
		if (src != RAX) {
			mov_rr(j, w, src, RAX);
			mov_rr(j, true, RAX, AUX);
		}
		return;
	}
	}
}

/* ---- calls --------------------------------------------------------------- */

static void emit_helper_call(struct jit *j, uint32_t pc, uint32_t id)
{
	if (id >= VISOR_MAX_HELPERS) {
		mov_ri(j, AUX, pc);
		jmp_to(j, CC_JMP, j->l_status[JIT_ST_NO_HELPER]);
		return;
	}
	/* The table is read at run time, as the interpreter does: helpers
	 * registered after compiling are called too. */
	load64(j, ADR, CTX, CTX_OFF(helpers));
	load64(j, ADR, ADR,
	       (int32_t)(id * sizeof(struct visor_vm_helper) + offsetof(struct visor_vm_helper, fn)));
	op_rr(j, true, 0x85, ADR, ADR);
	int cold = add_cold(j, COLD_STATUS, pc, 0, -1);
	j->cold[j->ncold - 1].status = JIT_ST_NO_HELPER;
	jmp_to(j, CC_E, cold);
	/* The interpreter keeps r1-r5 across a helper call; so do we. Five
	 * pushes and rsp - 8 keep the 16-byte alignment of the call. */
	push(j, RDI);
	push(j, RSI);
	push(j, RDX);
	push(j, RCX);
	push(j, R8);
	load64(j, TMP, CTX, CTX_OFF(run));
	alu_ri(j, true, X_SUB, RSP, 8);
	e1(j, 0x41); /* call r11 */
	e1(j, 0xff);
	modrm_rr(j, 2, ADR);
	alu_ri(j, true, X_ADD, RSP, 8);
	pop(j, R8);
	pop(j, RCX);
	pop(j, RDX);
	pop(j, RSI);
	pop(j, RDI);
	/* cmp byte [run->stopped], 0 */
	load64(j, ADR, CTX, CTX_OFF(run));
	rex(j, false, 0, ADR);
	e1(j, 0x80);
	modrm_mem(j, 7, ADR, (int32_t)offsetof(struct visor_vm_run, stopped));
	e1(j, 0);
	cold = add_cold(j, COLD_STATUS, pc, 0, -1);
	j->cold[j->ncold - 1].status = JIT_ST_HELPER_STOP;
	jmp_to(j, CC_NE, cold);
}

static void emit_local_call(struct jit *j, uint32_t pc, int target)
{
	/* Depth: r10 at or below stack_base + 512 means 8 frames in use. */
	op_rm(j, true, 0x3b, RBP, CTX, CTX_OFF(stack_limit));
	int cold = add_cold(j, COLD_STATUS, pc, 0, -1);
	j->cold[j->ncold - 1].status = JIT_ST_DEPTH;
	jmp_to(j, CC_BE, cold);
	push(j, RBX);
	push(j, R13);
	push(j, R14);
	push(j, R15);
	push(j, RBP);
	alu_ri(j, true, X_SUB, RBP, VISOR_STACK_FRAME);
	call_to(j, j->l_frame_enter);
	call_to(j, target);
	pop(j, RBP);
	pop(j, R15);
	pop(j, R14);
	pop(j, R13);
	pop(j, RBX);
	call_to(j, j->l_frame_set);
}

/* ---- one instruction ------------------------------------------------------ */

static void emit_insn(struct jit *j, uint32_t pc)
{
	const struct visor_vm_slot *s = &j->slots[pc];
	int dst = reg_map[s->dst <= 10 ? s->dst : 0], src = reg_map[s->src <= 10 ? s->src : 0];
	uint8_t op = s->op;

	if (op <= VM_OP_MOV64_X) {
		int kind = (op - VM_OP_ADD64_K) / 2;
		emit_alu(j, kind, true, !((op - VM_OP_ADD64_K) & 1), dst, src, (int32_t)s->imm, s->imm);
		return;
	}
	if (op >= VM_OP_ADD32_K && op <= VM_OP_MOV32_X) {
		int kind = (op - VM_OP_ADD32_K) / 2;
		emit_alu(j, kind, false, !((op - VM_OP_ADD32_K) & 1), dst, src, (int32_t)s->imm,
			 s->imm);
		return;
	}
	if ((op >= VM_OP_JEQ_K && op <= VM_OP_JSLE_X) || (op >= VM_OP_JEQ32_K && op <= VM_OP_JSLE32_X)) {
		bool w = op <= VM_OP_JSLE_X;
		int rel = op - (w ? VM_OP_JEQ_K : VM_OP_JEQ32_K);
		int cond = rel / 2;
		bool is_k = !(rel & 1);
		int32_t imm = (int32_t)s->imm;
		if ((uint32_t)s->target == pc + 1)
			return; /* both ways lead to the next instruction */
		if (is_k && j->harden && imm) {
			blind_mov(j, w, AUX, imm);
			is_k = false;
			src = AUX;
		}
		if (cond == J_SET) {
			if (is_k) {
				rex(j, w, 0, dst);
				e1(j, 0xf7);
				modrm_rr(j, 0, dst);
				e4(j, (uint32_t)imm);
			} else {
				op_rr(j, w, 0x85, dst, src);
			}
		} else if (is_k && imm == 0) {
			op_rr(j, w, 0x85, dst, dst);
		} else if (is_k) {
			alu_ri(j, w, X_CMP, dst, imm);
		} else {
			op_rr(j, w, 0x39, dst, src);
		}
		jmp_to(j, jmp_cc[cond], s->target);
		return;
	}

	switch (op) {
	case VM_OP_NEG64:
	case VM_OP_NEG32:
		rex(j, op == VM_OP_NEG64, 0, dst);
		e1(j, 0xf7);
		modrm_rr(j, 3, dst);
		return;
	case VM_OP_MOVSX64_8:
	case VM_OP_MOVSX64_16:
	case VM_OP_MOVSX32_8:
	case VM_OP_MOVSX32_16: {
		bool w = op == VM_OP_MOVSX64_8 || op == VM_OP_MOVSX64_16;
		bool b = op == VM_OP_MOVSX64_8 || op == VM_OP_MOVSX32_8;
		rexf(j, w, dst, src, b && src >= 4 && src <= 7);
		e1(j, 0x0f);
		e1(j, b ? 0xbe : 0xbf);
		modrm_rr(j, dst, src);
		return;
	}
	case VM_OP_MOVSX64_32:
		rex(j, true, dst, src);
		e1(j, 0x63);
		modrm_rr(j, dst, src);
		return;
	case VM_OP_LE16:
		rex(j, false, dst, dst); /* movzx dst32, dst16 */
		e1(j, 0x0f);
		e1(j, 0xb7);
		modrm_rr(j, dst, dst);
		return;
	case VM_OP_LE32:
		mov_rr(j, false, dst, dst);
		return;
	case VM_OP_LE64:
		return;
	case VM_OP_BE16:
		e1(j, 0x66); /* rol dst16, 8 */
		shift_ri(j, false, S_ROL, dst, 8);
		rex(j, false, dst, dst);
		e1(j, 0x0f);
		e1(j, 0xb7);
		modrm_rr(j, dst, dst);
		return;
	case VM_OP_BE32:
	case VM_OP_BE64:
		rex(j, op == VM_OP_BE64, 0, dst);
		e1(j, 0x0f);
		e1(j, 0xc8 | (dst & 7));
		return;
	case VM_OP_JA:
		if ((uint32_t)s->target != pc + 1)
			jmp_to(j, CC_JMP, s->target);
		return;
	case VM_OP_CALL_HELPER:
	case VM_OP_CALL_HELPER_CB: /* the JIT's state is in ctx already */
		emit_helper_call(j, pc, (uint32_t)s->imm);
		return;
	case VM_OP_CALL_LOCAL:
		emit_local_call(j, pc, s->target);
		return;
	case VM_OP_EXIT:
		e1(j, 0xc3);
		return;
	case VM_OP_LDDW:
		if (j->harden && s->imm) {
			/* movabs dst, imm ^ key; movabs r10, key; xor dst, r10 */
			uint64_t key;
			do
				key = rnd64(j);
			while (!(uint32_t)key || !(key >> 32));
			rex(j, true, 0, dst);
			e1(j, 0xb8 | (dst & 7));
			e8(j, s->imm ^ key);
			rex(j, true, 0, AUX);
			e1(j, 0xb8 | (AUX & 7));
			e8(j, key);
			op_rr(j, true, 0x31, dst, AUX);
		} else {
			mov_ri(j, dst, s->imm);
		}
		return;
	case VM_OP_LDABS_B: emit_ldpkt(j, s, false, 0); return;
	case VM_OP_LDABS_H: emit_ldpkt(j, s, false, 1); return;
	case VM_OP_LDABS_W: emit_ldpkt(j, s, false, 2); return;
	case VM_OP_LDIND_B: emit_ldpkt(j, s, true, 0); return;
	case VM_OP_LDIND_H: emit_ldpkt(j, s, true, 1); return;
	case VM_OP_LDIND_W: emit_ldpkt(j, s, true, 2); return;
	case VM_OP_LDX_B:
	case VM_OP_LDX_H:
	case VM_OP_LDX_W:
	case VM_OP_LDX_DW:
	case VM_OP_LDXS_B:
	case VM_OP_LDXS_H:
	case VM_OP_LDXS_W: {
		static const uint8_t lgs[] = {0, 1, 2, 3, 0, 1, 2};
		int lg = lgs[op - VM_OP_LDX_B];
		int mb;
		int32_t md;
		emit_check(j, pc, s->src, (int16_t)s->target, lg, false, false, &mb, &md);
		emit_load(j, lg, op >= VM_OP_LDXS_B, dst, mb, md);
		return;
	}
	case VM_OP_ST_B:
	case VM_OP_ST_H:
	case VM_OP_ST_W:
	case VM_OP_ST_DW: {
		int lg = op - VM_OP_ST_B;
		int mb;
		int32_t md;
		int32_t imm = (int32_t)s->imm;
		emit_check(j, pc, s->dst, (int16_t)s->target, lg, true, false, &mb, &md);
		if (j->harden && imm) {
			blind_mov(j, lg == 3, AUX, imm);
			emit_store_r(j, lg, mb, md, AUX);
		} else {
			emit_store_i(j, lg, mb, md, imm);
		}
		return;
	}
	case VM_OP_STX_B:
	case VM_OP_STX_H:
	case VM_OP_STX_W:
	case VM_OP_STX_DW: {
		int lg = op - VM_OP_STX_B;
		int mb;
		int32_t md;
		emit_check(j, pc, s->dst, (int16_t)s->target, lg, true, false, &mb, &md);
		emit_store_r(j, lg, mb, md, src);
		return;
	}
	case VM_OP_ATOMIC32:
	case VM_OP_ATOMIC64:
		emit_atomic(j, pc, s);
		return;
	case VM_OP_FALL_OFF:
		mov_ri(j, AUX, pc);
		jmp_to(j, CC_JMP, j->l_status[JIT_ST_FALL_OFF]);
		return;
	case VM_OP_LDDW_HI:
	default:
		return;
	}
}

/* ---- budget segments ------------------------------------------------------ */

static bool ends_segment(uint8_t op)
{
	return (op >= VM_OP_JA && op <= VM_OP_JSLE32_X) ||
	       (op >= VM_OP_CALL_HELPER && op <= VM_OP_EXIT) ||
	       (op >= VM_OP_LDABS_B && op <= VM_OP_ATOMIC64) || op == VM_OP_FALL_OFF;
}

static int compute_segments(struct jit *j)
{
	size_t n = j->count + 1;
	uint8_t *start = calloc(n, 1);
	j->seg_n = calloc(n, sizeof(*j->seg_n));
	if (!start || !j->seg_n) {
		free(start);
		return -ENOMEM;
	}
	start[0] = start[j->count] = 1;
	for (size_t pc = 0; pc < j->count; pc++) {
		const struct visor_vm_slot *s = &j->slots[pc];
		if (s->op == VM_OP_LDDW_HI)
			continue;
		bool jumps = (s->op >= VM_OP_JA && s->op <= VM_OP_JSLE32_X) || s->op == VM_OP_CALL_LOCAL;
		if (jumps || (s->op == VM_OP_LDDW && s->src == VISOR_LDDW_FUNC))
			start[s->target] = 1; /* callbacks are entered with a charge */
		if (ends_segment(s->op))
			start[pc + 1] = 1;
	}
	size_t seg = 0;
	for (size_t pc = 0; pc < n; pc++) {
		if (j->slots[pc].op == VM_OP_LDDW_HI)
			continue;
		if (start[pc])
			seg = pc;
		j->seg_n[seg]++;
	}
	free(start);
	return 0;
}

/* ---- stubs and variants --------------------------------------------------- */

static void emit_cold(struct jit *j, const struct cold *c)
{
	need(j, 128);
	bind(j, c->label);
	switch (c->kind) {
	case COLD_ACCESS:
		if (c->reg != ADR)
			mov_rr(j, true, ADR, c->reg);
		mov_ri(j, AUX, c->arg);
		call_to(j, j->l_access_slow);
		jmp_to(j, CC_JMP, c->resume);
		return;
	case COLD_MISALIGNED:
		mov_ri(j, AUX, c->pc);
		jmp_to(j, CC_JMP, j->l_misaligned);
		return;
	case COLD_STATUS:
		mov_ri(j, AUX, c->pc);
		jmp_to(j, CC_JMP, j->l_status[c->status]);
		return;
	case COLD_BUDGET:
		/* Undo the charge: ctx->left is how many of the segment's
		 * instructions can still be paid for. */
		alu_mi(j, true, X_ADD, CTX, CTX_OFF(left), (int32_t)c->arg);
		mov_ri(j, AUX, c->pc);
		jmp_to(j, CC_JMP, j->l_status[JIT_ST_BUDGET]);
		return;
	}
}

/* Bytes of int3 before each entry point; see "Entry points" at the top. */
#define ENTRY_GUARD 16
_Static_assert(ENTRY_GUARD >= JIT_ENTRY_PREFIX, "padding before the entries");

/* The start of every entry: the callee-saved registers pushed, the context
 * (first C argument) in CTX, and the native stack pointer kept in it, so
 * that an error anywhere unwinds with one load. */
static void emit_enter(struct jit *j)
{
	push(j, RBP);
	push(j, RBX);
	push(j, R12);
	push(j, R13);
	push(j, R14);
	push(j, R15);
	mov_rr(j, true, CTX, RDI);
	op_rm(j, true, 0x89, RSP, CTX, CTX_OFF(saved_rsp));
}

/* uint64_t stub(ctx, code, args): a callback of a helper (bpf_loop ...) in
 * a new frame below the helper's caller (ctx->stack_base is that frame's
 * bottom, so the new r10). The prologue mirrors the main entry, so errors
 * unwind here through the common epilogue (saved_rsp is ours; the C side
 * restores the caller's) and the alignment is the body's. A normal exit
 * returns here and sets ctx->cb_returned. Then the targets' offsets. */
static void emit_callback_stub(struct jit *j)
{
	need(j, 256);
	while (j->len % 16)
		e1(j, 0xcc);
	for (int i = 0; i < ENTRY_GUARD; i++)
		e1(j, 0xcc);
	j->cb_stub[j->budget] = j->len;
	emit_enter(j);
	load64(j, RBP, CTX, CTX_OFF(stack_base));
	call_to(j, j->l_frame_enter); /* zeroes (if checked), sets stack_base */
	mov_rr(j, true, ADR, RSI);
	mov_rr(j, true, AUX, RDX);
	for (int r = 1; r <= 5; r++)
		load64(j, reg_map[r], AUX, 8 * (r - 1));
	zero(j, RAX);
	zero(j, RBX);
	zero(j, R13);
	zero(j, R14);
	zero(j, R15);
	e1(j, 0x41); /* call r11 */
	e1(j, 0xff);
	modrm_rr(j, 2, ADR);
	rex(j, true, 0, CTX); /* mov qword [r12 + cb_returned], 1 */
	e1(j, 0xc7);
	modrm_mem(j, 0, CTX, CTX_OFF(cb_returned));
	e4(j, 1);
	jmp_to(j, CC_JMP, j->l_epilogue);
	size_t n = j->vm->ncb_targets;
	for (size_t i = 0; i < n; i++)
		j->cb_entry[j->budget * n + i] = (uint32_t)j->lab[j->vm->cb_targets[i]];
}

/* The entry, the shared stubs, the body and the cold stubs of one variant.
 * Returns the offset of the tail-call entry through *tail. */
static void emit_variant(struct jit *j, size_t *tail)
{
	j->nlab = 0;
	j->nfix = 0;
	j->ncold = 0;
	/* Labels 0..count are the instructions (count: fell off the end). */
	for (size_t i = 0; i <= j->count; i++)
		new_label(j);
	j->l_body = new_label(j);
	j->l_epilogue = new_label(j);
	j->l_error_exit = new_label(j);
	j->l_oob = new_label(j);
	j->l_misaligned = new_label(j);
	j->l_access_slow = new_label(j);
	j->l_frame_zero = new_label(j);
	j->l_frame_enter = new_label(j);
	j->l_frame_set = new_label(j);
	for (int st = 0; st <= JIT_ST_FALL_OFF; st++)
		j->l_status[st] = new_label(j);
	if (j->err)
		return;

	need(j, 512);
	/* Prologue: fixed size, see the top of the file. */
	emit_enter(j);
	for (int r = 1; r <= 5; r++)
		load64(j, reg_map[r], CTX, CTX_OFF(args) + 8 * (r - 1));
	zero(j, RAX);
	zero(j, RBX);
	zero(j, R13);
	zero(j, R14);
	zero(j, R15);
	load64(j, RBP, CTX, CTX_OFF(stack_top));
	if (j->checked)
		call_to(j, j->l_frame_zero); /* the main frame, as the interpreter */
	*tail = j->len;
	call_to(j, j->l_body);
	bind(j, j->l_epilogue);
	pop(j, R15);
	pop(j, R14);
	pop(j, R13);
	pop(j, R12);
	pop(j, RBX);
	pop(j, RBP);
	e1(j, 0xc3);

	need(j, 512);
	/* Unwinding from any depth: status and pc are already in ctx. */
	bind(j, j->l_error_exit);
	op_rm(j, true, 0x8b, RSP, CTX, CTX_OFF(saved_rsp));
	jmp_to(j, CC_JMP, j->l_epilogue);
	/* LD_ABS/LD_IND out of bounds: the run succeeds with r0 = 0. */
	bind(j, j->l_oob);
	zero(j, RAX);
	jmp_to(j, CC_JMP, j->l_error_exit);
	/* status stubs: r10d = pc */
	for (int st = 1; st <= JIT_ST_FALL_OFF; st++) {
		bind(j, j->l_status[st]);
		rex(j, false, 0, CTX);
		e1(j, 0xc7);
		modrm_mem(j, 0, CTX, CTX_OFF(status));
		e4(j, (uint32_t)st);
		op_rm(j, false, 0x89, AUX, CTX, CTX_OFF(pc));
		jmp_to(j, CC_JMP, j->l_error_exit);
	}
	bind(j, j->l_misaligned);
	op_rm(j, true, 0x89, ADR, CTX, CTX_OFF(addr));
	jmp_to(j, CC_JMP, j->l_status[JIT_ST_MISALIGNED]);
	/* A local call's new frame (rbp already lowered): zeroed, as the
	 * interpreter's, unless the program is verified. frame_zero clears
	 * [rbp - 512, rbp) with 16-byte stores (xmm0 is caller-saved, and
	 * no BPF register lives there). */
	need(j, 512);
	if (j->checked) {
		bind(j, j->l_frame_zero);
		e1(j, 0x66); /* pxor xmm0, xmm0 */
		e1(j, 0x0f);
		e1(j, 0xef);
		e1(j, 0xc0);
		mov_ri(j, TMP, (uint64_t)-VISOR_STACK_FRAME);
		int loop = new_label(j);
		bind(j, loop);
		for (int i = 0; i < 64; i += 16) {
			/* movups [rbp + r9 + i], xmm0 */
			e1(j, 0x42);
			e1(j, 0x0f);
			e1(j, 0x11);
			e1(j, 0x44);
			e1(j, (TMP & 7) << 3 | RBP);
			e1(j, (unsigned)i);
		}
		alu_ri(j, true, X_ADD, TMP, 64);
		jmp_to(j, CC_NE, loop);
		e1(j, 0xc3);
	}
	bind(j, j->l_frame_enter);
	if (j->checked)
		call_to(j, j->l_frame_zero);
	/* After any change of rbp: the frames in use, for the checks and for
	 * helpers (run->stack). */
	bind(j, j->l_frame_set);
	op_rm(j, true, 0x8d, AUX, RBP, -VISOR_STACK_FRAME);
	op_rm(j, true, 0x89, AUX, CTX, CTX_OFF(stack_base));
	load64(j, ADR, CTX, CTX_OFF(run));
	op_rm(j, true, 0x89, AUX, ADR, (int32_t)offsetof(struct visor_vm_run, stack.base));
	load64(j, TMP, CTX, CTX_OFF(stack_top));
	op_rr(j, true, 0x29, TMP, AUX);
	op_rm(j, true, 0x89, TMP, ADR, (int32_t)offsetof(struct visor_vm_run, stack.len));
	e1(j, 0xc3);
	if (j->checked) {
		/* r11 = address, r10d = access info. Preserves every BPF
		 * register; returns if the access may go ahead. 7 pushes after
		 * the call's 8 bytes: rsp is 16-byte aligned for the C call. */
		bind(j, j->l_access_slow);
		push(j, RAX);
		push(j, RDI);
		push(j, RSI);
		push(j, RDX);
		push(j, RCX);
		push(j, R8);
		push(j, R11);
		mov_rr(j, true, RDI, CTX);
		mov_rr(j, true, RSI, ADR);
		mov_rr(j, false, RDX, AUX);
		rex(j, false, 0, CTX); /* call [r12 + slow_access] */
		e1(j, 0xff);
		modrm_mem(j, 2, CTX, CTX_OFF(slow_access));
		op_rr(j, false, 0x85, RAX, RAX);
		pop(j, R11);
		pop(j, R8);
		pop(j, RCX);
		pop(j, RDX);
		pop(j, RSI);
		pop(j, RDI);
		pop(j, RAX);
		jmp_to(j, CC_E, j->l_error_exit);
		e1(j, 0xc3);
	}

	bind(j, j->l_body);
	for (uint32_t pc = 0; pc <= j->count && !j->err; pc++) {
		need(j, 512);
		bind(j, (int)pc);
		if (j->slots[pc].op == VM_OP_LDDW_HI)
			continue;
		if (j->budget && j->seg_n[pc]) {
			alu_mi(j, true, X_SUB, CTX, CTX_OFF(left), (int32_t)j->seg_n[pc]);
			int body = new_label(j);
			int cold = add_cold(j, COLD_BUDGET, pc, j->seg_n[pc], body);
			jmp_to(j, CC_B, cold);
			bind(j, body);
		}
		emit_insn(j, pc);
	}
	for (size_t i = 0; i < j->ncold && !j->err; i++) {
		struct cold c = j->cold[i];
		emit_cold(j, &c);
	}
	if (j->vm->ncb_targets && !j->err)
		emit_callback_stub(j);
}

static void emit_one(struct jit *j, bool budget, size_t *entry, size_t *tail)
{
	need(j, ENTRY_GUARD);
	for (int i = 0; i < ENTRY_GUARD; i++)
		e1(j, 0xcc);
	*entry = j->len;
	j->budget = budget;
	emit_variant(j, tail);
	resolve_fixups(j);
	/* Pad to 16 bytes between variants (int3). */
	need(j, 16);
	while (!j->err && j->len % 16)
		e1(j, 0xcc);
}

/* An upper bound of the code size, from measured maxima per instruction
 * (both variants, with margin: the hot sequence, its cold stubs and the
 * budget charge). Allocated up front, the buffer never moves; the pages it
 * does not use are never touched. */
static size_t code_bound(const struct visor_vm *vm)
{
	size_t n = 2 * (640 + ENTRY_GUARD) + 64 + 2 * 160; /* + callback stubs */

	for (size_t pc = 0; pc <= vm->count; pc++) {
		uint8_t op = vm->slots[pc].op;
		size_t one;
		if (op == VM_OP_ATOMIC32 || op == VM_OP_ATOMIC64)
			one = 112;
		else if (op == VM_OP_CALL_HELPER || op == VM_OP_CALL_HELPER_CB)
			one = 96;
		else if (op >= VM_OP_LDABS_B && op <= VM_OP_STX_DW)
			one = 80;
		else if (op == VM_OP_CALL_LOCAL)
			one = 64;
		else if ((op >= VM_OP_DIV64_K && op <= VM_OP_SMOD64_X) ||
			 (op >= VM_OP_DIV32_K && op <= VM_OP_SMOD32_X))
			one = 64;
		else
			one = 28;
		n += 2 * one + 32;
	}
	return n;
}

int visor_jit_arch_compile(const struct visor_vm *vm, unsigned flags, uint64_t seed,
			   struct visor_jit_code *out, char *err, size_t err_len)
{
	struct jit j = {
		.vm = vm,
		.slots = vm->slots,
		.count = vm->count,
		.checked = !(flags & VISOR_JIT_VERIFIED),
		.harden = flags & VISOR_JIT_HARDEN,
		.bmi2 = !(flags & VISOR_JIT_NO_BMI2) && __builtin_cpu_supports("bmi2"),
		.rng = seed,
	};

	memset(out, 0, sizeof(*out));
	if (vm->count > INT32_MAX / 64) {
		snprintf(err, err_len, "program too large for the JIT");
		return -E2BIG;
	}
	j.cap = (flags & VISOR_JIT_TINY_BUF) ? 64 : code_bound(vm);
	j.buf = malloc(j.cap);
	/* Labels: one per instruction and a few per memory access. Allocated
	 * here so that later growth failures leave a valid array. */
	j.cap_lab = 2 * vm->count + 256;
	j.lab = malloc(j.cap_lab * sizeof(*j.lab));
	if (vm->ncb_targets &&
	    !(j.cb_entry = malloc(2 * vm->ncb_targets * sizeof(*j.cb_entry))))
		j.err = -ENOMEM;
	if (!j.buf || !j.lab || j.err || compute_segments(&j)) {
		j.err = -ENOMEM;
		goto out;
	}
	if (!j.err)
		emit_one(&j, false, &out->entry, &out->tail_entry[0]);
	if (!j.err)
		emit_one(&j, true, &out->entry_budget, &out->tail_entry[1]);
out:
	free(j.lab);
	free(j.fix);
	free(j.cold);
	free(j.seg_n);
	if (j.err) {
		free(j.cb_entry);
		if (j.buf != j.sink)
			free(j.buf);
		snprintf(err, err_len, j.err == -ENOMEM ? "out of memory compiling %zu instructions" :
			 "internal JIT error compiling %zu instructions", vm->count);
		return j.err;
	}
	out->code = j.buf;
	out->len = j.len;
	out->cb_entry = j.cb_entry;
	out->cb_stub[0] = j.cb_stub[0];
	out->cb_stub[1] = j.cb_stub[1];
	return 0;
}

#endif /* __x86_64__ */
