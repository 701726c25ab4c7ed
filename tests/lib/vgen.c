/* Verifier-shaped random programs and the soundness oracle: see vgen.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/verifier.h>
#include <visor/visor.h>

#include "packets.h"
#include "insnbuf.h"
#include "rng.h"
#include "vgen.h"

#define MAX_FUNCS 4
#define MAX_CALLS 64
#define FRAME 512

enum {
	H_LOOKUP = 1, H_UPDATE = 2, H_DELETE = 3, H_KTIME = 5, H_PRANDOM = 7, H_CPU = 8,
	H_SKB_LOAD_BYTES = 26, H_XDP_ADJUST_HEAD = 44, H_PROBE_READ_USER = 112,
	H_RB_OUTPUT = 130, H_RB_RESERVE = 131, H_RB_SUBMIT = 132, H_RB_DISCARD = 133,
};

unsigned vgen_avoid;

void vgen_avoid_from_env(void)
{
	const char *v = getenv("VISOR_SOUNDNESS_AVOID");
	if (v && strstr(v, "atomic"))
		vgen_avoid |= VGEN_AVOID_MISALIGNED_ATOMIC;
}

/* ---- emitting ------------------------------------------------------------ */

struct gen {
	struct rng r;
	struct vgen_prog *p;
	struct insn_buf buf;
	/* local calls: patched once every function is placed */
	struct {
		size_t at;
		int func;
	} calls[MAX_CALLS];
	int ncalls;
	size_t func_at[MAX_FUNCS];
	int func_kind[MAX_FUNCS];
	int nfuncs;
	/* what the generator believes of the main frame */
	uint8_t init[FRAME];  /* byte initialised on every path (index = 512 + off) */
	int cond;             /* inside a conditionally skipped block */
	bool in_loop;         /* r9 is a loop counter */
	int loop_iterations;  /* ... counting 0 .. loop_iterations - 1 */
	int pkt_proven;       /* r7 = data with this many bytes checked (-1: none, stale after adjust) */
	bool r7_stale;
	int mistakes;         /* percent chance of a deliberate mistake per idiom */
	int fsz;              /* bytes of the main frame used: less when subprograms
				 need room in the 512 bytes a call chain may use */
	int no_call;          /* scalar sources may not call helpers */
	bool in_func;         /* generating a subprogram: r6-r9 are not ours */
};

static size_t emit(struct gen *g, uint8_t code, int dst, int src, int off, int32_t imm)
{
	return insn_buf_emit(&g->buf, code, dst, src, off, imm);
}

#define ALU64(op, d, imm) emit(g, VISOR_CLS_ALU64 | (op) | VISOR_SRC_K, d, 0, 0, imm)
#define ALU64X(op, d, s) emit(g, VISOR_CLS_ALU64 | (op) | VISOR_SRC_X, d, s, 0, 0)
#define ALU32(op, d, imm) emit(g, VISOR_CLS_ALU | (op) | VISOR_SRC_K, d, 0, 0, imm)
#define ALU32X(op, d, s) emit(g, VISOR_CLS_ALU | (op) | VISOR_SRC_X, d, s, 0, 0)
#define MOV(d, imm) ALU64(VISOR_ALU_MOV, d, imm)
#define MOVX(d, s) ALU64X(VISOR_ALU_MOV, d, s)
#define LDX(sz, d, s, off) emit(g, VISOR_CLS_LDX | VISOR_MODE_MEM | (sz), d, s, off, 0)
#define STX(sz, d, s, off) emit(g, VISOR_CLS_STX | VISOR_MODE_MEM | (sz), d, s, off, 0)
#define ST(sz, d, off, imm) emit(g, VISOR_CLS_ST | VISOR_MODE_MEM | (sz), d, 0, off, imm)
#define JMP(op, d, imm) emit(g, VISOR_CLS_JMP | (op) | VISOR_SRC_K, d, 0, 0, imm)
#define JMPX(op, d, s) emit(g, VISOR_CLS_JMP | (op) | VISOR_SRC_X, d, s, 0, 0)
#define CALL(id) emit(g, VISOR_OPCODE_CALL, 0, 0, 0, id)

static void lddw(struct gen *g, int dst, int src, uint64_t v)
{
	emit(g, VISOR_OPCODE_LDDW, dst, src, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

/* Makes the forward jump at j land here. */
static void land(struct gen *g, size_t j)
{
	if (!g->buf.oom)
		g->buf.code[j].off = (int16_t)(g->buf.n - j - 1);
}

static const uint8_t sizes[4] = {VISOR_SIZE_B, VISOR_SIZE_H, VISOR_SIZE_W, VISOR_SIZE_DW};
static int size_of(uint8_t sz) { return (int)visor_size_bytes(sz); }
static uint8_t rsize(struct gen *g) { return sizes[below(&g->r, 4)]; }

static bool mistake(struct gen *g) { return chance(&g->r, (unsigned)g->mistakes); }

/* Folds scalar s into the accumulator r9 (not while r9 counts a loop). */
static void acc(struct gen *g, int s)
{
	if (!g->in_loop && !g->in_func)
		ALU64X(VISOR_ALU_ADD, 9, s);
}

/* ---- the frame ----------------------------------------------------------- */

static void mark_init(struct gen *g, int off, int len)
{
	if (g->cond)
		return; /* only on some paths */
	for (int i = off; i < off + len; i++)
		if (i >= -FRAME && i < 0)
			g->init[FRAME + i] = 1;
}

static bool is_init(const struct gen *g, int off, int len)
{
	for (int i = off; i < off + len; i++)
		if (i < -FRAME || i >= 0 || !g->init[FRAME + i])
			return false;
	return true;
}

/* A frame offset for an access of n bytes, aligned to align: mostly inside
 * the frame, now and then just outside it. */
static int frame_off(struct gen *g, int n, int align)
{
	if (mistake(g)) {
		if (chance(&g->r, 50)) /* just outside, above or below */
			return chance(&g->r, 50) ? between(&g->r, -n + 1, 8)
						 : between(&g->r, -g->fsz - 8, -g->fsz - 1);
		return between(&g->r, -g->fsz, -n); /* maybe misaligned */
	}
	return between(&g->r, -g->fsz, -n) & ~(align - 1);
}

/* Initialises [off, off + len) of the frame with stores. */
static void fill_frame(struct gen *g, int off, int len)
{
	int i = off;
	while (i < off + len) {
		int left = off + len - i;
		uint8_t sz = left >= 8 && !(i & 7) ? VISOR_SIZE_DW
			     : left >= 4 && !(i & 3) ? VISOR_SIZE_W
			     : left >= 2 && !(i & 1) ? VISOR_SIZE_H
						     : VISOR_SIZE_B;
		ST(sz, 10, i, (int32_t)below(&g->r, 256));
		i += size_of(sz);
	}
	mark_init(g, off, len);
}

/* An initialised frame offset of n bytes, or 0 if none was found quickly. */
static int init_off(struct gen *g, int n)
{
	for (int tries = 0; tries < 16; tries++) {
		int off = between(&g->r, -g->fsz, -n) & ~(n - 1); /* stack accesses are aligned */
		if (is_init(g, off, n))
			return off;
	}
	return 0;
}

/* ---- scalars ------------------------------------------------------------- */

static const uint8_t alu_ops[] = {VISOR_ALU_ADD, VISOR_ALU_SUB, VISOR_ALU_MUL, VISOR_ALU_OR,
				  VISOR_ALU_AND, VISOR_ALU_LSH, VISOR_ALU_RSH, VISOR_ALU_XOR,
				  VISOR_ALU_ARSH, VISOR_ALU_DIV, VISOR_ALU_MOD};

/* A few ALU instructions on scalar register d (32- and 64-bit, shifts,
 * sign-extending moves, byte swaps, negation). */
static void scalar_ops(struct gen *g, int d, int n)
{
	for (int i = 0; i < n; i++) {
		bool is64 = chance(&g->r, 60);
		uint8_t cls = is64 ? VISOR_CLS_ALU64 : VISOR_CLS_ALU;
		switch (below(&g->r, 8)) {
		case 0: /* sign-extending move */
			emit(g, cls | VISOR_ALU_MOV | VISOR_SRC_X, d, d, is64 ? (int)(8u << below(&g->r, 3)) : (int)(8u << below(&g->r, 2)), 0);
			break;
		case 1:
			emit(g, cls | VISOR_ALU_NEG, d, 0, 0, 0);
			break;
		case 2:
			emit(g, (is64 ? VISOR_CLS_ALU64 : VISOR_CLS_ALU) | VISOR_ALU_END |
					(is64 ? 0 : (chance(&g->r, 50) ? VISOR_END_TO_BE : VISOR_END_TO_LE)),
			     d, 0, 0, 16 << below(&g->r, 3));
			break;
		case 3: { /* with another scratch register */
			int s = (int)below(&g->r, 6);
			if (s == d)
				s = g->in_func ? (d == 5 ? 4 : 5) : 9;
			if (s == 0 && g->no_call) /* r0 holds a pointer the caller uses */
				s = d == 5 ? 4 : 5;
			uint8_t op = alu_ops[below(&g->r, sizeof(alu_ops))];
			if (op == VISOR_ALU_LSH || op == VISOR_ALU_RSH || op == VISOR_ALU_ARSH)
				op = VISOR_ALU_ADD;
			if (s != 9)
				MOV(s, (int32_t)below(&g->r, 100)); /* scratch: make it a scalar */
			emit(g, cls | op | VISOR_SRC_X, d, s, 0, 0);
			break;
		}
		default: {
			uint8_t op = alu_ops[below(&g->r, sizeof(alu_ops))];
			int32_t imm;
			if (op == VISOR_ALU_LSH || op == VISOR_ALU_RSH || op == VISOR_ALU_ARSH)
				imm = (int32_t)below(&g->r, is64 ? 64 : 32);
			else if (op == VISOR_ALU_DIV || op == VISOR_ALU_MOD)
				imm = 1 + (int32_t)below(&g->r, 100);
			else
				imm = chance(&g->r, 50) ? (int32_t)below(&g->r, 256)
							: (int32_t)rbits(&g->r, 4);
			int off = (op == VISOR_ALU_DIV || op == VISOR_ALU_MOD) && chance(&g->r, 30);
			emit(g, cls | op | VISOR_SRC_K, d, 0, off, imm);
		}
		}
	}
}

static void ctx_field(struct gen *g, int *off, uint8_t *sz);

/* d = an unknown-ish scalar: from a helper, the context, the stack or a
 * constant. Helpers clobber r1-r5. */
static void scalar_source(struct gen *g, int d)
{
	switch (below(&g->r, 5)) {
	case 0:
	case 1:
		if (g->no_call) {
			MOV(d, (int32_t)rbits(&g->r, 4));
			break;
		}
		CALL(chance(&g->r, 70) ? H_PRANDOM : H_KTIME);
		if (d != 0)
			MOVX(d, 0);
		break;
	case 2: {
		int off;
		uint8_t sz;
		ctx_field(g, &off, &sz);
		if (off >= 0)
			LDX(sz, d, 6, off);
		else
			MOV(d, 7);
		break;
	}
	case 3: {
		uint8_t sz = rsize(g);
		int off = init_off(g, size_of(sz));
		if (off && sz != VISOR_SIZE_DW && chance(&g->r, 30))
			emit(g, VISOR_CLS_LDX | VISOR_MODE_MEMSX | sz, d, 10, off, 0);
		else if (off)
			LDX(sz, d, 10, off);
		else
			MOV(d, -3);
		break;
	}
	default:
		if (chance(&g->r, 50))
			MOV(d, (int32_t)rbits(&g->r, 4));
		else
			lddw(g, d, 0, rbits(&g->r, 8));
	}
	if (chance(&g->r, 40))
		scalar_ops(g, d, 1 + (int)below(&g->r, 3));
}

/* Forward jumps to one label, landed together. */
struct skips {
	size_t j[6];
	int n;
};

static void skip_to(struct skips *s, size_t j)
{
	if (s->n < 6)
		s->j[s->n++] = j;
}

static void land_all(struct gen *g, struct skips *s)
{
	for (int i = 0; i < s->n; i++)
		land(g, s->j[i]);
	s->n = 0;
}

/* Bounds scalar d to [0, limit] (sometimes a little more, or only on one
 * side) by a mask, a shift or comparisons that jump to sk's label. */
static void bound(struct gen *g, int d, int limit, struct skips *sk)
{
	bool bad = mistake(g);
	switch (below(&g->r, 9)) {
	case 7: /* modulo: unsigned is bounded, signed may be negative */
		emit(g, (chance(&g->r, 50) ? VISOR_CLS_ALU64 : VISOR_CLS_ALU) | VISOR_ALU_MOD | VISOR_SRC_K, d,
		     0, bad ? 1 : 0, limit + 1);
		return;
	case 8: { /* a mask, then scaled up by a shift or a multiply */
		int sh = 1 + (int)below(&g->r, 3);
		uint32_t m = 1;
		while ((m * 2 - 1) << sh <= (uint32_t)limit)
			m *= 2;
		m -= 1;
		ALU64(VISOR_ALU_AND, d, (int32_t)m);
		if (chance(&g->r, 50))
			ALU64(VISOR_ALU_LSH, d, bad ? sh + 1 : sh);
		else
			ALU64(VISOR_ALU_MUL, d, bad ? 2 << sh : 1 << sh);
		return;
	}
	case 0: { /* mask to a power of two */
		uint32_t m = 1;
		while (m * 2 - 1 <= (uint32_t)limit)
			m *= 2;
		m -= 1;
		if (bad)
			m = m * 2 + 1;
		if (chance(&g->r, 50))
			ALU64(VISOR_ALU_AND, d, (int32_t)m);
		else
			ALU32(VISOR_ALU_AND, d, (int32_t)m);
		return;
	}
	case 1: { /* shift the top bits down */
		int bits = 0;
		while ((1 << (bits + 1)) - 1 <= limit)
			bits++;
		if (bad)
			bits++;
		if (chance(&g->r, 50)) {
			ALU32X(VISOR_ALU_MOV, d, d);
			ALU64(VISOR_ALU_RSH, d, 32 - bits);
		} else {
			ALU64(VISOR_ALU_RSH, d, 64 - bits);
		}
		return;
	}
	case 2: /* unsigned compare, skip when too large */
		if (chance(&g->r, 50))
			skip_to(sk, JMP(VISOR_JMP_JGT, d, bad ? limit + 1 : limit));
		else
			skip_to(sk, JMP(VISOR_JMP_JGE, d, bad ? limit + 2 : limit + 1));
		return;
	case 3: /* signed compares: both sides needed */
		skip_to(sk, JMP(VISOR_JMP_JSGT, d, limit));
		if (!bad)
			skip_to(sk, JMP(VISOR_JMP_JSLT, d, 0));
		return;
	case 4: /* 32-bit compare: the upper half of a 64-bit value still counts */
		if (!bad)
			ALU32X(VISOR_ALU_MOV, d, d);
		skip_to(sk, emit(g, VISOR_CLS_JMP32 | VISOR_JMP_JGT | VISOR_SRC_K, d, 0, 0, limit));
		return;
	case 5: { /* the sign-extended low byte, then a signed check */
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, d, d, 8, 0);
		if (!bad)
			skip_to(sk, JMP(VISOR_JMP_JSLT, d, 0));
		skip_to(sk, JMP(VISOR_JMP_JSGT, d, limit));
		return;
	}
	default: { /* "if d < limit + 1 goto ok; goto skip": the other direction */
		size_t ok = JMP(VISOR_JMP_JLT, d, bad ? limit + 2 : limit + 1);
		skip_to(sk, emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0));
		land(g, ok);
		return;
	}
	}
}

/* ---- the context --------------------------------------------------------- */

/* Scalar fields only: data, data_end and data_meta are pointers (the
 * packet idioms read them); egress_ifindex is for devmap programs. */
static const int xdp_fields[] = {12, 16};
static const int skb_fields[] = {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68};
static const int tc_writes[] = {8, 32, 44, 48, 52, 56, 60, 64};
static const int sf_writes[] = {48, 52, 56, 60, 64};

/* A readable context field (*off -1 when the type has none). */
static void ctx_field(struct gen *g, int *off, uint8_t *sz)
{
	const struct vgen_prog *p = g->p;
	*sz = VISOR_SIZE_W;
	switch (p->prog_type) {
	case 6:
		*off = xdp_fields[below(&g->r, 2)];
		break;
	case 1:
	case 3:
		*off = skb_fields[below(&g->r, sizeof(skb_fields) / sizeof(int))];
		break;
	case 2:
		*sz = chance(&g->r, 80) ? VISOR_SIZE_DW : VISOR_SIZE_W;
		*off = 8 * (int)below(&g->r, 21);
		break;
	default:
		if (p->ctx_size < 8) {
			*off = -1;
			return;
		}
		*sz = rsize(g);
		*off = (int)below(&g->r, p->ctx_size - (uint32_t)size_of(*sz) + 1);
	}
}

/* Untyped programs: the input memory at a variable offset, and atomics
 * on it. */
static void gen_mem_var(struct gen *g)
{
	uint8_t sz = rsize(g);
	int n = size_of(sz);
	int size = (int)g->p->ctx_size;
	if (n > size)
		return;
	scalar_source(g, 2);
	struct skips sk = {0};
	bound(g, 2, size - n, &sk);
	MOVX(1, 6);
	ALU64X(VISOR_ALU_ADD, 1, 2);
	if (n >= 4 && chance(&g->r, 30)) {
		if (!mistake(g) || (vgen_avoid & VGEN_AVOID_MISALIGNED_ATOMIC))
			ALU64(VISOR_ALU_AND, 1, -n); /* aligned, as atomics must be */
		MOV(3, 1);
		emit(g, VISOR_CLS_STX | VISOR_MODE_ATOMIC | sz, 1, 3, 0,
		     chance(&g->r, 50) ? VISOR_ATOMIC_ADD : VISOR_ATOMIC_XCHG);
	} else if (chance(&g->r, 40)) {
		ST(sz, 1, 0, 3);
	} else {
		LDX(sz, 3, 1, 0);
		acc(g, 3);
	}
	land_all(g, &sk);
}

static void gen_ctx(struct gen *g)
{
	const struct vgen_prog *p = g->p;
	int off;
	uint8_t sz;
	int d = (int)below(&g->r, 6);
	if (p->prog_type == 0 && chance(&g->r, 30)) {
		gen_mem_var(g);
		return;
	}
	ctx_field(g, &off, &sz);
	if (off < 0)
		return;
	int base = 6;
	if (mistake(g)) {
		switch (below(&g->r, 5)) {
		case 0: off = (int)below(&g->r, 256); break;                  /* anywhere */
		case 1: off += 1 + (int)below(&g->r, 3); break;               /* misaligned */
		case 2: sz = rsize(g); break;                                 /* wrong width */
		case 3: off = p->prog_type ? off : (int)p->ctx_size - size_of(sz) + 1; break;
		default: /* through a modified context pointer */
			MOVX(1, 6);
			ALU64(VISOR_ALU_ADD, 1, 4);
			off -= 4;
			base = 1;
			d = d == 1 ? 2 : d;
		}
	}
	bool write = chance(&g->r, p->prog_type == 0 ? 40 : p->prog_type == 1 || p->prog_type == 3 ? 15 : 0) ||
		     mistake(g);
	if (write) {
		if (p->prog_type == 3 && !mistake(g)) {
			off = tc_writes[below(&g->r, 8)];
			sz = VISOR_SIZE_W;
		} else if (p->prog_type == 1 && !mistake(g)) {
			off = sf_writes[below(&g->r, 5)];
			sz = VISOR_SIZE_W;
		}
		if (chance(&g->r, 50))
			ST(sz, base, off, (int32_t)below(&g->r, 1000));
		else {
			MOV(d == base ? 0 : d, (int32_t)below(&g->r, 1000));
			STX(sz, base, d == base ? 0 : d, off);
		}
		return;
	}
	LDX(sz, d, base, off);
	if (chance(&g->r, 50))
		acc(g, d);
}

/* ---- the stack ----------------------------------------------------------- */

static void gen_stack_store(struct gen *g)
{
	uint8_t sz = rsize(g);
	int n = size_of(sz);
	int off = frame_off(g, n, n);
	if (chance(&g->r, 50)) {
		ST(sz, 10, off, (int32_t)rbits(&g->r, 4));
	} else {
		int s = (int)below(&g->r, 6);
		if (chance(&g->r, 70))
			MOV(s, (int32_t)rbits(&g->r, 4));
		else
			scalar_source(g, s);
		STX(sz, 10, s, off);
	}
	mark_init(g, off, n);
}

static void gen_stack_load(struct gen *g)
{
	uint8_t sz = rsize(g);
	int n = size_of(sz);
	int off = mistake(g) ? frame_off(g, n, n) : init_off(g, n);
	if (!off) {
		off = frame_off(g, n, n);
		fill_frame(g, off, n);
	}
	int d = (int)below(&g->r, 6);
	if (chance(&g->r, 20))
		emit(g, VISOR_CLS_LDX | VISOR_MODE_MEMSX | (sz == VISOR_SIZE_DW ? VISOR_SIZE_W : sz), d, 10, off, 0);
	else
		LDX(sz, d, 10, off);
	acc(g, d);
}

/* Stack access at a variable offset: r1 = r10 - base + bounded scalar. */
static void gen_stack_var(struct gen *g)
{
	uint8_t sz = rsize(g);
	int n = size_of(sz);
	int limit = (int)below(&g->r, 64) & ~(n - 1);
	int base = (-(limit + n) - 8 * (int)below(&g->r, 8)) & ~(n - 1);
	if (mistake(g))
		base += between(&g->r, 1, 4);
	if (base < -g->fsz)
		base = -g->fsz;
	if (!mistake(g))
		fill_frame(g, base, limit + n < -base ? limit + n : -base);
	scalar_source(g, 2);
	struct skips sk = {0};
	bound(g, 2, limit, &sk);
	if (n > 1 && !mistake(g))
		ALU64(VISOR_ALU_AND, 2, -n); /* a multiple of the access size */
	if (chance(&g->r, 30)) { /* the bounds must survive a spill and fill */
		int slot = -8 * (1 + (int)below(&g->r, 4)) + base; /* below the accessed bytes */
		slot &= ~7;
		if (slot >= -g->fsz) {
			bool w32 = chance(&g->r, 30);
			STX(w32 ? VISOR_SIZE_W : VISOR_SIZE_DW, 10, 2, slot);
			if (mistake(g)) /* one byte of it overwritten: unknown again */
				ST(VISOR_SIZE_B, 10, slot + (int)below(&g->r, w32 ? 4 : 8), 0x7f);
			LDX(w32 ? VISOR_SIZE_W : VISOR_SIZE_DW, 2, 10, slot);
		}
	}
	MOVX(1, 10);
	ALU64(VISOR_ALU_ADD, 1, base);
	ALU64X(VISOR_ALU_ADD, 1, 2);
	if (chance(&g->r, 40)) {
		ST(sz, 1, 0, (int32_t)below(&g->r, 256));
	} else {
		LDX(sz, 3, 1, 0);
		acc(g, 3);
	}
	land_all(g, &sk);
}

/* Spill a pointer, maybe overwrite part of it, fill it and use it. */
static void gen_spill(struct gen *g)
{
	int off = -8 * (1 + (int)below(&g->r, (uint32_t)g->fsz / 8));
	int kind = (int)below(&g->r, 3); /* 0 ctx, 1 stack, 2 packet */
	if (kind == 2 && g->pkt_proven <= 0)
		kind = 0;
	int src = kind == 0 ? 6 : kind == 2 ? 7 : 1;
	int soff = 0;
	if (kind == 1) {
		soff = -8 * (1 + (int)below(&g->r, 16));
		MOVX(1, 10);
		ALU64(VISOR_ALU_ADD, 1, soff);
	}
	if (mistake(g) && chance(&g->r, 40))
		STX(VISOR_SIZE_W, 10, src, off); /* a half spill */
	else
		STX(VISOR_SIZE_DW, 10, src, off);
	mark_init(g, off, 8);
	if (mistake(g) && chance(&g->r, 60)) /* a partial overwrite */
		ST(chance(&g->r, 50) ? VISOR_SIZE_B : VISOR_SIZE_W, 10, off + (int)below(&g->r, 4), 0x41);
	if (kind == 1 && soff == off)
		return; /* the slot pointed at itself */
	LDX(VISOR_SIZE_DW, 2, 10, off);
	switch (kind) {
	case 0: {
		int coff;
		uint8_t sz;
		ctx_field(g, &coff, &sz);
		if (coff >= 0)
			LDX(sz, 3, 2, coff);
		break;
	}
	case 1:
		if (chance(&g->r, 50)) {
			ST(VISOR_SIZE_DW, 2, 0, 5);
			if (soff != off)
				mark_init(g, soff, 8);
		} else if (is_init(g, soff, 8) || mistake(g)) {
			LDX(VISOR_SIZE_DW, 3, 2, 0);
		}
		break;
	default: {
		int sz = chance(&g->r, 50) ? 1 : 4;
		int poff = (int)below(&g->r, (uint32_t)(g->pkt_proven - sz + 1 + (mistake(g) ? 2 : 0)));
		LDX(sz == 1 ? VISOR_SIZE_B : VISOR_SIZE_W, 3, 2, poff);
	}
	}
}

/* ---- packets ------------------------------------------------------------- */

static bool packet_type(const struct vgen_prog *p) { return p->prog_type == 6 || p->prog_type == 3; }
static int data_off(const struct vgen_prog *p) { return p->prog_type == 6 ? 0 : 76; }
static int data_end_off(const struct vgen_prog *p) { return p->prog_type == 6 ? 4 : 80; }

/* rp = data; re = data_end. */
static void load_pkt(struct gen *g, int rp, int re)
{
	LDX(VISOR_SIZE_W, rp, 6, data_off(g->p));
	LDX(VISOR_SIZE_W, re, 6, data_end_off(g->p));
}

/* Jumps to a skip label unless [rp, rp + n) is inside the packet; returns
 * the jump to land. Uses rt as a temporary. Every direction and both
 * operand orders, with the off-by-one now and then. */
static size_t check_pkt(struct gen *g, int rp, int re, int rt, int n)
{
	bool bad = mistake(g);
	int k = bad ? n - 1 : n;
	if (bad && chance(&g->r, 30))
		k = n - 1 - (int)below(&g->r, 4);
	MOVX(rt, rp);
	ALU64(VISOR_ALU_ADD, rt, k);
	switch (below(&g->r, 5)) {
	case 0: return JMPX(VISOR_JMP_JGT, rt, re);
	case 1: return JMPX(VISOR_JMP_JLT, re, rt);
	case 2: /* stricter than needed */
		return JMPX(bad ? VISOR_JMP_JGT : VISOR_JMP_JGE, rt, re);
	case 3: { /* if end >= rt goto ok; goto skip */
		size_t ok = JMPX(bad && chance(&g->r, 50) ? VISOR_JMP_JGT : VISOR_JMP_JGE, re, rt);
		size_t skip = emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
		land(g, ok);
		return skip;
	}
	default: { /* if rt <= end goto ok; goto skip */
		size_t ok = JMPX(VISOR_JMP_JLE, rt, re);
		size_t skip = emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
		land(g, ok);
		return skip;
	}
	}
}

static void pkt_access(struct gen *g, int rp, int off, int n, int tmp)
{
	uint8_t sz = n == 1 ? VISOR_SIZE_B : n == 2 ? VISOR_SIZE_H : n == 4 ? VISOR_SIZE_W : VISOR_SIZE_DW;
	if (chance(&g->r, 25))
		ST(sz, rp, off, (int32_t)below(&g->r, 256));
	else {
		LDX(sz, tmp, rp, off);
		acc(g, tmp);
	}
}

static void gen_pkt(struct gen *g)
{
	int n = 1 + (int)below(&g->r, chance(&g->r, 80) ? 64 : 1600);
	load_pkt(g, 2, 3);
	size_t skip = check_pkt(g, 2, 3, 4, n);
	for (int i = 0, m = 1 + (int)below(&g->r, 3); i < m; i++) {
		int w = 1 << below(&g->r, 4);
		int off = w > n ? 0 : (int)below(&g->r, (uint32_t)(n - w + 1));
		if (w > n && !mistake(g))
			w = 1;
		if (mistake(g))
			off = n - w + 1;
		pkt_access(g, 2, off, w, 5);
	}
	land(g, skip);
}

/* A variable offset into the packet: read a byte, bound it, add it, check
 * again, access. */
static void gen_pkt_var(struct gen *g)
{
	int n = 1 + (int)below(&g->r, 40);
	load_pkt(g, 2, 3);
	size_t skip = check_pkt(g, 2, 3, 4, n);
	LDX(VISOR_SIZE_B, 5, 2, (int)below(&g->r, (uint32_t)n));
	int limit = (int)below(&g->r, 128);
	struct skips sk = {0};
	if (!(mistake(g) && chance(&g->r, 50)))
		bound(g, 5, limit, &sk);
	if (mistake(g) && chance(&g->r, 30))
		emit(g, VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 5, 5, 8, 0); /* may be negative */
	if (mistake(g) && chance(&g->r, 20))
		ALU32X(VISOR_ALU_ADD, 2, 5); /* 32-bit arithmetic on a pointer */
	else if (chance(&g->r, 15)) {
		ALU64(VISOR_ALU_NEG, 5, 0); /* data - (-x) */
		ALU64X(VISOR_ALU_SUB, 2, 5);
	} else
		ALU64X(VISOR_ALU_ADD, 2, 5);
	int w = 1 << below(&g->r, 3);
	size_t skip3 = check_pkt(g, 2, 3, 4, w);
	pkt_access(g, 2, 0, w, 0);
	land(g, skip3);
	land_all(g, &sk);
	land(g, skip);
}

/* Accesses through the r7 the prologue checked. */
static void gen_pkt_proven(struct gen *g)
{
	int n = g->pkt_proven;
	int w = 1 << below(&g->r, 4);
	if (w > n)
		w = 1;
	int off = (int)below(&g->r, (uint32_t)(n - w + 1));
	if (mistake(g))
		off = n - w + (int)below(&g->r, 3);
	pkt_access(g, 7, off, w, 0);
}

static void gen_adjust_head(struct gen *g)
{
	MOVX(1, 6);
	MOV(2, between(&g->r, -16, 16));
	CALL(H_XDP_ADJUST_HEAD);
	if (!mistake(g)) {
		load_pkt(g, 7, 8);
		g->pkt_proven = 0; /* checked again below, if at all */
		if (g->cond)
			g->r7_stale = true;
	} else {
		g->r7_stale = true;
	}
}

/* Socket filter / tc: the legacy packet loads and skb_load_bytes. */
static void gen_skb_bytes(struct gen *g)
{
	if (chance(&g->r, 40)) {
		int op = (int)below(&g->r, 3);
		uint8_t sz = op == 0 ? VISOR_SIZE_B : op == 1 ? VISOR_SIZE_H : VISOR_SIZE_W;
		if (chance(&g->r, 50)) {
			emit(g, VISOR_CLS_LD | VISOR_MODE_ABS | sz, 0, 0, 0, (int32_t)below(&g->r, 80));
		} else {
			MOV(2, (int32_t)below(&g->r, 40));
			emit(g, VISOR_CLS_LD | VISOR_MODE_IND | sz, 0, 2, 0, (int32_t)below(&g->r, 40));
		}
		acc(g, 0);
		return;
	}
	int len = 1 + (int)below(&g->r, 64);
	int off = -((len + 7) & ~7) - 8 * (int)below(&g->r, 8);
	if (mistake(g))
		off += between(&g->r, 1, 8);
	MOVX(1, 6);
	MOV(2, (int32_t)below(&g->r, 100));
	MOVX(3, 10);
	ALU64(VISOR_ALU_ADD, 3, off);
	MOV(4, mistake(g) ? len + 8 : len);
	CALL(H_SKB_LOAD_BYTES);
	mark_init(g, off, len);
}

/* ---- maps and helpers ---------------------------------------------------- */

static int pick_map(struct gen *g, bool ringbuf)
{
	const struct vgen_prog *p = g->p;
	int candidates[VGEN_MAX_MAPS], n = 0;
	for (size_t i = 0; i < p->nmaps; i++)
		if ((p->maps[i].type == VISOR_MAP_TYPE_RINGBUF) == ringbuf)
			candidates[n++] = (int)i;
	if (!n)
		return -1;
	if (mistake(g) && chance(&g->r, 20))
		return (int)below(&g->r, (uint32_t)p->nmaps); /* maybe the wrong kind */
	return candidates[below(&g->r, (uint32_t)n)];
}

static void load_map(struct gen *g, int d, int idx)
{
	lddw(g, d, chance(&g->r, 50) ? VISOR_LDDW_MAP_FD : VISOR_LDDW_MAP_IDX, (uint32_t)idx);
}

/* Writes a key of key_size bytes at a frame offset; returns the offset. */
static int put_key(struct gen *g, int ksz)
{
	int off = -((ksz + 7) & ~7) - 8 * (int)below(&g->r, 16);
	bool bad = mistake(g);
	int len = bad && ksz > 1 ? ksz - 1 : ksz;
	if (ksz == 4 && !bad && chance(&g->r, 70)) {
		ST(VISOR_SIZE_W, 10, off, (int32_t)below(&g->r, 4));
		mark_init(g, off, 4);
		return off;
	}
	int i = off;
	/* small values so that lookups hit the keys the test put in */
	ST(VISOR_SIZE_B, 10, i, (int32_t)below(&g->r, 4));
	i++;
	while (i < off + len) {
		ST(VISOR_SIZE_B, 10, i, 0);
		i++;
	}
	mark_init(g, off, len);
	return off;
}

/* r1 = map idx, r2 = the key at frame offset koff. */
static void map_key_args(struct gen *g, int idx, int koff)
{
	load_map(g, 1, idx);
	MOVX(2, 10);
	ALU64(VISOR_ALU_ADD, 2, koff);
}

/* Writes a key for map idx and looks it up: r0 = the value or NULL. */
static void call_lookup(struct gen *g, int idx)
{
	int koff = put_key(g, (int)g->p->maps[idx].key_size);
	map_key_args(g, idx, koff);
	CALL(H_LOOKUP);
}

/* Accesses the map value in rv of value size vs. */
static void value_access(struct gen *g, int rv, int vs, int lock)
{
	uint8_t sz = rsize(g);
	int n = size_of(sz);
	if (vs < 1)
		vs = 8; /* a ring buffer map, picked by mistake */
	while (n > vs) {
		sz = sizes[0];
		n = 1;
	}
	bool avoid_lock = lock >= 0 && !mistake(g); /* the lock word is the helpers' only */
	if (chance(&g->r, 35) && !avoid_lock) { /* at a variable offset */
		int limit = vs - n;
		g->no_call++; /* a helper would clobber the value pointer */
		scalar_source(g, 3);
		g->no_call--;
		struct skips sk = {0};
		bound(g, 3, limit, &sk);
		MOVX(4, rv);
		ALU64X(VISOR_ALU_ADD, 4, 3);
		if (chance(&g->r, 40))
			ST(sz, 4, 0, 1);
		else
			LDX(sz, 5, 4, 0);
		land_all(g, &sk);
		return;
	}
	int off;
	if (mistake(g))
		off = vs - n + between(&g->r, 1, 2);
	else if (chance(&g->r, 50))
		off = vs - n; /* the last bytes */
	else
		off = (int)below(&g->r, (uint32_t)(vs - n + 1));
	if (avoid_lock && off < lock + 4 && off + n > lock) { /* a byte beside it instead */
		sz = VISOR_SIZE_B;
		n = 1;
		off = lock + 4 < vs ? lock + 4 : lock - 1;
		if (off < 0)
			return;
	}
	int aligned = off & ~(n - 1);
	bool atomic_ok = !(avoid_lock && aligned < lock + 4 && aligned + n > lock);
	if (chance(&g->r, 40)) {
		ST(sz, rv, off, (int32_t)below(&g->r, 256));
	} else if (chance(&g->r, 20) && n >= 4 && vs >= n && atomic_ok) {
		/* atomic add, aligned as atomics must be */
		if (!mistake(g) || (vgen_avoid & VGEN_AVOID_MISALIGNED_ATOMIC))
			off = aligned;
		MOV(5, 1);
		emit(g, VISOR_CLS_STX | VISOR_MODE_ATOMIC | (n == 8 ? VISOR_SIZE_DW : VISOR_SIZE_W), rv, 5,
		     off, VISOR_ATOMIC_ADD | (chance(&g->r, 30) ? VISOR_ATOMIC_FETCH : 0));
	} else {
		LDX(sz, 5, rv, off);
		acc(g, 5);
	}
}

static void gen_lookup(struct gen *g)
{
	int m = pick_map(g, false);
	if (m < 0)
		return;
	const struct vgen_map *map = &g->p->maps[m];
	call_lookup(g, m);
	size_t skip = 0;
	if (!mistake(g)) {
		if (chance(&g->r, 80))
			skip = JMP(VISOR_JMP_JEQ, 0, 0);
		else { /* if r0 != 0 goto ok; goto skip */
			size_t ok = JMP(VISOR_JMP_JNE, 0, 0);
			skip = emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
			land(g, ok);
		}
	}
	int vs = (int)map->value_size;
	if (chance(&g->r, 20)) { /* spill and fill the value pointer first */
		int off = -8 * (1 + (int)below(&g->r, 60));
		STX(VISOR_SIZE_DW, 10, 0, off);
		LDX(VISOR_SIZE_DW, 0, 10, off);
	}
	for (int i = 0, k = 1 + (int)below(&g->r, 3); i < k; i++)
		value_access(g, 0, vs, map->spin_lock_off);
	if (skip)
		land(g, skip);
}

static void gen_update(struct gen *g)
{
	int m = pick_map(g, false);
	if (m < 0)
		return;
	const struct vgen_map *map = &g->p->maps[m];
	int koff = put_key(g, (int)map->key_size);
	int vs = (int)map->value_size;
	int voff = -((vs + 7) & ~7) - 8 * (int)below(&g->r, 8);
	if (voff < -g->fsz)
		voff = -g->fsz;
	if (!mistake(g))
		fill_frame(g, voff, vs < -voff ? vs : -voff);
	map_key_args(g, m, koff);
	if (chance(&g->r, 15)) {
		CALL(H_DELETE);
		return;
	}
	MOVX(3, 10);
	ALU64(VISOR_ALU_ADD, 3, voff);
	MOV(4, chance(&g->r, 80) ? 0 : (int32_t)below(&g->r, 4));
	CALL(H_UPDATE);
	acc(g, 0);
}

static void gen_probe_read(struct gen *g)
{
	int len = 1 + (int)below(&g->r, 64);
	int off = -((len + 7) & ~7) - 8 * (int)below(&g->r, 16);
	if (mistake(g))
		off += between(&g->r, 1, 8);
	if (chance(&g->r, 30)) { /* a size in a register, bounded */
		scalar_source(g, 2);
		struct skips sk = {0};
		bound(g, 2, len, &sk);
		MOVX(1, 10);
		ALU64(VISOR_ALU_ADD, 1, off);
		MOV(3, 0);
		CALL(H_PROBE_READ_USER);
		land_all(g, &sk);
		return; /* only r2 bytes were written, and only if the call ran */
	} else {
		MOVX(1, 10);
		ALU64(VISOR_ALU_ADD, 1, off);
		MOV(2, mistake(g) ? len + (int)below(&g->r, 600) : len);
		/* the source: bytes both engines hold alike, numbers only (a
		 * spilled pointer, or what the process has around the context,
		 * differs from run to run), or NULL */
		int src = -((len + 7) & ~7) - 8 * (int)below(&g->r, 16);
		if (chance(&g->r, 70) && src >= -g->fsz) {
			fill_frame(g, src, len);
			MOVX(3, 10);
			ALU64(VISOR_ALU_ADD, 3, src);
		} else {
			MOV(3, 0);
		}
		CALL(H_PROBE_READ_USER);
	}
	/* the helper fills the buffer even when it fails */
	mark_init(g, off, len);
}

static void gen_ringbuf(struct gen *g)
{
	int m = pick_map(g, true);
	if (m < 0)
		return;
	int size = 8 * (1 + (int)below(&g->r, 8));
	if (chance(&g->r, 20) && !mistake(g)) { /* ringbuf_output from the stack */
		int off = -size - 8 * (int)below(&g->r, 8);
		fill_frame(g, off, size);
		load_map(g, 1, m);
		MOVX(2, 10);
		ALU64(VISOR_ALU_ADD, 2, off);
		MOV(3, size);
		MOV(4, 0);
		CALL(H_RB_OUTPUT);
		return;
	}
	load_map(g, 1, m);
	MOV(2, size);
	MOV(3, 0);
	CALL(H_RB_RESERVE);
	bool bad = mistake(g);
	int what = bad ? (int)below(&g->r, 4) : -1;
	size_t skip = what == 0 ? 0 : JMP(VISOR_JMP_JEQ, 0, 0);
	for (int i = 0, k = 1 + (int)below(&g->r, 3); i < k; i++) {
		int n = 1 << below(&g->r, 4);
		int off = what == 1 ? size - n + 1 : (int)below(&g->r, (uint32_t)(size - n + 1));
		ST(n == 1 ? VISOR_SIZE_B : n == 2 ? VISOR_SIZE_H : n == 4 ? VISOR_SIZE_W : VISOR_SIZE_DW, 0,
		   off, 7);
	}
	MOVX(1, 0);
	if (what == 2) {
		/* leak the record: skip the submit on one path */
		size_t j = JMP(VISOR_JMP_JEQ, 9, 3);
		MOV(2, 0);
		CALL(H_RB_SUBMIT);
		land(g, j);
	} else {
		if (what == 3) /* keep a copy and use it after the submit */
			STX(VISOR_SIZE_DW, 10, 0, -8);
		MOV(2, 0);
		CALL(chance(&g->r, 70) ? H_RB_SUBMIT : H_RB_DISCARD);
		if (what == 3) {
			LDX(VISOR_SIZE_DW, 1, 10, -8);
			ST(VISOR_SIZE_B, 1, 0, 1);
		}
	}
	if (skip)
		land(g, skip);
}

/* Two paths bound one offset differently and join; the access after the
 * join must hold for both, so a state stored at the join may only cover
 * one whose offset is within its own (pruning with precision). */
static void gen_join_offset(struct gen *g)
{
	int small = (int)below(&g->r, 16), large = small + 1 + (int)below(&g->r, 48);
	int limit = mistake(g) ? small : large;
	int base = -((limit + 8 + 7) & ~7) - 8 * (int)below(&g->r, 4);
	bool via_stack = chance(&g->r, 30);
	fill_frame(g, base, limit + 1);
	scalar_source(g, 3);
	size_t other = JMP(chance(&g->r, 50) ? VISOR_JMP_JSET : VISOR_JMP_JGT, 9, (int32_t)below(&g->r, 8));
	/* the first path, then the second: either may be explored first */
	bool small_first = chance(&g->r, 50);
	struct skips sk = {0};
	bound(g, 3, small_first ? small : large, &sk);
	size_t join = emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
	land(g, other);
	bound(g, 3, small_first ? large : small, &sk);
	land(g, join);
	if (via_stack) { /* through a spill slot too */
		STX(VISOR_SIZE_DW, 10, 3, base - 8);
		MOV(3, 0);
		LDX(VISOR_SIZE_DW, 3, 10, base - 8);
	}
	MOV(4, (int32_t)below(&g->r, 100)); /* unrelated work between */
	ALU64X(VISOR_ALU_ADD, 4, 4);
	MOVX(1, 10);
	ALU64(VISOR_ALU_ADD, 1, base);
	ALU64X(VISOR_ALU_ADD, 1, 3);
	LDX(VISOR_SIZE_B, 5, 1, 0);
	acc(g, 5);
	land_all(g, &sk);
}

/* Inside a loop: an offset that grows with the counter (r9 * 8). */
static void gen_counter_offset(struct gen *g, int iterations)
{
	int span = 8 * iterations;
	int base = -span - 8 * (int)below(&g->r, 4);
	if (mistake(g))
		base += 8; /* the last iteration one slot too far */
	if (base < -g->fsz)
		return;
	MOVX(3, 9);
	if (chance(&g->r, 50))
		ALU64(VISOR_ALU_LSH, 3, 3);
	else
		ALU64(VISOR_ALU_MUL, 3, 8);
	MOVX(1, 10);
	ALU64(VISOR_ALU_ADD, 1, base);
	ALU64X(VISOR_ALU_ADD, 1, 3);
	ST(VISOR_SIZE_DW, 1, 0, 7);
}

/* The NULL check on a copy of the lookup's result (the same id), and a
 * bound learnt from a comparison of two registers. */
static void gen_lookup_copy(struct gen *g)
{
	int m = pick_map(g, false);
	if (m < 0)
		return;
	const struct vgen_map *map = &g->p->maps[m];
	call_lookup(g, m);
	int copy = packet_type(g->p) ? 5 : 7; /* r7 holds data in packet programs */
	MOVX(copy, 0);
	size_t skip = JMP(mistake(g) ? VISOR_JMP_JNE : VISOR_JMP_JEQ, copy, 0);
	int vs = (int)map->value_size;
	g->no_call++;
	scalar_source(g, 3);
	g->no_call--;
	MOV(4, mistake(g) ? vs : vs - 1);
	size_t skip2 = JMPX(chance(&g->r, 50) ? VISOR_JMP_JGT : VISOR_JMP_JSGT, 3, 4);
	size_t skip3 = 0;
	if (!mistake(g))
		skip3 = JMP(VISOR_JMP_JSLT, 3, 0);
	ALU64X(VISOR_ALU_ADD, 0, 3);
	LDX(VISOR_SIZE_B, 5, 0, 0);
	land(g, skip2);
	if (skip3)
		land(g, skip3);
	land(g, skip);
	if (!packet_type(g->p))
		MOV(7, 0); /* r7 was only lent */
}

/* bpf_spin_lock / bpf_spin_unlock around accesses to a value with a lock
 * (the run fails on a second lock, an unlock of nothing, or an exit with
 * the lock held: what the verifier must prove cannot happen). */
static void gen_spin_lock(struct gen *g)
{
	const struct vgen_prog *p = g->p;
	int m = -1;
	for (size_t i = 0; i < p->nmaps; i++)
		if (p->maps[i].spin_lock_off >= 0 && (m < 0 || chance(&g->r, 50)))
			m = (int)i;
	if (m < 0)
		return;
	const struct vgen_map *map = &p->maps[m];
	int lock = map->spin_lock_off, slot = -8 * (1 + (int)below(&g->r, 8));
	call_lookup(g, m);
	size_t skip = JMP(VISOR_JMP_JEQ, 0, 0);
	STX(VISOR_SIZE_DW, 10, 0, slot);
	mark_init(g, slot, 8);
	MOVX(1, 0);
	ALU64(VISOR_ALU_ADD, 1, mistake(g) ? lock + 4 : lock);
	CALL(93);
	int what = mistake(g) ? (int)below(&g->r, 4) : -1;
	LDX(VISOR_SIZE_DW, 0, 10, slot);
	/* a byte of the value that is not the lock (what 0: the lock itself) */
	int off = (int)below(&g->r, map->value_size);
	if (off >= lock && off < lock + 4 && what != 0)
		off = lock + 4 < (int)map->value_size ? lock + 4 : lock - 1;
	ST(VISOR_SIZE_B, 0, off, 5);
	if (what == 1) { /* a second lock */
		MOVX(1, 0);
		ALU64(VISOR_ALU_ADD, 1, lock);
		CALL(93);
	} else if (what == 2) {
		CALL(H_PRANDOM); /* a helper call under the lock */
	}
	size_t keep = what == 3 ? JMP(VISOR_JMP_JSET, 9, 1) : 0; /* unlock on one path only */
	LDX(VISOR_SIZE_DW, 1, 10, slot);
	ALU64(VISOR_ALU_ADD, 1, lock);
	CALL(94);
	if (keep)
		land(g, keep);
	land(g, skip);
}

/* Atomics on the stack: on a slot that holds a known scalar (which must
 * not stay known) or a spilled pointer (which must not stay a pointer). */
static void gen_atomic_stack(struct gen *g)
{
	static const int32_t ops[] = {VISOR_ATOMIC_ADD, VISOR_ATOMIC_OR, VISOR_ATOMIC_AND,
				      VISOR_ATOMIC_XOR, VISOR_ATOMIC_XCHG, VISOR_ATOMIC_CMPXCHG};
	int slot = -8 * (1 + (int)below(&g->r, (uint32_t)g->fsz / 8 - 1));
	int32_t op = ops[below(&g->r, 6)];
	if (op != VISOR_ATOMIC_XCHG && op != VISOR_ATOMIC_CMPXCHG && chance(&g->r, 50))
		op |= VISOR_ATOMIC_FETCH;
	bool pointer = chance(&g->r, 10); /* (visor refuses atomics on spilled pointers) */
	bool w32 = mistake(g) && chance(&g->r, 50);
	if (pointer) {
		STX(VISOR_SIZE_DW, 10, 6, slot); /* the context */
	} else {
		ST(VISOR_SIZE_DW, 10, slot, 0);
	}
	mark_init(g, slot, 8);
	scalar_source(g, 1);
	if (op == VISOR_ATOMIC_CMPXCHG)
		MOV(0, 0); /* the value compared with */
	emit(g, VISOR_CLS_STX | VISOR_MODE_ATOMIC | (w32 ? VISOR_SIZE_W : VISOR_SIZE_DW), 10, 1,
	     slot + (w32 && chance(&g->r, 50) ? 4 : 0), op);
	LDX(VISOR_SIZE_DW, 3, 10, slot);
	if (pointer) { /* use what was a pointer: a number now */
		if (mistake(g))
			LDX(VISOR_SIZE_W, 4, 3, 0);
		return;
	}
	/* what was 0: unknown now, so bounded before it is an offset */
	struct skips sk = {0};
	if (!mistake(g))
		bound(g, 3, 56, &sk);
	else
		ALU64(VISOR_ALU_AND, 3, 63);
	ALU64(VISOR_ALU_AND, 3, -8);
	fill_frame(g, -64 - 8 * 8, 64 + 8);
	MOVX(4, 10);
	ALU64(VISOR_ALU_ADD, 4, -64 - 8 * 8);
	ALU64X(VISOR_ALU_ADD, 4, 3);
	LDX(VISOR_SIZE_DW, 5, 4, 0);
	acc(g, 5);
	land_all(g, &sk);
}

/* ---- control flow -------------------------------------------------------- */

static void gen_stmt(struct gen *g, int depth);

static void gen_loop(struct gen *g, int depth)
{
	if (g->in_loop)
		return;
	int k = 1 + (int)below(&g->r, 16);
	bool bad = mistake(g);
	g->in_loop = true;
	g->loop_iterations = k;
	g->cond++; /* stores inside count as on some paths only */
	MOV(9, 0);
	size_t top = g->buf.n;
	for (int i = 0, m = 1 + (int)below(&g->r, 3); i < m; i++)
		gen_stmt(g, depth + 1);
	/* a counter that never moves: the verifier must see the loop is
	 * infinite (rare: some bodies make that slow to see) */
	int step = bad && chance(&g->r, 15) ? 0 : 1;
	if (step)
		ALU64(VISOR_ALU_ADD, 9, step);
	size_t j;
	/* (A counter that never reaches its bound, "r9 != -1", costs the
	 * verifier its whole budget of instructions: too slow to test often.) */
	j = JMP(chance(&g->r, 50) ? VISOR_JMP_JLT : VISOR_JMP_JSLT, 9, k);
	if (!g->buf.oom)
		g->buf.code[j].off = (int16_t)((int)top - (int)j - 1);
	g->cond--;
	g->in_loop = false;
	g->loop_iterations = 0;
}

enum { F_READ = 0, F_WRITE, F_SCALAR, F_CALLS };

static void gen_local_call(struct gen *g)
{
	if (g->nfuncs < 2 || g->ncalls >= MAX_CALLS)
		return;
	int f = 1 + (int)below(&g->r, (uint32_t)(g->nfuncs - 1));
	switch (g->func_kind[f]) {
	case F_READ:
	case F_WRITE: {
		/* r1 = a 32-byte buffer of ours, r2 = its size */
		int off = -32 - 8 * (int)below(&g->r, 32);
		if (g->func_kind[f] == F_READ && !mistake(g))
			fill_frame(g, off, 32);
		MOVX(1, 10);
		ALU64(VISOR_ALU_ADD, 1, mistake(g) ? off + 8 : off);
		MOV(2, 32);
		if (g->func_kind[f] == F_WRITE)
			mark_init(g, off, 32);
		break;
	}
	default:
		scalar_source(g, 1);
	}
	g->calls[g->ncalls].at = emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_LOCAL, 0, 0);
	g->calls[g->ncalls++].func = f;
	if (mistake(g) && chance(&g->r, 30))
		LDX(VISOR_SIZE_DW, 1, 0, 0); /* the result is a scalar, or a dead frame */
	acc(g, 0);
}

static void gen_stmt(struct gen *g, int depth)
{
	const struct vgen_prog *p = g->p;
	size_t guard = 0;
	bool guarded = depth < 2 && chance(&g->r, 20);
	if (guarded) {
		static const uint8_t ops[] = {VISOR_JMP_JEQ, VISOR_JMP_JNE, VISOR_JMP_JGT, VISOR_JMP_JSGT,
					      VISOR_JMP_JSET, VISOR_JMP_JLE};
		guard = JMP(ops[below(&g->r, 6)], 9, (int32_t)below(&g->r, 8));
		g->cond++;
	}
	for (;;) {
		int pick = (int)below(&g->r, 119);
		if (pick < 10) gen_stack_store(g);
		else if (pick < 17) gen_stack_load(g);
		else if (pick < 24) gen_stack_var(g);
		else if (pick < 32) gen_ctx(g);
		else if (pick < 38) gen_spill(g);
		else if (pick < 48) {
			if (!packet_type(p)) {
				if (p->prog_type == 1) gen_skb_bytes(g);
				continue;
			}
			gen_pkt(g);
		} else if (pick < 54) {
			if (!packet_type(p))
				continue;
			gen_pkt_var(g);
		} else if (pick < 60) {
			if (g->pkt_proven <= 0 && !(g->r7_stale && mistake(g)))
				continue;
			if (g->pkt_proven <= 0)
				g->pkt_proven = 4;
			gen_pkt_proven(g);
		} else if (pick < 62) {
			if (p->prog_type != 6)
				continue;
			gen_adjust_head(g);
		} else if (pick < 64) {
			if (p->prog_type == 3) gen_skb_bytes(g);
			else continue;
		} else if (pick < 74) gen_lookup(g);
		else if (pick < 78) gen_update(g);
		else if (pick < 82) gen_probe_read(g);
		else if (pick < 86) gen_ringbuf(g);
		else if (pick < 91) {
			if (depth >= 2)
				continue;
			gen_loop(g, depth);
		} else if (pick < 95) gen_local_call(g);
		else if (pick >= 100 && pick < 104) gen_join_offset(g);
		else if (pick >= 104 && pick < 108) {
			if (!g->loop_iterations)
				continue;
			gen_counter_offset(g, g->loop_iterations);
		} else if (pick >= 108 && pick < 112) gen_lookup_copy(g);
		else if (pick >= 112 && pick < 116) {
			if (g->in_loop)
				continue;
			gen_spin_lock(g);
		} else if (pick >= 116)
			gen_atomic_stack(g);
		else {
			int d = g->in_loop ? (int)below(&g->r, 6) : (chance(&g->r, 50) ? 9 : (int)below(&g->r, 6));
			scalar_source(g, d);
			scalar_ops(g, d, 1 + (int)below(&g->r, 4));
		}
		break;
	}
	if (guarded) {
		land(g, guard);
		g->cond--;
	}
}

/* A subprogram: r1 = pointer to 32 bytes and r2 = 32 (READ, WRITE), or a
 * scalar (SCALAR); its own frame; returns a scalar. */
static void gen_func(struct gen *g, int f)
{
	g->func_at[f] = g->buf.n;
	g->in_func = true;
	int kind = g->func_kind[f];
	int own = -8 * (1 + (int)below(&g->r, 8));
	ST(VISOR_SIZE_DW, 10, own, 3); /* its own frame */
	if (kind == F_WRITE)
		for (int i = 0; i < 32; i += 8)
			ST(VISOR_SIZE_DW, 1, i, i);
	switch (kind) {
	case F_READ:
	case F_WRITE:
		for (int i = 0, k = 1 + (int)below(&g->r, 3); i < k; i++) {
			uint8_t sz = rsize(g);
			int n = size_of(sz);
			int off = (int)below(&g->r, (uint32_t)(32 - n + 1)) & ~(n - 1);
			if (mistake(g))
				off = 32 - n + between(&g->r, 1, 8);
			if (kind == F_WRITE)
				ST(sz, 1, off, 9);
			else
				LDX(sz, 3, 1, off);
		}
		if (chance(&g->r, 30)) { /* a variable index into the caller's buffer */
			MOVX(4, 2);
			ALU64(VISOR_ALU_SUB, 4, 1);
			ALU64(VISOR_ALU_AND, 4, mistake(g) ? 63 : 31);
			ALU64X(VISOR_ALU_ADD, 1, 4);
			LDX(VISOR_SIZE_B, 3, 1, 0);
		}
		break;
	default:
		MOVX(3, 1);
		scalar_ops(g, 3, 1 + (int)below(&g->r, 4));
		if (chance(&g->r, 50)) {
			ALU64(VISOR_ALU_AND, 3, 0x38);
			MOVX(4, 10);
			ALU64(VISOR_ALU_ADD, 4, -64);
			ALU64X(VISOR_ALU_ADD, 4, 3);
			if (mistake(g))
				LDX(VISOR_SIZE_DW, 5, 4, 0); /* never written */
			else
				ST(VISOR_SIZE_DW, 4, 0, 1);
		}
	}
	if (f + 1 < g->nfuncs && chance(&g->r, 25) && g->ncalls < MAX_CALLS &&
	    g->func_kind[f + 1] == F_SCALAR) {
		MOV(1, 5);
		g->calls[g->ncalls].at = emit(g, VISOR_OPCODE_CALL, 0, VISOR_CALL_LOCAL, 0, 0);
		g->calls[g->ncalls++].func = f + 1;
	}
	LDX(VISOR_SIZE_DW, 0, 10, own);
	if (mistake(g) && chance(&g->r, 30))
		MOVX(0, 10); /* returns a pointer into its dying frame */
	emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
}

static void random_maps(struct gen *g)
{
	struct vgen_prog *p = g->p;
	p->nmaps = 1 + below(&g->r, 3);
	for (size_t i = 0; i < p->nmaps; i++) {
		struct vgen_map *m = &p->maps[i];
		bool array = chance(&g->r, 55);
		m->type = array ? VISOR_MAP_TYPE_ARRAY : VISOR_MAP_TYPE_HASH;
		m->key_size = array ? 4 : 1 + below(&g->r, chance(&g->r, 70) ? 8 : 32);
		m->value_size = 1 + below(&g->r, chance(&g->r, 80) ? 64 : 300);
		m->max_entries = 1 + below(&g->r, 16);
		m->spin_lock_off = -1;
		if (m->value_size >= 8 && chance(&g->r, 25))
			m->spin_lock_off = 4 * (int32_t)below(&g->r, m->value_size / 4);
	}
	if (chance(&g->r, 35)) {
		struct vgen_map *m = &p->maps[p->nmaps];
		*m = (struct vgen_map){.type = VISOR_MAP_TYPE_RINGBUF, .max_entries = 4096,
				       .spin_lock_off = -1};
		p->nmaps++;
	}
}

int vgen_generate(uint64_t seed, const uint8_t *data, size_t len, struct vgen_prog *p)
{
	static const uint32_t types[] = {0, 0, 1, 2, 3, 3, 6, 6, 6};
	struct gen gs = {.r = {.s = seed, .d = data, .n = data ? len : 0}, .p = p};
	struct gen *g = &gs;
	struct rng *r = &g->r;

	memset(p, 0, sizeof(*p));
	if (data) {
		uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: the PRNG takes over */
		for (size_t i = 0; i < len; i++)
			h = (h ^ data[i]) * 0x100000001b3ull;
		g->r.s = h;
	}
	p->prog_type = types[below(r, sizeof(types) / sizeof(types[0]))];
	p->ctx_size = p->prog_type ? 0 : 8 * (1 + below(r, 32)) - (chance(r, 20) ? below(r, 8) : 0);
	g->mistakes = (int)below(r, 11);
	g->pkt_proven = -1;
	random_maps(g);
	g->nfuncs = 1 + (int)below(r, MAX_FUNCS);
	g->fsz = g->nfuncs > 1 ? 384 : FRAME;
	for (int f = 1; f < g->nfuncs; f++)
		g->func_kind[f] = (int)below(r, 3);

	/* prologue */
	MOVX(6, 1);
	MOV(9, 0);
	if (packet_type(p) && chance(r, 60)) {
		int n = 1 + (int)below(r, 60);
		load_pkt(g, 7, 8);
		size_t too_short = check_pkt(g, 7, 8, 1, n);
		size_t over = emit(g, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0, 0, 0);
		land(g, too_short);
		MOV(0, p->prog_type == 6 ? 2 : 0);
		emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
		land(g, over);
		g->pkt_proven = n;
	}
	if (!packet_type(p) && chance(r, 30))
		MOV(7, 0);

	int nstmts = 2 + (int)below(r, 14);
	for (int i = 0; i < nstmts && !g->buf.oom; i++)
		gen_stmt(g, 0);

	/* epilogue: a return value the type allows */
	switch (p->prog_type) {
	case 6: MOV(0, (int32_t)below(r, 4)); break;
	case 3: MOV(0, (int32_t)below(r, 3)); break;
	default:
		if (chance(r, 50))
			MOVX(0, 9);
		else
			MOV(0, (int32_t)below(r, 100));
	}
	if (g->mistakes && chance(r, 3))
		MOVX(0, 10); /* leaks a pointer */
	emit(g, VISOR_OPCODE_EXIT, 0, 0, 0, 0);
	for (int f = 1; f < g->nfuncs && !g->buf.oom; f++) {
		bool called = false;
		for (int i = 0; i < g->ncalls; i++)
			called |= g->calls[i].func == f;
		if (called || (mistake(g) && chance(&g->r, 20))) /* uncalled: unreachable code */
			gen_func(g, f);
	}
	if (g->buf.oom) {
		free(g->buf.code);
		return -ENOMEM;
	}
	for (int i = 0; i < g->ncalls; i++)
		g->buf.code[g->calls[i].at].imm = (int32_t)g->func_at[g->calls[i].func] - (int32_t)g->calls[i].at - 1;
	p->insns = g->buf.code;
	p->count = g->buf.n;
	return 0;
}

int vgen_from_raw(const uint8_t *data, size_t len, uint32_t prog_type, struct vgen_prog *p)
{
	memset(p, 0, sizeof(*p));
	size_t n = len / sizeof(struct visor_insn);
	if (!n)
		return -EINVAL;
	p->insns = malloc(n * sizeof(*p->insns));
	if (!p->insns)
		return -ENOMEM;
	memcpy(p->insns, data, n * sizeof(*p->insns));
	p->count = n;
	p->prog_type = prog_type;
	p->ctx_size = prog_type ? 0 : 64;
	p->maps[0] = (struct vgen_map){VISOR_MAP_TYPE_ARRAY, 4, 16, 4, -1};
	p->maps[1] = (struct vgen_map){VISOR_MAP_TYPE_HASH, 8, 24, 8, 8};
	p->maps[2] = (struct vgen_map){VISOR_MAP_TYPE_RINGBUF, 0, 0, 4096, -1};
	p->nmaps = 3;
	p->raw = true;
	return 0;
}

void vgen_free(struct vgen_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->count = 0;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case 0: return "untyped";
	case 1: return "socket_filter";
	case 2: return "kprobe";
	case 3: return "sched_cls";
	case 6: return "xdp";
	default: return "?";
	}
}

void vgen_dump(const struct vgen_prog *p, FILE *f)
{
	fprintf(f, "program: %s", type_name(p->prog_type));
	if (!p->prog_type)
		fprintf(f, ", ctx_size %u", p->ctx_size);
	fprintf(f, ", %zu insns\n", p->count);
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct vgen_map *m = &p->maps[i];
		fprintf(f, "map %zu: %s key %u value %u entries %u", i, visor_map_type_name(m->type),
			m->key_size, m->value_size, m->max_entries);
		if (m->spin_lock_off >= 0)
			fprintf(f, " spin_lock at %d", m->spin_lock_off);
		fputc('\n', f);
	}
	char *text = visor_disasm(p->insns, p->count, VISOR_SYNTAX_KERNEL, 1);
	if (text) {
		fputs(text, f);
		free(text);
	}
}

/* ---- the oracle ---------------------------------------------------------- */

/* Deterministic stand-ins for the helpers whose result changes from run to
 * run, so the interpreter and the JIT see the same values. */
static __thread uint64_t det_state;

static uint64_t h_det_prandom(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			      struct visor_vm_run *run)
{
	return (uint32_t)splitmix(&det_state);
}

static uint64_t h_det_ktime(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			    struct visor_vm_run *run)
{
	return 1000000000ull + (splitmix(&det_state) & 0xffffff);
}

struct env {
	struct visor_map *maps[VGEN_MAX_MAPS];
	size_t nmaps;
	uint8_t *snap; /* map contents after a run */
	size_t snap_len;
};

/* Keys the programs use are small: byte 0 in 0..3, the rest zero. */
static void key_of(uint8_t *key, size_t ksz, unsigned i)
{
	memset(key, 0, ksz);
	if (ksz == 4)
		memcpy(key, &i, 4);
	else
		key[0] = (uint8_t)i;
}

/* Fills every map from seed: arrays everywhere, hash maps some of keys
 * 0..3. Same seed, same contents. */
static int seed_maps(struct env *env, const struct vgen_prog *p, uint64_t seed)
{
	uint8_t key[64], value[512];
	for (size_t m = 0; m < p->nmaps; m++) {
		const struct vgen_map *d = &p->maps[m];
		struct visor_map *map = env->maps[m];
		if (d->type == VISOR_MAP_TYPE_RINGBUF)
			continue;
		unsigned n = d->type == VISOR_MAP_TYPE_ARRAY ? d->max_entries : 4;
		/* a hash map starts empty: what a previous run left changes
		 * which inserts fit */
		while (d->type == VISOR_MAP_TYPE_HASH && visor_map_get_next_key(map, NULL, key) == 0)
			if (visor_map_delete(map, key))
				return -EIO;
		for (unsigned i = 0; i < n; i++) {
			key_of(key, d->key_size, i);
			for (size_t b = 0; b < d->value_size; b++)
				value[b] = (uint8_t)splitmix(&seed);
			if (d->type == VISOR_MAP_TYPE_HASH && (splitmix(&seed) & 1)) {
				visor_map_delete(map, key);
				continue;
			}
			int rc = visor_map_update(map, key, value, 0);
			if (rc && rc != -E2BIG && rc != -ENOENT)
				return rc;
		}
	}
	return 0;
}

/* What the maps hold for keys 0..3 (and every array key). */
static size_t snapshot(struct env *env, const struct vgen_prog *p, uint8_t *out, size_t cap)
{
	uint8_t key[64];
	size_t at = 0;
	for (size_t m = 0; m < p->nmaps; m++) {
		const struct vgen_map *d = &p->maps[m];
		if (d->type == VISOR_MAP_TYPE_RINGBUF)
			continue;
		unsigned n = d->type == VISOR_MAP_TYPE_ARRAY ? d->max_entries : 4;
		for (unsigned i = 0; i < n && at + d->value_size + 1 <= cap; i++) {
			key_of(key, d->key_size, i);
			int rc = visor_map_lookup(env->maps[m], key, out + at + 1);
			out[at] = (uint8_t)(rc == 0);
			if (rc)
				memset(out + at + 1, 0, d->value_size);
			at += 1 + d->value_size;
		}
	}
	return at;
}

struct run_result {
	int rc;
	uint64_t r0;
	char msg[VISOR_ERRMSG_LEN];
	uint8_t out[4096]; /* packet or memory after the run */
	uint32_t out_len;
	bool setup_failed; /* test_run refused the input, not the program */
};

struct input {
	uint8_t data[2048];
	uint32_t len;
};

static void make_input(const struct vgen_prog *p, uint64_t seed, unsigned i, struct input *in)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + i;
	switch (p->prog_type) {
	case 0:
		in->len = p->ctx_size;
		for (uint32_t b = 0; b < in->len; b++)
			in->data[b] = (uint8_t)splitmix(&s);
		return;
	case 2:
		in->len = sizeof(struct visor_pt_regs);
		for (uint32_t b = 0; b < in->len; b++)
			in->data[b] = (uint8_t)splitmix(&s);
		return;
	default:
		break;
	}
	/* frames: the tiniest the kernel takes, a few bytes more, real ones, large */
	switch (splitmix(&s) % 6) {
	case 0:
		in->len = 14;
		break;
	case 1:
		in->len = 14 + (uint32_t)(splitmix(&s) % 50);
		break;
	case 2:
		in->len = (uint32_t)pkt_udp4(in->data, 0xc0000201, 0xc6336401, 1234, 53, "payload", 7);
		return;
	case 3:
		in->len = (uint32_t)pkt_tcp4(in->data, 0xc0000201, 0xcb007101, 40000, 80, 0x02);
		return;
	case 4:
		in->len = 60 + (uint32_t)(splitmix(&s) % 200);
		break;
	default:
		in->len = 1000 + (uint32_t)(splitmix(&s) % 1000);
	}
	for (uint32_t b = 0; b < in->len; b++)
		in->data[b] = (uint8_t)splitmix(&s);
	if (splitmix(&s) & 1)
		pkt_eth_hdr(in->data, 0x0800);
}

#define RUN_BUDGET 1000000

static void run_once(struct visor_vm *vm, const struct vgen_prog *p, const struct input *in,
		     int engine, struct run_result *res)
{
	memset(res, 0, offsetof(struct run_result, out));
	res->out_len = 0;
	res->setup_failed = false;
	det_state = 0x1234;
	if (p->prog_type == 0) {
		memset(res->out, 0, sizeof(res->out));
		memcpy(res->out, in->data, in->len);
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = res->out, .mem_len = in->len,
			   .budget = RUN_BUDGET, .engine = engine, .errbuf = res->msg,
			   .errbuf_len = sizeof(res->msg));
		res->rc = visor_vm_exec(vm, &o, &res->r0);
		res->out_len = in->len;
		return;
	}
	VISOR_OPTS(visor_prog_test_run_opts, o, .engine = engine, .budget = RUN_BUDGET,
		   .errbuf = res->msg, .errbuf_len = sizeof(res->msg));
	if (p->prog_type == 2) {
		o.ctx_in = in->data;
		o.ctx_size_in = in->len;
	} else {
		o.data_in = in->data;
		o.data_size_in = in->len;
		o.data_out = res->out;
		o.data_size_out = sizeof(res->out);
	}
	res->rc = visor_prog_test_run(vm, &o);
	res->r0 = o.retval;
	res->out_len = p->prog_type == 2 ? 0 : o.data_size_out;
	/* test_run's own refusals name themselves; program failures name an insn */
	res->setup_failed = res->rc && !strncmp(res->msg, "test_run:", 9) && !strstr(res->msg, "insn");
}

static void describe(char *buf, size_t len, const char *what, unsigned input,
		     const struct input *in, const struct run_result *a)
{
	snprintf(buf, len, "%s on input %u (%u bytes): rc %d r0 0x%llx: %s", what, input, in->len,
		 a->rc, (unsigned long long)a->r0, a->msg);
}

int vgen_check(const struct vgen_prog *p, uint64_t input_seed, unsigned ninputs, bool jit,
	       struct vgen_outcome *o)
{
	struct env env = {0};
	struct visor_vm *vm = NULL;
	struct run_result *a = NULL, *b = NULL;
	uint8_t *snap_a = NULL, *snap_b = NULL;
	struct input *in = NULL;
	int ret = 0;
	const size_t snap_cap = 64 * 1024;

	memset(o, 0, sizeof(*o));
	o->err_insn = -1;
	o->verify_rc = 1; /* not verified */
	for (size_t m = 0; m < p->nmaps; m++) {
		char why[128] = "";
		VISOR_OPTS(visor_map_create_opts, mo, .type = p->maps[m].type,
			   .key_size = p->maps[m].key_size, .value_size = p->maps[m].value_size,
			   .max_entries = p->maps[m].max_entries, .errbuf = why, .errbuf_len = sizeof(why),
			   .spin_lock = p->maps[m].spin_lock_off >= 0,
			   .spin_lock_off = (uint32_t)(p->maps[m].spin_lock_off >= 0 ? p->maps[m].spin_lock_off : 0));
		ret = visor_map_create(&mo, &env.maps[m]);
		if (ret) {
			snprintf(o->load_msg, sizeof(o->load_msg), "map %zu: %s", m, why);
			o->load_rc = ret;
			goto out;
		}
		env.nmaps++;
	}
	vm = visor_vm_create();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	snap_a = malloc(snap_cap);
	snap_b = malloc(snap_cap);
	in = malloc(sizeof(*in));
	if (!vm || !a || !b || !snap_a || !snap_b || !in) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = visor_vm_set_maps(vm, env.maps, env.nmaps)) ||
	    (p->prog_type && (ret = visor_vm_set_prog_type(vm, p->prog_type))) ||
	    (ret = visor_vm_register_linux_helpers(vm)) ||
	    (ret = visor_vm_register_helper(vm, H_PRANDOM, "bpf_get_prandom_u32", h_det_prandom)) ||
	    (ret = visor_vm_register_helper(vm, H_KTIME, "bpf_ktime_get_ns", h_det_ktime))) {
		snprintf(o->load_msg, sizeof(o->load_msg), "setup: %s", visor_vm_errmsg(vm));
		o->load_rc = ret;
		goto out;
	}
	o->load_rc = visor_vm_load(vm, p->insns, p->count);
	if (o->load_rc) {
		snprintf(o->load_msg, sizeof(o->load_msg), "%s", visor_vm_errmsg(vm));
		goto out;
	}
	VISOR_OPTS(visor_verify_opts, vo, .ctx_size = p->ctx_size, .prog_type = p->prog_type);
	o->verify_rc = visor_verify_vm(vm, &vo);
	snprintf(o->verify_msg, sizeof(o->verify_msg), "%s", vo.errmsg);
	o->err_insn = vo.err_insn;
	o->insns_processed = vo.insns_processed;
	o->verify_ns = vo.verify_ns;
	o->accepted = o->verify_rc == 0;
	if (!o->accepted)
		goto out;

	bool compiled = false;
	if (jit && visor_vm_jit_supported()) {
		int rc = visor_vm_jit_compile(vm, VISOR_JIT_VERIFIED);
		if (rc) {
			o->violation = true;
			snprintf(o->violation_msg, sizeof(o->violation_msg),
				 "accepted program does not JIT-compile: %d %s", rc, visor_vm_errmsg(vm));
			goto out;
		}
		compiled = true;
	}
	for (unsigned i = 0; i < ninputs; i++) {
		make_input(p, input_seed, i, in);
		uint64_t mseed = input_seed ^ (0x5bd1e995ull * (i + 1));
		if ((ret = seed_maps(&env, p, mseed)))
			goto out;
		run_once(vm, p, in, VISOR_ENGINE_INTERP, a);
		if (a->setup_failed) {
			o->unrunnable++;
			continue;
		}
		o->runs++;
		if (a->rc == -ENOENT && strstr(a->msg, "helper")) {
			o->unrunnable++; /* a helper the VM does not implement */
			continue;
		}
		if (a->rc) {
			o->violation = true;
			describe(o->violation_msg, sizeof(o->violation_msg),
				 "accepted program failed in the interpreter", i, in, a);
			goto out;
		}
		if (!compiled)
			continue;
		size_t na = snapshot(&env, p, snap_a, snap_cap);
		if ((ret = seed_maps(&env, p, mseed)))
			goto out;
		run_once(vm, p, in, VISOR_ENGINE_JIT, b);
		o->jit_runs++;
		size_t nb = snapshot(&env, p, snap_b, snap_cap);
		const char *diff = b->rc != a->rc		  ? "error"
				   : b->r0 != a->r0		  ? "r0"
				   : b->out_len != a->out_len	  ? "output length"
				   : memcmp(a->out, b->out, a->out_len) ? "packet / memory"
				   : na != nb || memcmp(snap_a, snap_b, na) ? "map contents"
									      : NULL;
		if (diff) {
			char sa[400], sb[400];
			describe(sa, sizeof(sa), "interpreter", i, in, a);
			describe(sb, sizeof(sb), "JIT", i, in, b);
			o->violation = true;
			snprintf(o->violation_msg, sizeof(o->violation_msg),
				 "verified JIT differs from the interpreter (%s): %s; %s", diff, sa, sb);
			goto out;
		}
	}
out:
	visor_vm_destroy(vm);
	for (size_t m = 0; m < env.nmaps; m++)
		visor_map_destroy(env.maps[m]);
	free(a);
	free(b);
	free(snap_a);
	free(snap_b);
	free(in);
	return ret < 0 && !o->load_rc ? ret : 0;
}

void vgen_reason_category(const char *msg, char *out, size_t len)
{
	size_t o = 0;
	bool num = false;
	if (!len)
		return;
	/* "insn N (disassembly): reason": the reason */
	if (!strncmp(msg, "insn ", 5)) {
		const char *r = strstr(msg, "): ");
		const char *c = strstr(msg, ": ");
		msg = r ? r + 3 : c ? c + 2 : msg;
	}
	for (const char *s = msg; *s && o + 1 < len; s++) {
		bool digit = (*s >= '0' && *s <= '9') ||
			     (num && ((*s >= 'a' && *s <= 'f') || *s == 'x'));
		if (digit) {
			if (!num)
				out[o++] = 'N';
			num = true;
			continue;
		}
		num = false;
		/* the first clause is the reason; what follows names the place */
		if ((*s == ':' || *s == '(' || *s == ';') && o > 12)
			break;
		out[o++] = *s;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = 0;
	if (o > 70)
		out[70] = 0;
}
