/* Random programs inside the subset of eBPF that the Linux verifier accepts
 * on scalars. The generator emits structured code (straight-line statements,
 * if/then, if/else diamonds, counted loops, calls), so every instruction is
 * reachable, every jump stays inside its block and every loop ends; these
 * are the properties the verifier's CFG check and its bounded-loop analysis
 * need. Registers r0..r8 are initialised before the body and re-initialised
 * wherever the verifier forgets them (r1..r5 after a call), so any of them
 * may be read at any point. */
#include "randprog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The deepest chain is main -> sub 0 -> sub 1 -> sub 2; the kernel refuses
 * more than 512 bytes of stack along any chain (frames rounded up to 32). */
#define MAIN_STACK_MAX 224
#define SUB_STACK_MAX 96
#define MAX_SUBS 3
#define MAX_LOOP_DEPTH 2
#define MAX_IF_DEPTH 3
#define MAX_CALLS 64
#define FORK_BUDGET 8 /* about 2^8 paths per outermost loop */

#define R_CTX 9
#define R_FP 10

struct call_fixup {
	size_t at;  /* index of the call instruction in its unit */
	int target; /* subprogram number */
};

/* The main program or one subprogram, generated separately and laid out
 * one after the other once it is known which subprograms are called. */
struct unit {
	struct visor_insn *insns;
	size_t n, cap;
	struct call_fixup calls[MAX_CALLS];
	int ncalls;
};

struct gen {
	uint64_t rng;
	unsigned flags;
	struct unit units[1 + MAX_SUBS]; /* [0] main, [1 + k] subprogram k */
	struct unit *u;                  /* the one being written */
	bool oom;

	size_t ctx_len;
	int stack_len;      /* initialised bytes of the current frame */
	unsigned reserved;  /* registers the current block must not write */
	int loop_depth, if_depth;
	/* Inside loops the verifier compares states exactly, so every branch
	 * on an unknown value doubles the paths for each remaining iteration.
	 * loop_mult is the product of the enclosing trip counts, fork_cost what
	 * the current outermost loop has spent of FORK_BUDGET. */
	unsigned loop_mult;
	unsigned fork_cost;
	int counter;        /* innermost loop counter, -1 outside loops */
	int cur_sub;        /* -1: main program */
	int nsubs;
	int nloops;
};

uint64_t randprog_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct gen *g)
{
	return randprog_next(&g->rng);
}

/* Uniform in [0, n). */
static unsigned below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static bool chance(struct gen *g, unsigned percent)
{
	return below(g, 100) < percent;
}

/* 32-bit immediates: the boundaries where wrap-around, sign and shift
 * masking show, plus small and fully random values. */
static int32_t imm32(struct gen *g)
{
	static const int32_t edge[] = {
		0, 1, -1, 2, -2, 7, 8, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0xff, 0x100,
		0x7fff, 0x8000, 0xffff, 0x10000, INT32_MAX, INT32_MIN, INT32_MIN + 1,
		0x55555555, (int32_t)0xaaaaaaaa,
	};

	switch (below(g, 4)) {
	case 0:
	case 1:
		return edge[below(g, sizeof(edge) / sizeof(edge[0]))];
	case 2:
		return (int32_t)below(g, 33) - 16;
	default:
		return (int32_t)(uint32_t)rnd(g);
	}
}

static uint64_t imm64(struct gen *g)
{
	static const uint64_t edge[] = {
		0, 1, ~0ull, 2, 63, 64, 0x7fffffffull, 0x80000000ull, 0xffffffffull,
		0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
		0x8000000000000001ull, 0xffffffff00000000ull, 0x00000000ffff8000ull,
		0xffffffff80000000ull, 0x0123456789abcdefull,
	};

	switch (below(g, 4)) {
	case 0:
		return edge[below(g, sizeof(edge) / sizeof(edge[0]))];
	case 1:
		return (uint64_t)(int64_t)imm32(g);
	case 2: {
		/* Sign-extended from 8, 16 or 32 random bits: small negatives and
		 * values whose narrow views are negative. */
		uint64_t v = rnd(g);

		switch (below(g, 3)) {
		case 0:
			return (uint64_t)(int64_t)(int8_t)v;
		case 1:
			return (uint64_t)(int64_t)(int16_t)v;
		default:
			return (uint64_t)(int64_t)(int32_t)v;
		}
	}
	default:
		return rnd(g);
	}
}

static void emit(struct gen *g, uint8_t code, int dst, int src, int16_t off, int32_t imm)
{
	if (g->u->n == g->u->cap) {
		size_t cap = g->u->cap ? g->u->cap * 2 : 256;
		struct visor_insn *p = realloc(g->u->insns, cap * sizeof(*p));

		if (!p) {
			g->oom = true;
			return;
		}
		g->u->insns = p;
		g->u->cap = cap;
	}
	g->u->insns[g->u->n++] = (struct visor_insn){
		.code = code, .dst = (uint8_t)dst, .src = (uint8_t)src, .off = off, .imm = imm};
}

static void emit_lddw(struct gen *g, int dst, uint64_t v)
{
	emit(g, VISOR_OPCODE_LDDW, dst, 0, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

/* Any register the program computes with (r0..r8). */
static int any_reg(struct gen *g)
{
	return (int)below(g, 9);
}

/* A register the current block may overwrite. */
static int dst_reg(struct gen *g)
{
	for (;;) {
		int r = any_reg(g);

		if (!(g->reserved & (1u << r)))
			return r;
	}
}

/* Sets r to a constant in one of the ways the verifier tracks exactly. */
static void init_reg(struct gen *g, int r)
{
	switch (below(g, 4)) {
	case 0:
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, r, 0, 0, imm32(g));
		break;
	case 1:
		emit(g, VISOR_CLS_ALU | VISOR_ALU_MOV | VISOR_SRC_K, r, 0, 0, imm32(g));
		break;
	default:
		emit_lddw(g, r, imm64(g));
		break;
	}
}

/* ---- Statements --------------------------------------------------------- */

static void gen_alu(struct gen *g)
{
	static const uint8_t ops[] = {
		VISOR_ALU_ADD, VISOR_ALU_SUB, VISOR_ALU_MUL, VISOR_ALU_DIV, VISOR_ALU_OR,
		VISOR_ALU_AND, VISOR_ALU_LSH, VISOR_ALU_RSH, VISOR_ALU_NEG, VISOR_ALU_MOD,
		VISOR_ALU_XOR, VISOR_ALU_MOV, VISOR_ALU_ARSH,
	};
	bool is64 = chance(g, 60);
	uint8_t cls = is64 ? VISOR_CLS_ALU64 : VISOR_CLS_ALU;
	uint8_t op = ops[below(g, sizeof(ops) / sizeof(ops[0]))];
	int dst = dst_reg(g);
	bool sx = !(g->flags & RANDPROG_NO_SX);
	int16_t off = 0;

	if (op == VISOR_ALU_NEG) {
		emit(g, cls | op | VISOR_SRC_K, dst, 0, 0, 0);
		return;
	}
	if ((op == VISOR_ALU_DIV || op == VISOR_ALU_MOD) && sx && chance(g, 50))
		off = 1; /* sdiv / smod */

	if (chance(g, 50)) {
		int32_t imm = imm32(g);

		switch (op) {
		case VISOR_ALU_LSH:
		case VISOR_ALU_RSH:
		case VISOR_ALU_ARSH:
			/* The verifier refuses constant shifts of the width or more. */
			imm = (int32_t)((uint32_t)imm & (is64 ? 63 : 31));
			break;
		case VISOR_ALU_DIV:
		case VISOR_ALU_MOD:
			if (imm == 0) /* constant division by zero is refused */
				imm = chance(g, 50) ? -1 : 1;
			break;
		}
		emit(g, cls | op | VISOR_SRC_K, dst, 0, off, imm);
		return;
	}
	if (op == VISOR_ALU_MOV && sx && chance(g, 40)) {
		/* movsx: ALU64 takes 8/16/32, ALU 8/16 (32 is reserved there). */
		static const int16_t w[] = {8, 16, 32};
		off = w[below(g, is64 ? 3 : 2)];
	}
	/* Register operands, including dst == src and shift amounts >= width,
	 * which the hardware and the kernel mask. */
	emit(g, cls | op | VISOR_SRC_X, dst, any_reg(g), off, 0);
}

static void gen_end(struct gen *g)
{
	static const int32_t widths[] = {16, 32, 64};
	int dst = dst_reg(g);
	int32_t w = widths[below(g, 3)];

	switch (below(g, 3)) {
	case 0:
		emit(g, VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_LE, dst, 0, 0, w);
		break;
	case 1:
		emit(g, VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_BE, dst, 0, 0, w);
		break;
	default: /* bswap: ALU64 with the LE source bit; BE there is reserved */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_END | VISOR_END_TO_LE, dst, 0, 0, w);
		break;
	}
}

static const uint8_t sizes[] = {VISOR_SIZE_B, VISOR_SIZE_H, VISOR_SIZE_W, VISOR_SIZE_DW};

/* An aligned offset of an access of `bytes` inside the frame's initialised
 * stack (negative, r10-relative). */
static int16_t stack_off(struct gen *g, unsigned bytes)
{
	unsigned slots = (unsigned)g->stack_len / bytes;

	return (int16_t)(-(int)((below(g, slots) + 1) * bytes));
}

static int16_t ctx_off(struct gen *g, unsigned bytes)
{
	unsigned slots = (unsigned)g->ctx_len / bytes;

	return (int16_t)(below(g, slots) * bytes);
}

/* Destination of a load through pointer register tmp (-1: none): loading
 * over tmp itself is fine and ends its life as a pointer; otherwise tmp is
 * reset after the access (see gen_mem). */
static int load_dst(struct gen *g, int tmp)
{
	int r = dst_reg(g);

	if (tmp >= 0 && r != tmp && chance(g, 30))
		r = tmp;
	return r;
}

/* Loads and stores of every size on the stack and on the context. */
static void gen_mem(struct gen *g)
{
	uint8_t size = sizes[below(g, 4)];
	unsigned bytes = visor_size_bytes(size);
	bool on_stack = chance(g, 55);
	int base = on_stack ? R_FP : R_CTX;
	int16_t off = on_stack ? stack_off(g, bytes) : ctx_off(g, bytes);
	int tmp = -1;

	if (on_stack && chance(g, 20)) {
		/* Through a copy of the frame pointer moved down by a multiple of
		 * 8, with the offset adjusted. The kernel allows this for the
		 * stack only (a moved ctx pointer cannot be dereferenced). The
		 * copy is a pointer: it is neither stored nor kept afterwards. */
		int delta = -8 * (int)below(g, (unsigned)g->stack_len / 8 + 1);

		tmp = dst_reg(g);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, tmp, R_FP, 0, 0);
		/* add only: the kernel refuses "sub" on the stack pointer */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, tmp, 0, 0, delta);
		base = tmp;
		off = (int16_t)(off - delta);
	}

	switch (below(g, 4)) {
	case 0:
		/* Sign-extending load: B/H/W only; the kernel takes it on ctx too. */
		if (size != VISOR_SIZE_DW && !(g->flags & RANDPROG_NO_SX)) {
			emit(g, VISOR_CLS_LDX | VISOR_MODE_MEMSX | size, load_dst(g, tmp), base,
			     off, 0);
			break;
		}
		/* fall through */
	case 1:
		emit(g, VISOR_CLS_LDX | VISOR_MODE_MEM | size, load_dst(g, tmp), base, off, 0);
		break;
	case 2: {
		int src;

		do
			src = any_reg(g);
		while (src == tmp);
		emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | size, base, src, off, 0);
		break;
	}
	default:
		/* ST stores a sign-extended imm32 (the kernel accepts it on ctx). */
		emit(g, VISOR_CLS_ST | VISOR_MODE_MEM | size, base, 0, off, imm32(g));
		break;
	}
	if (tmp >= 0 && !g->oom) {
		const struct visor_insn *last = &g->u->insns[g->u->n - 1];

		if (VISOR_CLASS(last->code) != VISOR_CLS_LDX || last->dst != tmp)
			init_reg(g, tmp);
	}
}

/* Atomic read-modify-write on the stack (the kernel refuses them on ctx). */
static void gen_atomic(struct gen *g)
{
	static const int32_t ops[] = {
		VISOR_ATOMIC_ADD, VISOR_ATOMIC_OR, VISOR_ATOMIC_AND, VISOR_ATOMIC_XOR,
	};
	bool dw = chance(g, 50);
	uint8_t size = dw ? VISOR_SIZE_DW : VISOR_SIZE_W;
	int16_t off = stack_off(g, dw ? 8 : 4);
	int32_t op;
	int src;

	switch (below(g, 6)) {
	case 0:
		op = VISOR_ATOMIC_XCHG;
		break;
	case 1:
		/* Compares with r0 and loads the old value into r0. */
		if (g->reserved & 1u)
			return;
		op = VISOR_ATOMIC_CMPXCHG;
		break;
	default:
		op = ops[below(g, 4)] | (chance(g, 50) ? VISOR_ATOMIC_FETCH : 0);
		break;
	}
	/* With fetch the source register receives the old value. */
	src = (op & VISOR_ATOMIC_FETCH) && op != VISOR_ATOMIC_CMPXCHG ? dst_reg(g) : any_reg(g);
	emit(g, VISOR_CLS_STX | VISOR_MODE_ATOMIC | size, R_FP, src, off, op);
	if (!(op & VISOR_ATOMIC_FETCH))
		return;
	/* The fetched value goes to ctx and the register gets a new constant.
	 * Linux (seen on 6.18) knows the fetched value when the slot held a
	 * spilled constant, but its precision backtracking treats the atomic
	 * as a plain store and never marks the slot precise; a branch decided
	 * on that value then lets it prune a path whose slot held another
	 * value and drop code that path needs. Values reloaded from ctx are
	 * unknown to the verifier, so they can be used freely. */
	src = op == VISOR_ATOMIC_CMPXCHG ? 0 : src;
	emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, R_CTX, src, ctx_off(g, 8), 0);
	init_reg(g, src);
}

static void gen_block(struct gen *g, size_t budget);

static const uint8_t conds[] = {
	VISOR_JMP_JEQ, VISOR_JMP_JGT, VISOR_JMP_JGE, VISOR_JMP_JSET, VISOR_JMP_JNE,
	VISOR_JMP_JSGT, VISOR_JMP_JSGE, VISOR_JMP_JLT, VISOR_JMP_JLE, VISOR_JMP_JSLT,
	VISOR_JMP_JSLE,
};

/* Emits a forward conditional jump with a placeholder offset; returns its index. */
static size_t emit_cond(struct gen *g)
{
	uint8_t cls = chance(g, 60) ? VISOR_CLS_JMP : VISOR_CLS_JMP32;
	uint8_t op = conds[below(g, sizeof(conds) / sizeof(conds[0]))];
	size_t at = g->u->n;

	if (g->loop_mult > 1) {
		if (g->fork_cost + g->loop_mult <= FORK_BUDGET) {
			g->fork_cost += g->loop_mult;
		} else {
			/* Out of budget: test the counter, which the verifier knows,
			 * so it follows one path per iteration. */
			emit(g, cls | op | VISOR_SRC_K, g->counter, 0, 0, (int32_t)below(g, 10));
			return at;
		}
	}
	if (chance(g, 50)) {
		emit(g, cls | op | VISOR_SRC_K, any_reg(g), 0, 0, imm32(g));
	} else {
		int a = any_reg(g);

		/* Now and then against itself: equal on both widths. */
		emit(g, cls | op | VISOR_SRC_X, a, chance(g, 15) ? a : any_reg(g), 0, 0);
	}
	return at;
}

/* Points the jump at index `at` to the next instruction to be emitted. */
static void land(struct gen *g, size_t at)
{
	if (g->oom)
		return;
	if (VISOR_CLASS(g->u->insns[at].code) == VISOR_CLS_JMP32 &&
	    VISOR_OP(g->u->insns[at].code) == VISOR_JMP_JA)
		g->u->insns[at].imm = (int32_t)(g->u->n - at - 1);
	else
		g->u->insns[at].off = (int16_t)(g->u->n - at - 1);
}

static void gen_if(struct gen *g, size_t budget)
{
	size_t j = emit_cond(g);

	g->if_depth++;
	gen_block(g, below(g, (unsigned)budget + 1));
	land(g, j);
	g->if_depth--;
}

static void gen_if_else(struct gen *g, size_t budget)
{
	size_t j = emit_cond(g), ja;

	g->if_depth++;
	gen_block(g, below(g, (unsigned)budget / 2 + 1));
	ja = g->u->n;
	/* The "then" arm skips the "else" arm with ja (off) or gotol (imm). */
	if (!(g->flags & RANDPROG_NO_JMP32_JA) && chance(g, 25))
		emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JA, 0, 0, 0, 0);
	else
		emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
	land(g, j);
	gen_block(g, below(g, (unsigned)budget / 2 + 1));
	land(g, ja);
	g->if_depth--;
}

/* A counted loop: a free register counts a constant 1..8 iterations and is
 * reserved in the body, so the verifier sees it converge. */
static void gen_loop(struct gen *g, size_t budget)
{
	unsigned trips = 1 + below(g, 8);
	unsigned saved = g->reserved, saved_mult = g->loop_mult;
	int c, saved_counter = g->counter;
	size_t head, back;

	do
		c = 1 + (int)below(g, 8); /* never r0: cmpxchg writes it */
	while (g->reserved & (1u << c));

	g->reserved |= 1u << c;
	g->counter = c;
	if (!g->loop_depth)
		g->fork_cost = 0;
	g->loop_mult *= trips;
	g->loop_depth++;
	g->nloops++;
	if (chance(g, 25)) {
		/* Test at the top, jump back unconditionally (ja or gotol). */
		size_t exit_jump;

		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, c, 0, 0, (int32_t)trips);
		head = g->u->n;
		exit_jump = g->u->n;
		if (chance(g, 50))
			emit(g, VISOR_CLS_JMP | VISOR_JMP_JEQ | VISOR_SRC_K, c, 0, 0, 0);
		else
			emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JSLE | VISOR_SRC_K, c, 0, 0, 0);
		gen_block(g, budget);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_SUB | VISOR_SRC_K, c, 0, 0, 1);
		back = g->u->n;
		if (!(g->flags & RANDPROG_NO_JMP32_JA) && chance(g, 40)) {
			emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JA, 0, 0, 0,
			     (int32_t)((long)head - (long)back - 1));
			back = SIZE_MAX; /* offset already in imm */
		} else {
			emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
		}
		land(g, exit_jump);
	} else if (chance(g, 50)) {
		/* Down to zero. */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, c, 0, 0, (int32_t)trips);
		head = g->u->n;
		gen_block(g, budget);
		if (chance(g, 50))
			emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, c, 0, 0, -1);
		else
			emit(g, VISOR_CLS_ALU | VISOR_ALU_SUB | VISOR_SRC_K, c, 0, 0, 1);
		back = g->u->n;
		switch (below(g, 3)) {
		case 0:
			emit(g, VISOR_CLS_JMP | VISOR_JMP_JNE | VISOR_SRC_K, c, 0, 0, 0);
			break;
		case 1:
			emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JSGT | VISOR_SRC_K, c, 0, 0, 0);
			break;
		default:
			emit(g, VISOR_CLS_JMP | VISOR_JMP_JGT | VISOR_SRC_K, c, 0, 0, 0);
			break;
		}
	} else {
		/* Up to the trip count. */
		emit(g, VISOR_CLS_ALU | VISOR_ALU_MOV | VISOR_SRC_K, c, 0, 0, 0);
		head = g->u->n;
		gen_block(g, budget);
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_K, c, 0, 0, 1);
		back = g->u->n;
		if (chance(g, 50))
			emit(g, VISOR_CLS_JMP | VISOR_JMP_JLT | VISOR_SRC_K, c, 0, 0, (int32_t)trips);
		else
			emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JNE | VISOR_SRC_K, c, 0, 0,
			     (int32_t)trips);
	}
	if (!g->oom && back != SIZE_MAX)
		g->u->insns[back].off = (int16_t)((long)head - (long)back - 1);
	g->loop_depth--;
	g->reserved = saved;
	g->loop_mult = saved_mult;
	g->counter = saved_counter;
}

/* A bpf-to-bpf call: r1 carries the context pointer, r2..r5 are arguments;
 * afterwards the verifier considers r1..r5 unreadable, so they get fresh
 * constants. Subprogram k may only call subprograms above k (no recursion). */
static void gen_call(struct gen *g)
{
	int lo = g->cur_sub + 1, target;

	/* Not inside loops: the verifier walks the callee again at every call,
	 * exactly, and its branches would multiply with the iterations. */
	if (lo >= g->nsubs || g->u->ncalls == MAX_CALLS || g->loop_depth)
		return;
	target = lo + (int)below(g, (unsigned)(g->nsubs - lo));
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 1, R_CTX, 0, 0);
	g->u->calls[g->u->ncalls++] = (struct call_fixup){.at = g->u->n, .target = target};
	emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_LOCAL, 0, 0);
	for (int r = 1; r <= 5; r++)
		init_reg(g, r);
}

static void gen_stmt(struct gen *g, size_t budget)
{
	unsigned w = below(g, 100);

	if (w < 40)
		gen_alu(g);
	else if (w < 46)
		gen_end(g);
	else if (w < 49)
		init_reg(g, dst_reg(g));
	else if (w < 67)
		gen_mem(g);
	else if (w < 74 && !(g->flags & RANDPROG_NO_ATOMIC))
		gen_atomic(g);
	else if (w < 83 && g->if_depth < MAX_IF_DEPTH && budget >= 2)
		gen_if(g, budget < 12 ? budget : 12);
	else if (w < 90 && g->if_depth < MAX_IF_DEPTH && budget >= 3)
		gen_if_else(g, budget < 16 ? budget : 16);
	else if (w < 94 && g->loop_depth < MAX_LOOP_DEPTH && budget >= 4 &&
		 !(g->flags & RANDPROG_NO_LOOPS))
		gen_loop(g, budget < 10 ? budget : 10);
	else if (w < 97 && !(g->flags & RANDPROG_NO_CALLS))
		gen_call(g);
	else
		gen_alu(g);
}

/* Statements until about `budget` instructions are emitted. */
static void gen_block(struct gen *g, size_t budget)
{
	size_t start = g->u->n;

	while (!g->oom && g->u->n - start < budget)
		gen_stmt(g, budget - (g->u->n - start));
}

/* Stack slots are written before anything reads them: the verifier accepts
 * uninitialised reads from root, but the kernel's and visor's stacks hold
 * different garbage. */
static void init_stack(struct gen *g)
{
	for (int off = 8; off <= g->stack_len; off += 8) {
		if (chance(g, 50))
			emit(g, VISOR_CLS_ST | VISOR_MODE_MEM | VISOR_SIZE_DW, R_FP, 0,
			     (int16_t)-off, imm32(g));
		else
			emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, R_FP,
			     any_reg(g), (int16_t)-off, 0);
	}
}

static int frame_size(struct gen *g, int max)
{
	return 8 * (1 + (int)below(g, (unsigned)max / 8));
}

static void gen_sub(struct gen *g, int k)
{
	g->cur_sub = k;
	g->u = &g->units[1 + k];
	g->reserved = 0;
	g->stack_len = frame_size(g, SUB_STACK_MAX);
	/* r1 = ctx, r2..r5 = arguments; r0 and r6..r9 start unreadable here,
	 * and the caller's r6..r9 must survive whatever this frame does. */
	emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, R_CTX, 1, 0, 0);
	init_reg(g, 0);
	init_reg(g, 1);
	for (int r = 6; r <= 8; r++)
		init_reg(g, r);
	init_stack(g);
	gen_block(g, 5 + below(g, 40));
	/* Fold r6..r8 into the result so this frame's values are observed. */
	for (int r = 6; r <= 8; r++) {
		static const uint8_t mix[] = {VISOR_ALU_ADD, VISOR_ALU_XOR, VISOR_ALU_SUB};

		emit(g, VISOR_CLS_ALU64 | mix[below(g, 3)] | VISOR_SRC_X, 0, r, 0, 0);
	}
	emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
}

/* Lays out main and the subprograms it reaches (calls go only to higher
 * numbers, so one pass in order finds them all): the verifier refuses code
 * that nothing reaches, so an uncalled subprogram must not be emitted. */
static int link(struct gen *g, struct randprog *p)
{
	bool used[1 + MAX_SUBS] = {true};
	size_t start[1 + MAX_SUBS] = {0}, total = 0;
	struct visor_insn *out;

	for (int k = 0; k <= g->nsubs; k++) {
		if (!used[k])
			continue;
		start[k] = total;
		total += g->units[k].n;
		for (int i = 0; i < g->units[k].ncalls; i++)
			used[1 + g->units[k].calls[i].target] = true;
	}
	out = malloc(total * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (int k = 0; k <= g->nsubs; k++) {
		struct unit *u = &g->units[k];

		if (!used[k])
			continue;
		memcpy(out + start[k], u->insns, u->n * sizeof(*out));
		for (int i = 0; i < u->ncalls; i++) {
			size_t at = start[k] + u->calls[i].at;

			out[at].imm = (int32_t)((long)start[1 + u->calls[i].target] - (long)at - 1);
		}
		if (k)
			p->nsubs++;
	}
	p->insns = out;
	p->count = total;
	return 0;
}

int randprog_generate(uint64_t seed, unsigned flags, struct randprog *p)
{
	struct gen g = {.rng = seed, .flags = flags, .cur_sub = -1, .loop_mult = 1, .counter = -1};
	int nslots, err;

	memset(p, 0, sizeof(*p));
	g.u = &g.units[0];
	/* Mix the seed once so that neighbouring seeds diverge at once. */
	randprog_next(&g.rng);
	g.ctx_len = 80 + 8 * below(&g, (RANDPROG_MAX_CTX - 80) / 8 + 1);
	for (size_t i = 0; i < g.ctx_len; i += 8) {
		uint64_t v = chance(&g, 20) ? imm64(&g) : rnd(&g);

		memcpy(p->ctx + i, &v, 8);
	}
	g.nsubs = (flags & RANDPROG_NO_CALLS) || chance(&g, 60) ? 0 : 1 + (int)below(&g, MAX_SUBS);
	g.stack_len = frame_size(&g, MAIN_STACK_MAX);

	/* Prologue: keep ctx in r9, give r0..r8 constants, fill the stack. */
	emit(&g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, R_CTX, 1, 0, 0);
	for (int r = 0; r <= 8; r++)
		init_reg(&g, r);
	init_stack(&g);

	p->body_insns = 20 + below(&g, 181);
	gen_block(&g, p->body_insns);

	/* Epilogue: every register and as much stack as fits go to ctx. */
	for (int r = 0; r <= 8; r++)
		emit(&g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, R_CTX, r,
		     (int16_t)(RANDPROG_REGS_OFF + 8 * r), 0);
	nslots = (int)(g.ctx_len - RANDPROG_STACK_OFF) / 8;
	if (nslots > g.stack_len / 8)
		nslots = g.stack_len / 8;
	for (int s = 0; s < nslots; s++) {
		emit(&g, VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_DW, 1, R_FP,
		     (int16_t)(-8 * (s + 1)), 0);
		emit(&g, VISOR_CLS_STX | VISOR_MODE_MEM | VISOR_SIZE_DW, R_CTX, 1,
		     (int16_t)(RANDPROG_STACK_OFF + 8 * s), 0);
	}
	emit(&g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);

	for (int k = 0; k < g.nsubs; k++)
		gen_sub(&g, k);
	err = g.oom ? -ENOMEM : link(&g, p);
	for (int k = 0; k <= MAX_SUBS; k++)
		free(g.units[k].insns);
	if (err)
		return err;
	p->ctx_len = g.ctx_len;
	p->nloops = g.nloops;
	return 0;
}

void randprog_free(struct randprog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->count = 0;
}
