/* Random programs for the interpreter-vs-JIT comparison: see jitgen.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "jitgen.h"
#include "insnbuf.h"
#include "rng.h"
/* The JIT's internal test flags (VISOR_JIT_NO_BMI2, VISOR_JIT_TINY_BUF). */
#include "../../src/vm/jit.h"

#define MAX_FUNCS 4
#define MAX_STMTS 24
#define MAX_CALLS 256

enum { H_MIX = 1, H_MEMW = 2, H_FROB = 3, H_STOP = 4, H_FAIL = 5, H_UNKNOWN = 6, H_REGION = 9 };

/* Registered regions (visor_vm_add_region): one writable, one read-only. */
#define RW_LEN 64
#define RO_LEN 32

/* ---- randomness ---------------------------------------------------------- */

/* Immediates that find edge cases more often than uniform ones would. */
static int32_t rimm(struct rng *r)
{
	switch (below(r, 12)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return -1;
	case 3: return INT32_MIN;
	case 4: return INT32_MAX;
	case 5: return (int32_t)below(r, 64);
	case 6: return -(int32_t)below(r, 64);
	case 7: return (int32_t)(1u << below(r, 32));
	case 8: return (int32_t)below(r, 70000);
	default: return (int32_t)rbits(r, 4);
	}
}

static uint64_t rimm64(struct rng *r)
{
	switch (below(r, 6)) {
	case 0: return 0;
	case 1: return UINT64_MAX;
	case 2: return 1ull << 63;
	case 3: return (uint64_t)(int64_t)rimm(r);
	default: return rbits(r, 8);
	}
}

/* ---- emitting ------------------------------------------------------------ */

struct gen {
	struct rng r;
	struct insn_buf buf;
	struct {
		size_t at;
		int func;
	} calls[MAX_CALLS];
	int ncalls;
	size_t func_at[MAX_FUNCS];
	int nfuncs, cur;
	unsigned reserved; /* loop counters: statements must not write them */
	int depth;         /* loop nesting */
	bool unbounded;    /* backward jumps that only the budget ends */
	bool unsafe;       /* faults and misaligned atomics allowed */
	size_t mem_len, pkt_len;
};

static void emit(struct gen *g, uint8_t code, int dst, int src, int off, int32_t imm)
{
	insn_buf_emit(&g->buf, code, dst, src, off, imm);
}

/* A scalar register a statement may write / read. */
static int wreg(struct gen *g)
{
	for (;;) {
		int r = (int)below(&g->r, 8);
		if (!(g->reserved & (1u << r)))
			return r;
	}
}
static int rreg(struct gen *g) { return (int)below(&g->r, 8); }

static const uint8_t size_code[4] = {VISOR_SIZE_B, VISOR_SIZE_H, VISOR_SIZE_W, VISOR_SIZE_DW};

/* ---- statements ---------------------------------------------------------- */

/* dst = a value where arithmetic has its corner cases. */
static void gen_edge(struct gen *g, int dst)
{
	static const uint64_t edges[] = {
		0x8000000000000000ull, UINT64_MAX, 0, 0xffffffff80000000ull, 0x80000000ull,
		0xffffffffull, 1, 0x7fffffffull, 0x7fffffffffffffffull, 0xfffffffffffffffeull,
		0x00000001ffffffffull, 63, 64, 31, 32,
	};
	uint64_t v = edges[below(&g->r, sizeof(edges) / sizeof(edges[0]))];
	emit(g, VISOR_OPCODE_LDDW, dst, 0, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static void gen_alu(struct gen *g)
{
	static const uint8_t ops[] = {VISOR_ALU_ADD, VISOR_ALU_SUB, VISOR_ALU_MUL, VISOR_ALU_DIV,
				      VISOR_ALU_OR,  VISOR_ALU_AND, VISOR_ALU_LSH, VISOR_ALU_RSH,
				      VISOR_ALU_NEG, VISOR_ALU_MOD, VISOR_ALU_XOR, VISOR_ALU_MOV,
				      VISOR_ALU_ARSH, VISOR_ALU_END};
	struct rng *r = &g->r;
	int dst = wreg(g);
	bool is64 = chance(r, 50);
	uint8_t cls = is64 ? VISOR_CLS_ALU64 : VISOR_CLS_ALU;
	uint8_t op = ops[below(r, sizeof(ops))];

	if (op == VISOR_ALU_END) {
		int32_t width = 16 << below(r, 3);
		uint8_t dir = is64 || chance(r, 50) ? VISOR_END_TO_LE : VISOR_END_TO_BE;
		emit(g, cls | op | dir, dst, 0, 0, width);
		return;
	}
	if (op == VISOR_ALU_NEG) {
		emit(g, cls | op, dst, 0, 0, 0);
		return;
	}
	bool x = chance(r, 50);
	int off = 0;
	if ((op == VISOR_ALU_DIV || op == VISOR_ALU_MOD) && chance(r, 40))
		off = 1;
	if (op == VISOR_ALU_MOV && x && chance(r, 25))
		off = is64 ? 8 << below(r, 3) : 8 << below(r, 2);
	int src = rreg(g);
	bool div = op == VISOR_ALU_DIV || op == VISOR_ALU_MOD;
	if (chance(r, div ? 50 : 25)) {
		/* Corner cases: INT_MIN / -1, shifts by 32 and 64, ... */
		gen_edge(g, dst);
		if (x && src != dst && !(g->reserved & (1u << src))) {
			if (div && chance(r, 60))
				emit(g, cls | VISOR_ALU_MOV | VISOR_SRC_K, src, 0, 0,
				     chance(r, 75) ? -1 : 0);
			else
				gen_edge(g, src);
		}
	}
	if (x)
		emit(g, cls | op | VISOR_SRC_X, dst, src, off, 0);
	else
		emit(g, cls | op | VISOR_SRC_K, dst, 0, off, rimm(r));
}

static void gen_lddw(struct gen *g)
{
	uint64_t v = rimm64(&g->r);
	emit(g, VISOR_OPCODE_LDDW, wreg(g), 0, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

/* One load or store of 1 << lg bytes at [base + off]. */
static void gen_access(struct gen *g, int base, int off, int lg)
{
	struct rng *r = &g->r;
	switch (below(r, lg < 3 ? 4 : 3)) {
	case 0:
		emit(g, VISOR_CLS_ST | VISOR_MODE_MEM | size_code[lg], base, 0, off, rimm(r));
		break;
	case 1:
		emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | size_code[lg], base, rreg(g), off, 0);
		break;
	case 2:
		emit(g, VISOR_CLS_LDX | VISOR_MODE_MEM | size_code[lg], wreg(g), base, off, 0);
		break;
	default:
		emit(g, VISOR_CLS_LDX | VISOR_MODE_MEMSX | size_code[lg], wreg(g), base, off, 0);
		break;
	}
}

static void gen_stack(struct gen *g)
{
	struct rng *r = &g->r;
	int lg = (int)below(r, 4), size = 1 << lg;
	int off = chance(r, 80) ? -(int)(below(r, 512 / size) + 1) * size
				: -(int)(size + below(r, 512 - size + 1));
	/* A callee may use its caller's frame. */
	if (g->cur > 0 && chance(r, 15))
		off += 512;
	gen_access(g, 10, off, lg);
}

static void gen_mem(struct gen *g)
{
	int lg = (int)below(&g->r, 4), size = 1 << lg;
	gen_access(g, 9, (int)below(&g->r, (uint32_t)(g->mem_len - size + 1)), lg);
}

/* Computed addresses, always in bounds: r8 = r9 + (x & mask), or
 * r8 = r10 - 256 + (x & 248). */
static void gen_dynamic(struct gen *g)
{
	struct rng *r = &g->r;
	int lg = (int)below(r, 4), size = 1 << lg;
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 8, rreg(g), 0, 0);
	if (chance(r, 50)) {
		int half = (int)g->mem_len / 2;
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_AND | VISOR_SRC_K, 8, 0, 0, half - 1);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_X, 8, 9, 0, 0);
		gen_access(g, 8, (int)below(r, (uint32_t)(half - size + 1)), lg);
	} else {
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_AND | VISOR_SRC_K, 8, 0, 0, 248);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_X, 8, 10, 0, 0);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, 8, 0, 0, -256);
		gen_access(g, 8, (int)below(r, (uint32_t)(8 - size + 1)), lg);
	}
}

static void gen_atomic(struct gen *g)
{
	static const int32_t ops[] = {
		VISOR_ATOMIC_ADD, VISOR_ATOMIC_ADD | VISOR_ATOMIC_FETCH,
		VISOR_ATOMIC_OR,  VISOR_ATOMIC_OR | VISOR_ATOMIC_FETCH,
		VISOR_ATOMIC_AND, VISOR_ATOMIC_AND | VISOR_ATOMIC_FETCH,
		VISOR_ATOMIC_XOR, VISOR_ATOMIC_XOR | VISOR_ATOMIC_FETCH,
		VISOR_ATOMIC_XCHG, VISOR_ATOMIC_CMPXCHG,
	};
	struct rng *r = &g->r;
	bool w64 = chance(r, 50);
	int size = w64 ? 8 : 4;
	int32_t op = ops[below(r, sizeof(ops) / sizeof(ops[0]))];
	/* fetch forms write src; cmpxchg writes r0 (never a loop counter) */
	int src = (op & VISOR_ATOMIC_FETCH) && op != VISOR_ATOMIC_CMPXCHG ? wreg(g) : rreg(g);
	int base, off;
	if (chance(r, 50)) {
		base = 10;
		off = -(int)(below(r, 512 / size) + 1) * size;
	} else {
		base = 9;
		off = (int)below(r, (uint32_t)(g->mem_len / size)) * size;
	}
	if (g->unsafe && chance(r, 10))
		off -= 1 + (int)below(r, (uint32_t)size - 1); /* misaligned */
	emit(g, VISOR_CLS_STX | VISOR_MODE_ATOMIC | (w64 ? VISOR_SIZE_DW : VISOR_SIZE_W), base, src,
	     off, op);
}

static void gen_helper(struct gen *g)
{
	struct rng *r = &g->r;
	unsigned k = below(r, 100);
	if (k < 55) {
		for (int a = 1; a <= 5; a++)
			if (chance(r, 30) && !(g->reserved & (1u << a)))
				emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, a, 0, 0, rimm(r));
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_MIX);
	} else if (k < 70) {
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_MEMW);
	} else if (k < 90) {
		/* frob(pointer, len): the pointer lives in r1 for this
		 * statement only, so no pointer outlives it. */
		int len = 1 + (int)below(r, 32);
		if (g->reserved & 6)
			return;
		if (chance(r, 60)) {
			int o = len + (int)below(r, (uint32_t)(512 - len + 1));
			if (g->unsafe && chance(r, 10))
				o += 512; /* below the frame: the helper refuses */
			emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 1, 10, 0, 0);
			emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, 1, 0, 0, -o);
		} else {
			int o = (int)below(r, (uint32_t)(g->mem_len - len + 1));
			emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 1, 9, 0, 0);
			emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, 1, 0, 0, o);
		}
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 2, 0, 0, len);
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_FROB);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 1, 0, 0, rimm(r));
	} else if (k < 93) {
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_STOP);
	} else if (k < 96) {
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_FAIL);
	} else {
		emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, chance(r, 50) ? H_UNKNOWN : 300);
	}
}

static void gen_local_call(struct gen *g)
{
	int target;
	if (g->cur + 1 < g->nfuncs && !chance(&g->r, 5))
		target = g->cur + 1 + (int)below(&g->r, (uint32_t)(g->nfuncs - g->cur - 1));
	else if (g->cur > 0)
		target = g->cur; /* recursion: runs into the depth limit */
	else
		return;
	if (g->ncalls == MAX_CALLS)
		return;
	g->calls[g->ncalls].at = g->buf.n;
	g->calls[g->ncalls++].func = target;
	emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_LOCAL, 0, 0);
}

static void gen_ldpkt(struct gen *g)
{
	struct rng *r = &g->r;
	int lg = (int)below(r, 3);
	size_t len = g->pkt_len ? g->pkt_len : g->mem_len;
	int32_t imm = chance(r, 90) ? (int32_t)below(r, (uint32_t)len + 8) - 2 : rimm(r);
	if (chance(r, 50))
		emit(g, VISOR_CLS_LD | VISOR_MODE_ABS | size_code[lg], 0, 0, 0, imm);
	else
		emit(g, VISOR_CLS_LD | VISOR_MODE_IND | size_code[lg], 0, rreg(g), 0,
		     chance(r, 50) ? imm : rimm(r));
}

/* Deliberate faults (only in unsafe programs). */
static void gen_fault(struct gen *g)
{
	struct rng *r = &g->r;
	int lg = (int)below(r, 4);
	switch (below(r, 4)) {
	case 0: /* just past the input memory */
		gen_access(g, 9, (int)g->mem_len - (int)below(r, 1u << lg) + (int)below(r, 4), lg);
		break;
	case 1: /* below the current frame */
		gen_access(g, 10, -512 - (1 << lg) - (int)below(r, 64), lg);
		break;
	case 2: /* above the frame: the top of the stack in main, the caller's frame in a callee */
		gen_access(g, 10, (int)below(r, 16), lg);
		break;
	default: /* a small absolute address */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 8, 0, 0, (int32_t)below(r, 4096));
		gen_access(g, 8, 0, lg);
		break;
	}
}

/* An access through a registered region, whose address a helper returns
 * in r0 and which only r8 keeps: r1 = 0 asks for the writable region, 1
 * for the read-only one. */
static void gen_region(struct gen *g)
{
	struct rng *r = &g->r;
	int lg = (int)below(r, 4), size = 1 << lg;
	bool ro = chance(r, 40);
	int len = ro ? RO_LEN : RW_LEN;
	int off = (int)below(r, (uint32_t)(len - size + 1));

	if (g->reserved & 3)
		return;
	if (g->unsafe && chance(r, 15))
		off = len - size + 1 + (int)below(r, 8); /* past the end */
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 1, 0, 0, ro);
	emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_HELPER, 0, H_REGION);
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 8, 0, 0, 0);
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 0, 0, 0, rimm(r));
	if (ro && !g->unsafe) /* loads only: a store faults */
		emit(g, VISOR_CLS_LDX | VISOR_MODE_MEM | size_code[lg], wreg(g), 8, off, 0);
	else
		gen_access(g, 8, off, lg);
}

static void gen_block(struct gen *g, int nstmts);

/* mov c, n; body; c -= 1; if c != 0 goto body */
static void gen_loop(struct gen *g)
{
	int c = -1;
	for (int reg = 6; reg <= 7; reg++)
		if (!(g->reserved & (1u << reg)))
			c = reg;
	if (c < 0)
		return;
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, c, 0, 0, 1 + (int32_t)below(&g->r, 6));
	size_t top = g->buf.n;
	g->reserved |= 1u << c;
	g->depth++;
	gen_block(g, 1 + (int)below(&g->r, 5));
	g->depth--;
	g->reserved &= ~(1u << c);
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_SUB | VISOR_SRC_K, c, 0, 0, 1);
	emit(g, VISOR_CLS_JMP | VISOR_JMP_JNE | VISOR_SRC_K, c, 0, (int)top - (int)g->buf.n - 1, 0);
}

/* A conditional (or unconditional) jump with its offset still to set.
 * Returns whether the offset goes in imm (gotol). */
static bool gen_jump(struct gen *g)
{
	static const uint8_t ops[] = {VISOR_JMP_JEQ, VISOR_JMP_JGT, VISOR_JMP_JGE, VISOR_JMP_JSET,
				      VISOR_JMP_JNE, VISOR_JMP_JSGT, VISOR_JMP_JSGE, VISOR_JMP_JLT,
				      VISOR_JMP_JLE, VISOR_JMP_JSLT, VISOR_JMP_JSLE};
	struct rng *r = &g->r;
	uint8_t cls = chance(r, 50) ? VISOR_CLS_JMP : VISOR_CLS_JMP32;
	if (chance(r, 8)) {
		emit(g, cls | VISOR_JMP_JA, 0, 0, 0, 0);
		return cls == VISOR_CLS_JMP32;
	}
	uint8_t op = ops[below(r, sizeof(ops))];
	if (chance(r, 50))
		emit(g, cls | op | VISOR_SRC_X, rreg(g), rreg(g), 0, 0);
	else
		emit(g, cls | op | VISOR_SRC_K, rreg(g), 0, 0, rimm(r));
	return false;
}

static void gen_block(struct gen *g, int nstmts)
{
	size_t starts[MAX_STMTS + 1];
	struct {
		size_t at;
		int target;
		bool imm;
	} pend[MAX_STMTS];
	int np = 0;
	struct rng *r = &g->r;

	if (nstmts > MAX_STMTS)
		nstmts = MAX_STMTS;
	for (int i = 0; i < nstmts && !g->buf.oom; i++) {
		starts[i] = g->buf.n;
		unsigned k = below(r, 100);
		if (k < 30) {
			gen_alu(g);
		} else if (k < 33) {
			gen_lddw(g);
		} else if (k < 42) {
			gen_stack(g);
		} else if (k < 50) {
			gen_mem(g);
		} else if (k < 54) {
			gen_dynamic(g);
		} else if (k < 59) {
			gen_atomic(g);
		} else if (k < 70) {
			/* forward, to a later statement of this block or its end */
			size_t at = g->buf.n;
			bool imm = gen_jump(g);
			pend[np].at = at;
			pend[np].imm = imm;
			pend[np++].target = i + 1 + (int)below(r, (uint32_t)(nstmts - i));
		} else if (k < 74) {
			if (g->depth < (g->cur ? 1 : 2))
				gen_loop(g);
			else
				gen_alu(g);
		} else if (k < 76) {
			if (g->unbounded) {
				int t = (int)below(r, (uint32_t)i + 1);
				size_t at = g->buf.n;
				bool imm = gen_jump(g);
				int off = (int)starts[t] - (int)at - 1;
				if (imm)
					g->buf.code[at].imm = off;
				else
					g->buf.code[at].off = (int16_t)off;
			} else {
				gen_alu(g);
			}
		} else if (k < 83) {
			gen_helper(g);
		} else if (k < 88) {
			gen_local_call(g);
		} else if (k < 91) {
			gen_ldpkt(g);
		} else if (k < 93) {
			gen_region(g);
		} else if (k < 94) {
			emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
		} else if (k < 96 && g->unsafe) {
			gen_fault(g);
		} else {
			gen_alu(g);
		}
	}
	starts[nstmts] = g->buf.n;
	if (g->buf.oom)
		return;
	for (int i = 0; i < np; i++) {
		int off = (int)starts[pend[i].target] - (int)pend[i].at - 1;
		if (pend[i].imm)
			g->buf.code[pend[i].at].imm = off;
		else
			g->buf.code[pend[i].at].off = (int16_t)off;
	}
}

static void gen_func(struct gen *g, int f, int nstmts)
{
	g->func_at[f] = g->buf.n;
	g->cur = f;
	if (f == 0) {
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 9, 1, 0, 0);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, 1, 0, 0, rimm(&g->r));
	}
	if (!g->unsafe) {
		/* Safe programs write their frame before reading it, as a
		 * verifier would demand: VERIFIED code does not zero frames. */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 8, 10, 0, 0);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, 8, 0, 0, -512);
		emit(g, VISOR_CLS_ST | VISOR_MODE_MEM | VISOR_SIZE_DW, 8, 0, 0, 0);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, 8, 0, 0, 8);
		emit(g, VISOR_CLS_JMP | VISOR_JMP_JNE | VISOR_SRC_X, 8, 10, -3, 0);
	}
	gen_block(g, nstmts);
	if (f == 0) {
		for (int i = 0; i < 8; i++)
			emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, 9, i, 8 * i, 0);
		for (int i = 0; i < 4; i++) {
			emit(g, VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_DW, 1, 10, -8 * (i + 1), 0);
			emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, 9, 1, 64 + 8 * i, 0);
		}
	}
	emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
}

int jitgen_generate(uint64_t seed, const uint8_t *data, size_t len, struct jitgen_prog *p)
{
	struct gen g = {.r = {.s = seed, .d = data, .n = data ? len : 0}};
	struct rng *r = &g.r;

	memset(p, 0, sizeof(*p));
	if (data) {
		/* FNV-1a: the PRNG takes over where the bytes end. */
		uint64_t h = 0xcbf29ce484222325ull;
		for (size_t i = 0; i < len; i++)
			h = (h ^ data[i]) * 0x100000001b3ull;
		g.r.s = h;
	}
	g.mem_len = chance(r, 50) ? 128 : 256;
	g.pkt_len = chance(r, 50) ? below(r, JITGEN_MAX_PKT + 1) : 0;
	g.unsafe = chance(r, 35);
	g.unbounded = chance(r, 20);
	g.nfuncs = 1 + (int)below(r, MAX_FUNCS);

	p->mem_len = g.mem_len;
	for (size_t i = 0; i < g.mem_len; i++)
		p->mem[i] = (uint8_t)(chance(r, 20) ? 0 : rbits(r, 1));
	p->pkt_len = g.pkt_len;
	for (size_t i = 0; i < g.pkt_len; i++)
		p->pkt[i] = (uint8_t)rbits(r, 1);

	gen_func(&g, 0, 3 + (int)below(r, 20));
	for (int f = 1; f < g.nfuncs && !g.buf.oom; f++)
		gen_func(&g, f, 1 + (int)below(r, 8));
	/* Now and then the last function runs off the end of the program:
	 * its exit becomes a move (jumps to it still land). */
	if (g.unsafe && g.buf.n && chance(r, 10))
		g.buf.code[g.buf.n - 1] = (struct visor_insn){.code = VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K,
						      .dst = 0, .imm = 1};
	if (g.buf.oom) {
		free(g.buf.code);
		return -ENOMEM;
	}
	for (int i = 0; i < g.ncalls; i++)
		g.buf.code[g.calls[i].at].imm = (int32_t)g.func_at[g.calls[i].func] - (int32_t)g.calls[i].at - 1;

	p->insns = g.buf.code;
	p->count = g.buf.n;
	p->safe = !g.unsafe;
	if (g.unbounded)
		p->budget = 1 + below(r, 5000);
	else if (chance(r, 40))
		p->budget = 0;
	else if (chance(r, 50))
		p->budget = 1 + below(r, 600);
	else
		p->budget = 1000000;
	if (chance(r, 25))
		p->jit_flags |= VISOR_JIT_HARDEN;
	if (chance(r, 25))
		p->jit_flags |= VISOR_JIT_NO_BMI2;
	if (chance(r, 3))
		p->jit_flags |= VISOR_JIT_TINY_BUF;
	return 0;
}

void jitgen_free(struct jitgen_prog *p)
{
	free(p->insns);
	p->insns = NULL;
}

/* ---- running both engines ----------------------------------------------- */

struct env {
	uint8_t *mem;
	size_t len;
	uint8_t rw[RW_LEN], ro[RO_LEN];
};

static uint64_t h_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		      struct visor_vm_run *run)
{
	return a * 3 + (b ^ (c << 7)) - (d >> 3) + e * 0x9e3779b9ull;
}

static uint64_t h_memw(uint64_t off, uint64_t val, uint64_t c, uint64_t d, uint64_t e,
		       struct visor_vm_run *run)
{
	struct env *env = visor_vm_user(visor_vm_run_vm(run));
	size_t o = (size_t)(off % (env->len - 7));
	memcpy(env->mem + o, &val, 8);
	return val ^ off;
}

static uint64_t h_frob(uint64_t ptr, uint64_t len, uint64_t c, uint64_t d, uint64_t e,
		       struct visor_vm_run *run)
{
	if (len > 64 || !visor_vm_run_mem_ok(run, ptr, len, true)) {
		visor_vm_run_fail(run, -EFAULT, "frob: %llu bytes not writable",
				  (unsigned long long)len);
		return 0;
	}
	uint8_t *p = (uint8_t *)(uintptr_t)ptr;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < len; i++) {
		sum = sum * 31 + p[i];
		p[i] ^= 0x5a;
	}
	return sum;
}

static uint64_t h_region(uint64_t ro, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			 struct visor_vm_run *run)
{
	struct env *env = visor_vm_user(visor_vm_run_vm(run));
	return (uintptr_t)(ro ? env->ro : env->rw);
}

static uint64_t h_stop(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		       struct visor_vm_run *run)
{
	visor_vm_run_stop(run, a ^ 0x5709);
	return 0;
}

static uint64_t h_fail(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		       struct visor_vm_run *run)
{
	visor_vm_run_fail(run, -EPERM, "failing on purpose");
	return 0;
}

struct outcome {
	int rc;
	uint64_t r0, executed;
	char msg[VISOR_ERRMSG_LEN];
	uint8_t mem[JITGEN_MAX_MEM];
	uint8_t rw[RW_LEN];
};

static void run_one(struct visor_vm *vm, const struct jitgen_prog *p, struct env *env, int engine,
		    struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(env->mem, p->mem, p->mem_len);
	for (int i = 0; i < RW_LEN; i++)
		env->rw[i] = (uint8_t)(i * 13 + 1);
	for (int i = 0; i < RO_LEN; i++)
		env->ro[i] = (uint8_t)(i * 29 + 7);
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = env->mem, .mem_len = p->mem_len,
		   .packet = p->pkt_len ? p->pkt : NULL, .packet_len = p->pkt_len,
		   .budget = p->budget, .errbuf = o->msg, .errbuf_len = sizeof(o->msg),
		   .engine = engine);
	o->rc = visor_vm_exec(vm, &opts, &o->r0);
	o->executed = opts.insns_executed;
	if (o->rc)
		o->r0 = 0;
	memcpy(o->mem, env->mem, p->mem_len);
	memcpy(o->rw, env->rw, RW_LEN);
}

/* Addresses differ between the engines' stacks: compare messages with
 * every 0x number blanked. */
static void mask_hex(const char *in, char *out, size_t len)
{
	size_t n = 0;
	while (*in && n + 1 < len) {
		if (in[0] == '0' && in[1] == 'x') {
			in += 2;
			while ((*in >= '0' && *in <= '9') || (*in >= 'a' && *in <= 'f'))
				in++;
			if (n + 3 < len) {
				memcpy(out + n, "0x?", 3);
				n += 3;
			}
			continue;
		}
		out[n++] = *in++;
	}
	out[n] = 0;
}

static int differ(const struct jitgen_prog *p, const struct outcome *a, const struct outcome *b,
		  unsigned flags, char *why, size_t len)
{
	char ma[VISOR_ERRMSG_LEN], mb[VISOR_ERRMSG_LEN];
	mask_hex(a->msg, ma, sizeof(ma));
	mask_hex(b->msg, mb, sizeof(mb));
	const char *what = NULL;
	char detail[3 * VISOR_ERRMSG_LEN] = "";

	if (a->rc != b->rc) {
		what = "return code";
		snprintf(detail, sizeof(detail), "interp %d (%s), jit %d (%s)", a->rc, a->msg, b->rc,
			 b->msg);
	} else if (a->r0 != b->r0) {
		what = "r0";
		snprintf(detail, sizeof(detail), "interp 0x%llx, jit 0x%llx",
			 (unsigned long long)a->r0, (unsigned long long)b->r0);
	} else if (strcmp(ma, mb)) {
		what = "error message";
		snprintf(detail, sizeof(detail), "interp \"%s\", jit \"%s\"", a->msg, b->msg);
	} else if (p->budget && a->executed != b->executed) {
		what = "insns_executed";
		snprintf(detail, sizeof(detail), "interp %llu, jit %llu",
			 (unsigned long long)a->executed, (unsigned long long)b->executed);
	} else {
		for (size_t i = 0; i < p->mem_len; i++) {
			if (a->mem[i] != b->mem[i]) {
				what = "memory";
				snprintf(detail, sizeof(detail), "byte %zu: interp %02x, jit %02x", i,
					 a->mem[i], b->mem[i]);
				break;
			}
		}
		if (!what && memcmp(a->rw, b->rw, RW_LEN)) {
			what = "registered region";
			snprintf(detail, sizeof(detail), "the writable region differs");
		}
	}
	if (!what)
		return 0;
	snprintf(why, len, "%s differs (jit flags 0x%x, budget %llu): %s", what, flags,
		 (unsigned long long)p->budget, detail);
	return 1;
}

static uint64_t verified_runs;

uint64_t jitgen_verified_runs(void)
{
	return verified_runs;
}

int jitgen_compare(const struct jitgen_prog *p, int *outcome, uint64_t *executed, char *why,
		   size_t why_len)
{
	struct visor_vm *vm = visor_vm_create();
	struct env *envp = calloc(1, sizeof(*envp));
	struct outcome *o = malloc(2 * sizeof(*o));
	int ret = -ENOMEM;

	if (!vm || !envp || !o || !(envp->mem = malloc(JITGEN_MAX_MEM))) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	struct env *env = envp;
	env->len = p->mem_len;
	visor_vm_set_user(vm, env);
	visor_vm_add_region(vm, env->rw, RW_LEN, true);
	visor_vm_add_region(vm, env->ro, RO_LEN, false);
	visor_vm_register_helper(vm, H_REGION, "region", h_region);
	visor_vm_register_helper(vm, H_MIX, "mix", h_mix);
	visor_vm_register_helper(vm, H_MEMW, "memw", h_memw);
	visor_vm_register_helper(vm, H_FROB, "frob", h_frob);
	visor_vm_register_helper(vm, H_STOP, "stop", h_stop);
	visor_vm_register_helper(vm, H_FAIL, "fail", h_fail);
	/* Unsafe mode: random programs fault on purpose, call the test's own
	 * helpers and use registered regions; the run-time checks are tested. */
	visor_vm_set_unsafe(vm, true);
	ret = visor_vm_load(vm, p->insns, p->count);
	if (ret) {
		snprintf(why, why_len, "load: %s", visor_vm_errmsg(vm));
		goto out;
	}
	run_one(vm, p, env, VISOR_ENGINE_INTERP, &o[0]);
	if (outcome)
		*outcome = o[0].rc;
	if (executed)
		*executed = o[0].executed;
	for (int pass = 0; pass < 2; pass++) {
		unsigned flags = p->jit_flags | (pass ? VISOR_JIT_VERIFIED : 0);
		if (pass && !p->safe)
			break;
		/* The unchecked JIT only for programs the verifier accepts (as
		 * untyped: r1 = the input memory); verification comes after
		 * the checked pass, which it would make unchecked too. */
		if (pass) {
			VISOR_OPTS(visor_verify_opts, vo, .ctx_size = (uint32_t)p->mem_len);
			if (visor_verify_vm(vm, &vo))
				break;
			verified_runs++;
		}
		ret = visor_vm_jit_compile(vm, flags);
		if (ret) {
			snprintf(why, why_len, "jit compile (flags 0x%x): %s", flags,
				 visor_vm_errmsg(vm));
			goto out;
		}
		run_one(vm, p, env, VISOR_ENGINE_JIT, &o[1]);
		ret = differ(p, &o[0], &o[1], flags, why, why_len);
		if (ret)
			goto out;
	}
out:
	free(o);
	if (envp)
		free(envp->mem);
	free(envp);
	visor_vm_destroy(vm);
	return ret;
}

void jitgen_dump(const struct jitgen_prog *p, FILE *f)
{
	char *text = visor_disasm(p->insns, p->count, VISOR_SYNTAX_UBPF, 1);
	fprintf(f, "program (%zu slots, budget %llu, jit flags 0x%x, %s):\n%s", p->count,
		(unsigned long long)p->budget, p->jit_flags, p->safe ? "safe" : "unsafe",
		text ? text : "(out of memory)\n");
	free(text);
	fprintf(f, "mem (%zu bytes):", p->mem_len);
	for (size_t i = 0; i < p->mem_len; i++)
		fprintf(f, "%s%02x", i % 32 ? " " : "\n  ", p->mem[i]);
	fprintf(f, "\npacket (%zu bytes):", p->pkt_len);
	for (size_t i = 0; i < p->pkt_len; i++)
		fprintf(f, " %02x", p->pkt[i]);
	fputc('\n', f);
}
