/* The verifier's scalar domain (src/verifier/scalar.c): randomized
 * soundness of every ALU transfer function and of the refinement of every
 * conditional jump against concrete values (computed by a reference that
 * mirrors src/vm/interp.c, itself checked against the interpreter), then
 * targeted precision checks. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <visor/vm.h>

#include "testutil.h"
#include "../src/verifier/scalar.h" /* internal: tests have no src/ include path */

#define MAXW 12 /* witnesses kept per abstract value */

/* An abstract value with concrete values known to be in its concrete set. */
struct sample {
	struct vscalar v;
	uint64_t w[MAXW];
	int n;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

/* Values near the places where arithmetic changes behaviour. */
static uint64_t rnd_value(void)
{
	static const uint64_t edges[] = {0,
					 1,
					 2,
					 7,
					 8,
					 31,
					 32,
					 63,
					 64,
					 255,
					 0x7fff,
					 0x8000,
					 0xffff,
					 0x7fffffff,
					 0x80000000,
					 0xffffffff,
					 0x100000000ULL,
					 0x7fffffffffffffffULL,
					 0x8000000000000000ULL,
					 UINT64_MAX,
					 UINT64_MAX - 1,
					 0xffffffff80000000ULL,
					 0xffffffff7fffffffULL};
	switch (rnd() % 6) {
	case 0: return edges[rnd_below(sizeof(edges) / sizeof(edges[0]))];
	case 1: return edges[rnd_below(sizeof(edges) / sizeof(edges[0]))] + rnd_below(5) - 2;
	case 2: return rnd_below(64);
	case 3: return (uint64_t)(int64_t)(int32_t)rnd();
	case 4: return rnd() >> rnd_below(64);
	default: return rnd();
	}
}

static uint64_t rnd_between(uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo;
	return span == UINT64_MAX ? rnd() : lo + rnd_below(span + 1);
}

static void add_witness(struct sample *s, uint64_t x)
{
	for (int i = 0; i < s->n; i++)
		if (s->w[i] == x)
			return;
	if (s->n < MAXW)
		s->w[s->n++] = x;
}

/* More members: the range ends and random fills of the known bits, kept
 * when the abstract value says it holds them (all such values are inputs
 * the transfer functions must handle). */
static void add_members(struct sample *s)
{
	const struct vscalar *v = &s->v;
	uint64_t cand[] = {v->umin,
			   v->umax,
			   (uint64_t)v->smin,
			   (uint64_t)v->smax,
			   (v->umin & ~0xffffffffULL) | v->u32min,
			   (v->umax & ~0xffffffffULL) | v->u32max,
			   v->t.value,
			   v->t.value | v->t.mask,
			   v->t.value | (rnd() & v->t.mask),
			   v->t.value | (rnd() & v->t.mask)};
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) && s->n < MAXW; i++)
		if (vs_contains(v, cand[i]))
			add_witness(s, cand[i]);
}

/* ---- The reference: src/vm/interp.c's semantics ------------------------ */

static int64_t sx(uint64_t v, unsigned bits)
{
	if (bits >= 64)
		return (int64_t)v;
	uint64_t sign = 1ULL << (bits - 1);
	v &= (sign << 1) - 1;
	return (int64_t)((v ^ sign) - sign);
}

static uint64_t ref_alu(const struct visor_insn *in, uint64_t d, uint64_t s)
{
	bool is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	uint8_t op = VISOR_OP(in->code);
	if (VISOR_SRC(in->code) == VISOR_SRC_K && op != VISOR_ALU_END)
		s = is64 ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm;
	if (op == VISOR_ALU_END) {
		unsigned b = (unsigned)in->imm;
		if (!is64 && VISOR_SRC(in->code) == VISOR_END_TO_LE)
			return b == 16 ? (uint16_t)d : b == 32 ? (uint32_t)d : d;
		return b == 16 ? __builtin_bswap16((uint16_t)d)
		       : b == 32 ? __builtin_bswap32((uint32_t)d)
				 : __builtin_bswap64(d);
	}
	if (is64) {
		int64_t sd = (int64_t)d, ss = (int64_t)s;
		switch (op) {
		case VISOR_ALU_ADD: return d + s;
		case VISOR_ALU_SUB: return d - s;
		case VISOR_ALU_MUL: return d * s;
		case VISOR_ALU_OR: return d | s;
		case VISOR_ALU_AND: return d & s;
		case VISOR_ALU_XOR: return d ^ s;
		case VISOR_ALU_LSH: return d << (s & 63);
		case VISOR_ALU_RSH: return d >> (s & 63);
		case VISOR_ALU_ARSH: return (uint64_t)(sd >> (s & 63));
		case VISOR_ALU_NEG: return -d;
		case VISOR_ALU_MOV: return in->off ? (uint64_t)sx(s, (unsigned)in->off) : s;
		case VISOR_ALU_DIV:
			if (in->off == 1)
				return ss == 0 ? 0 : ss == -1 ? -d : (uint64_t)(sd / ss);
			return s ? d / s : 0;
		case VISOR_ALU_MOD:
			if (in->off == 1)
				return ss == 0 ? d : ss == -1 ? 0 : (uint64_t)(sd % ss);
			return s ? d % s : d;
		}
		return 0;
	}
	uint32_t d32 = (uint32_t)d, s32 = (uint32_t)s;
	int32_t sd = (int32_t)d32, ss = (int32_t)s32;
	switch (op) {
	case VISOR_ALU_ADD: return (uint32_t)(d32 + s32);
	case VISOR_ALU_SUB: return (uint32_t)(d32 - s32);
	case VISOR_ALU_MUL: return (uint32_t)(d32 * s32);
	case VISOR_ALU_OR: return d32 | s32;
	case VISOR_ALU_AND: return d32 & s32;
	case VISOR_ALU_XOR: return d32 ^ s32;
	case VISOR_ALU_LSH: return (uint32_t)(d32 << (s32 & 31));
	case VISOR_ALU_RSH: return d32 >> (s32 & 31);
	case VISOR_ALU_ARSH: return (uint32_t)(sd >> (s32 & 31));
	case VISOR_ALU_NEG: return (uint32_t)-d32;
	case VISOR_ALU_MOV: return in->off ? (uint32_t)sx(s, (unsigned)in->off) : s32;
	case VISOR_ALU_DIV:
		if (in->off == 1)
			return ss == 0 ? 0 : ss == -1 ? (uint32_t)-d32 : (uint32_t)(sd / ss);
		return s32 ? d32 / s32 : 0;
	case VISOR_ALU_MOD:
		if (in->off == 1)
			return ss == 0 ? d32 : ss == -1 ? 0 : (uint32_t)(sd % ss);
		return s32 ? d32 % s32 : d32;
	}
	return 0;
}

static bool ref_jmp(uint8_t code, uint64_t a, uint64_t b)
{
	if (VISOR_CLASS(code) == VISOR_CLS_JMP32) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	bool w32 = VISOR_CLASS(code) == VISOR_CLS_JMP32;
	int64_t sa = w32 ? (int32_t)(uint32_t)a : (int64_t)a;
	int64_t sb = w32 ? (int32_t)(uint32_t)b : (int64_t)b;
	switch (VISOR_OP(code)) {
	case VISOR_JMP_JEQ: return a == b;
	case VISOR_JMP_JNE: return a != b;
	case VISOR_JMP_JSET: return (a & b) != 0;
	case VISOR_JMP_JGT: return a > b;
	case VISOR_JMP_JGE: return a >= b;
	case VISOR_JMP_JLT: return a < b;
	case VISOR_JMP_JLE: return a <= b;
	case VISOR_JMP_JSGT: return sa > sb;
	case VISOR_JMP_JSGE: return sa >= sb;
	case VISOR_JMP_JSLT: return sa < sb;
	case VISOR_JMP_JSLE: return sa <= sb;
	}
	return false;
}

/* ---- Every ALU instruction form ----------------------------------------- */

static struct visor_insn alu_forms[128];
static size_t nalu_forms;

static void add_form(uint8_t code, int16_t off, int32_t imm)
{
	/* Operand-less and immediate forms have src 0, as the ISA requires. */
	uint8_t src = VISOR_SRC(code) == VISOR_SRC_X && VISOR_OP(code) != VISOR_ALU_END;
	alu_forms[nalu_forms++] =
		(struct visor_insn){.code = code, .dst = 0, .src = src, .off = off, .imm = imm};
}

static void build_forms(void)
{
	static const uint8_t ops[] = {VISOR_ALU_ADD, VISOR_ALU_SUB, VISOR_ALU_MUL, VISOR_ALU_OR,
				      VISOR_ALU_AND, VISOR_ALU_LSH, VISOR_ALU_RSH, VISOR_ALU_XOR,
				      VISOR_ALU_ARSH, VISOR_ALU_DIV, VISOR_ALU_MOD, VISOR_ALU_MOV};
	for (int c = 0; c < 2; c++) {
		uint8_t cls = c ? VISOR_CLS_ALU64 : VISOR_CLS_ALU;
		for (size_t i = 0; i < sizeof(ops); i++)
			for (int x = 0; x < 2; x++) {
				uint8_t code = cls | ops[i] | (x ? VISOR_SRC_X : VISOR_SRC_K);
				add_form(code, 0, 0);
				if (ops[i] == VISOR_ALU_DIV || ops[i] == VISOR_ALU_MOD)
					add_form(code, 1, 0);
			}
		add_form(cls | VISOR_ALU_NEG, 0, 0);
		add_form(cls | VISOR_ALU_MOV | VISOR_SRC_X, 8, 0);
		add_form(cls | VISOR_ALU_MOV | VISOR_SRC_X, 16, 0);
		for (int b = 16; b <= 64; b *= 2) {
			if (c) {
				add_form(VISOR_CLS_ALU64 | VISOR_ALU_END, 0, b);
			} else {
				add_form(VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_LE, 0, b);
				add_form(VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_BE, 0, b);
			}
		}
	}
	add_form(VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_X, 32, 0);
}

/* Whether the form takes an immediate operand. */
static bool has_imm(const struct visor_insn *in)
{
	uint8_t op = VISOR_OP(in->code);
	return VISOR_SRC(in->code) == VISOR_SRC_K && op != VISOR_ALU_END && op != VISOR_ALU_NEG;
}

/* The immediate of a K form, and the operand the caller of vs_alu passes. */
static int32_t pick_imm(const struct visor_insn *in)
{
	uint8_t op = VISOR_OP(in->code);
	if (op == VISOR_ALU_LSH || op == VISOR_ALU_RSH || op == VISOR_ALU_ARSH)
		return rnd() % 16 ? (int32_t)rnd_below(VISOR_CLASS(in->code) == VISOR_CLS_ALU64 ? 64 : 32)
				  : (int32_t)rnd_value();
	return (int32_t)rnd_value();
}

static uint64_t imm_operand(const struct visor_insn *in)
{
	return VISOR_CLASS(in->code) == VISOR_CLS_ALU64 ? (uint64_t)(int64_t)in->imm
							: (uint32_t)in->imm;
}

/* ---- Random abstract values ---------------------------------------------- */

static void gen(struct sample *s, int depth);

static void gen_alu(struct sample *s, int depth)
{
	struct sample a, b;
	gen(&a, depth + 1);
	gen(&b, depth + 1);
	struct visor_insn in = alu_forms[rnd_below(nalu_forms)];
	if (has_imm(&in)) {
		in.imm = pick_imm(&in);
		vs_const(&b.v, imm_operand(&in));
		b.w[0] = imm_operand(&in);
		b.n = 1;
	}
	s->v = a.v;
	vs_alu(&s->v, &b.v, &in);
	s->n = 0;
	for (int i = 0; i < a.n; i++)
		add_witness(s, ref_alu(&in, a.w[i], b.w[rnd_below((uint64_t)b.n)]));
}

static bool gen_refined(struct sample *s, int depth)
{
	static const uint8_t jops[] = {VISOR_JMP_JEQ, VISOR_JMP_JNE, VISOR_JMP_JSET,
				       VISOR_JMP_JGT, VISOR_JMP_JGE, VISOR_JMP_JLT,
				       VISOR_JMP_JLE, VISOR_JMP_JSGT, VISOR_JMP_JSGE,
				       VISOR_JMP_JSLT, VISOR_JMP_JSLE};
	struct sample a, b;
	gen(&a, depth + 1);
	gen(&b, depth + 1);
	uint8_t code = jops[rnd_below(sizeof(jops))] | (rnd() & 1 ? VISOR_CLS_JMP32 : VISOR_CLS_JMP);
	bool taken = rnd() & 1;
	s->n = 0;
	if (!vs_refine(&a.v, &b.v, code, taken))
		return false;
	s->v = a.v;
	for (int i = 0; i < a.n; i++)
		for (int j = 0; j < b.n; j++)
			if (ref_jmp(code, a.w[i], b.w[j]) == taken) {
				add_witness(s, a.w[i]);
				break;
			}
	return s->n > 0;
}

static void gen(struct sample *s, int depth)
{
	s->n = 0;
	int kind = (int)rnd_below(depth > 2 ? 7 : 10);
	switch (kind) {
	case 0: {
		uint64_t c = rnd_value();
		vs_const(&s->v, c);
		add_witness(s, c);
		break;
	}
	case 1: {
		uint64_t x = rnd_value(), y = rnd() & 1 ? rnd_value() : x + rnd_below(300);
		uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
		vs_urange(&s->v, lo, hi);
		add_witness(s, lo);
		add_witness(s, hi);
		for (int i = 0; i < 3; i++)
			add_witness(s, rnd_between(lo, hi));
		break;
	}
	case 2: { /* signed range */
		int64_t x = (int64_t)rnd_value(), y = rnd() & 1 ? (int64_t)rnd_value() : x;
		int64_t lo = x < y ? x : y, hi = x < y ? y : x;
		vs_unknown(&s->v);
		s->v.smin = lo;
		s->v.smax = hi;
		vs_sync(&s->v);
		add_witness(s, (uint64_t)lo);
		add_witness(s, (uint64_t)hi);
		for (int i = 0; i < 3; i++)
			add_witness(s, (uint64_t)lo + rnd_below((uint64_t)hi - (uint64_t)lo + 1));
		break;
	}
	case 3: { /* known bits */
		uint64_t v = rnd_value(), m = rnd() & rnd();
		if (rnd() & 1)
			m >>= rnd_below(64);
		vs_unknown(&s->v);
		s->v.t = (struct tnum){v & ~m, m};
		vs_sync(&s->v);
		add_witness(s, v & ~m);
		add_witness(s, v | m);
		for (int i = 0; i < 3; i++)
			add_witness(s, (v & ~m) | (rnd() & m));
		break;
	}
	case 4: { /* 32-bit ranges */
		uint32_t x = (uint32_t)rnd_value(), y = (uint32_t)rnd_value();
		uint64_t hi = rnd() & 1 ? 0 : rnd_value() & ~0xffffffffULL;
		vs_unknown(&s->v);
		if (rnd() & 1) {
			s->v.u32min = x < y ? x : y;
			s->v.u32max = x < y ? y : x;
		} else {
			s->v.s32min = (int32_t)x < (int32_t)y ? (int32_t)x : (int32_t)y;
			s->v.s32max = (int32_t)x < (int32_t)y ? (int32_t)y : (int32_t)x;
		}
		if (!hi) {
			s->v.umax = 0xffffffff;
		}
		vs_sync(&s->v);
		add_witness(s, hi | x);
		add_witness(s, hi | y);
		break;
	}
	case 5: {
		static const unsigned sizes[] = {1, 2, 4, 8};
		unsigned size = sizes[rnd_below(4)];
		bool sign = size < 8 && (rnd() & 1);
		vs_loaded(&s->v, size, sign);
		for (int i = 0; i < 4; i++) {
			uint64_t x = rnd_value();
			if (size < 8)
				x = sign ? (uint64_t)sx(x, size * 8) : x & ((1ULL << (size * 8)) - 1);
			add_witness(s, x);
		}
		break;
	}
	case 6: {
		vs_unknown(&s->v);
		for (int i = 0; i < 4; i++)
			add_witness(s, rnd_value());
		break;
	}
	case 7:
	case 8:
		gen_alu(s, depth);
		break;
	default:
		for (int tries = 0; tries < 4; tries++)
			if (gen_refined(s, depth))
				break;
		if (!s->n) {
			uint64_t c = rnd_value();
			vs_const(&s->v, c);
			add_witness(s, c);
		}
		break;
	}
}

/* ---- Soundness checks ----------------------------------------------------- */

static long bad;

static void report(const char *what, const struct visor_insn *in, uint8_t code,
		   const struct vscalar *a, const struct vscalar *b, const struct vscalar *r,
		   uint64_t x, uint64_t y, uint64_t z)
{
	if (bad++ >= 10)
		return;
	char fa[160], fb[160], fr[160];
	vs_format(a, fa, sizeof(fa));
	vs_format(b, fb, sizeof(fb));
	vs_format(r, fr, sizeof(fr));
	fprintf(stderr,
		"%s: code 0x%02x off %d imm %d: a %s, b %s -> %s; x 0x%" PRIx64 " y 0x%" PRIx64
		" result 0x%" PRIx64 "\n",
		what, in ? in->code : code, in ? in->off : 0, in ? in->imm : 0, fa, fb, fr, x, y, z);
}

static void check_witnesses(const struct sample *s, const char *what)
{
	for (int i = 0; i < s->n; i++)
		if (!vs_contains(&s->v, s->w[i]))
			report(what, NULL, 0, &s->v, &s->v, &s->v, s->w[i], 0, 0);
}

static void check_alu(long iters)
{
	long before = bad;
	for (long it = 0; it < iters; it++) {
		struct sample a, b;
		gen(&a, 0);
		gen(&b, 0);
		add_members(&a);
		add_members(&b);
		check_witnesses(&a, "generated value misses a member");
		check_witnesses(&b, "generated value misses a member");
		for (size_t f = 0; f < nalu_forms; f++) {
			struct visor_insn in = alu_forms[f];
			struct vscalar src = b.v, res = a.v;
			const uint64_t *ys = b.w;
			int ny = b.n;
			uint64_t k;
			if (has_imm(&in)) {
				in.imm = pick_imm(&in);
				k = imm_operand(&in);
				vs_const(&src, k);
				ys = &k;
				ny = 1;
			}
			vs_alu(&res, &src, &in);
			for (int i = 0; i < a.n; i++)
				for (int j = 0; j < ny; j++) {
					uint64_t z = ref_alu(&in, a.w[i], ys[j]);
					if (!vs_contains(&res, z))
						report("alu unsound", &in, 0, &a.v, &src, &res, a.w[i], ys[j], z);
				}
			/* Constants fold exactly. */
			if (vs_is_const(&a.v) && vs_is_const(&src)) {
				uint64_t z = ref_alu(&in, a.v.t.value, src.t.value);
				if (!vs_is_const(&res) || res.t.value != z)
					report("alu constant not folded", &in, 0, &a.v, &src, &res,
					       a.v.t.value, src.t.value, z);
			}
		}
	}
	CHECK(bad == before, "%ld unsound ALU results", bad - before);
}

static void check_jumps(long iters)
{
	static const uint8_t jops[] = {VISOR_JMP_JEQ, VISOR_JMP_JNE, VISOR_JMP_JSET,
				       VISOR_JMP_JGT, VISOR_JMP_JGE, VISOR_JMP_JLT,
				       VISOR_JMP_JLE, VISOR_JMP_JSGT, VISOR_JMP_JSGE,
				       VISOR_JMP_JSLT, VISOR_JMP_JSLE};
	long before = bad, decided = 0, infeasible = 0;
	for (long it = 0; it < iters; it++) {
		struct sample a, b;
		gen(&a, 0);
		gen(&b, 0);
		/* Half the time the other operand is close to the first, so that
		 * equality and the range ends are hit. */
		if (rnd() % 3 == 0 && a.n) {
			uint64_t c = a.w[rnd_below((uint64_t)a.n)] + rnd_below(3) - 1;
			vs_const(&b.v, c);
			b.n = 0;
			add_witness(&b, c);
		}
		add_members(&a);
		add_members(&b);
		for (int c = 0; c < 2; c++)
			for (size_t o = 0; o < sizeof(jops); o++) {
				uint8_t code = jops[o] | (c ? VISOR_CLS_JMP32 : VISOR_CLS_JMP);
				int br = vs_branch(&a.v, &b.v, code);
				decided += br != -1;
				for (int taken = 0; taken < 2; taken++) {
					struct vscalar ra = a.v, rb = b.v;
					bool ok = vs_refine(&ra, &rb, code, taken);
					infeasible += !ok;
					for (int i = 0; i < a.n; i++)
						for (int j = 0; j < b.n; j++) {
							uint64_t x = a.w[i], y = b.w[j];
							if (ref_jmp(code, x, y) != (bool)taken)
								continue;
							if (br != -1 && br != taken)
								report("branch decided wrongly", NULL, code, &a.v,
								       &b.v, &a.v, x, y, (uint64_t)br);
							if (!ok || !vs_contains(&ra, x) || !vs_contains(&rb, y))
								report(taken ? "refine (taken) unsound"
									     : "refine (fall-through) unsound",
								       NULL, code, &a.v, &b.v, ok ? &ra : &rb, x,
								       y, (uint64_t)ok);
						}
				}
			}
	}
	CHECK(bad == before, "%ld unsound branch decisions or refinements", bad - before);
	CHECK(decided > 0 && infeasible > 0, "the random values decide some branches (%ld, %ld)",
	      decided, infeasible);
}

/* The reference against the interpreter: r0 = d, r1 = s, the instruction,
 * exit. */
static void check_reference(long iters)
{
	struct visor_vm *vm = visor_vm_create();
	/* Single instructions on random values: ISA semantics, not programs
	 * to verify. */
	visor_vm_set_unsafe(vm, true);
	CHECK(vm != NULL, "vm created");
	if (!vm)
		return;
	long mismatches = 0, runs = 0;
	for (long it = 0; it < iters; it++) {
		struct visor_insn in = alu_forms[rnd_below(nalu_forms)];
		if (has_imm(&in))
			in.imm = pick_imm(&in);
		if (VISOR_SRC(in.code) == VISOR_SRC_K || VISOR_OP(in.code) == VISOR_ALU_NEG ||
		    VISOR_OP(in.code) == VISOR_ALU_END)
			in.src = 0;
		uint64_t d = rnd_value(), s = rnd_value();
		struct visor_insn prog[6] = {
			{.code = VISOR_OPCODE_LDDW, .dst = 0, .imm = (int32_t)(uint32_t)d},
			{.imm = (int32_t)(uint32_t)(d >> 32)},
			{.code = VISOR_OPCODE_LDDW, .dst = 1, .imm = (int32_t)(uint32_t)s},
			{.imm = (int32_t)(uint32_t)(s >> 32)},
			in,
			{.code = VISOR_OPCODE_EXIT},
		};
		if (visor_vm_load(vm, prog, 6) != 0) {
			if (mismatches++ < 5)
				fprintf(stderr, "load of code 0x%02x off %d imm %d failed: %s\n", in.code,
					in.off, in.imm, visor_vm_errmsg(vm));
			continue;
		}
		VISOR_OPTS(visor_vm_exec_opts, opts);
		uint64_t r0 = 0;
		int err = visor_vm_exec(vm, &opts, &r0);
		visor_vm_unload(vm);
		runs++;
		uint64_t want = ref_alu(&in, d, s);
		if (err || r0 != want) {
			if (mismatches++ < 5)
				fprintf(stderr,
					"interpreter: code 0x%02x off %d imm %d d 0x%" PRIx64
					" s 0x%" PRIx64 ": 0x%" PRIx64 " (err %d), reference 0x%" PRIx64 "\n",
					in.code, in.off, in.imm, d, s, r0, err, want);
		}
	}
	visor_vm_destroy(vm);
	CHECK(mismatches == 0 && runs > 0, "reference agrees with the interpreter (%ld of %ld)",
	      mismatches, runs);
}

/* ---- Precision -------------------------------------------------------- */

static struct visor_insn insn(uint8_t code, int16_t off, int32_t imm)
{
	return (struct visor_insn){.code = code, .dst = 0, .src = 1, .off = off, .imm = imm};
}

static void check_range(const struct vscalar *r, uint64_t umin, uint64_t umax, const char *what)
{
	CHECK(r->umin == umin && r->umax == umax, "%s: [%" PRIu64 ", %" PRIu64 "], want [%" PRIu64
	      ", %" PRIu64 "]", what, r->umin, r->umax, umin, umax);
}

static void check_precision(void)
{
	struct vscalar a, b, c;
	char buf[128];

	/* Constant folding through a chain of operations. */
	vs_const(&a, 5);
	vs_const(&b, 7);
	struct visor_insn mul = insn(VISOR_CLS_ALU64 | VISOR_ALU_MUL | VISOR_SRC_X, 0, 0);
	vs_alu(&a, &b, &mul);
	CHECK(vs_is_const(&a) && a.t.value == 35, "5 * 7 = 35");
	vs_const(&b, (uint64_t)-40);
	struct visor_insn add = insn(VISOR_CLS_ALU64 | VISOR_ALU_ADD | VISOR_SRC_X, 0, 0);
	vs_alu(&a, &b, &add);
	CHECK(vs_is_const(&a) && a.t.value == (uint64_t)-5 && a.smin == -5 && a.smax == -5,
	      "35 - 40 = -5");
	struct visor_insn add32 = insn(VISOR_CLS_ALU | VISOR_ALU_ADD | VISOR_SRC_K, 0, 0);
	vs_const(&b, 0);
	vs_alu(&a, &b, &add32);
	CHECK(vs_is_const(&a) && a.t.value == 0xfffffffbULL, "w0 += 0 zero-extends: 0x%" PRIx64,
	      a.t.value);
	vs_const(&b, 0);
	struct visor_insn div = insn(VISOR_CLS_ALU64 | VISOR_ALU_DIV | VISOR_SRC_X, 0, 0);
	vs_alu(&a, &b, &div);
	CHECK(vs_is_const(&a) && a.t.value == 0, "x / 0 = 0");
	vs_const(&a, 9);
	struct visor_insn mod = insn(VISOR_CLS_ALU64 | VISOR_ALU_MOD | VISOR_SRC_X, 0, 0);
	vs_alu(&a, &b, &mod);
	CHECK(vs_is_const(&a) && a.t.value == 9, "x %% 0 = x");
	vs_const(&a, 0x1234);
	struct visor_insn be16 = insn(VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_BE, 0, 16);
	vs_alu(&a, &a, &be16);
	CHECK(vs_is_const(&a) && a.t.value == 0x3412, "be16 0x1234");

	/* Ranges through arithmetic. */
	vs_loaded(&a, 1, false);
	check_range(&a, 0, 255, "u8 load");
	vs_const(&b, 4);
	struct visor_insn lsh = insn(VISOR_CLS_ALU64 | VISOR_ALU_LSH | VISOR_SRC_K, 0, 4);
	vs_alu(&a, &b, &lsh);
	check_range(&a, 0, 255 << 4, "u8 << 4");
	CHECK(a.t.mask == 0xff0, "u8 << 4 known bits: mask 0x%" PRIx64, a.t.mask);
	vs_const(&b, 10);
	vs_alu(&a, &b, &add);
	check_range(&a, 10, 4090, "(u8 << 4) + 10");
	vs_loaded(&a, 1, true);
	CHECK(a.smin == -128 && a.smax == 127 && a.s32min == -128 && a.s32max == 127,
	      "s8 load: [%" PRId64 ", %" PRId64 "]", a.smin, a.smax);
	vs_const(&b, 0xff);
	struct visor_insn and = insn(VISOR_CLS_ALU64 | VISOR_ALU_AND | VISOR_SRC_K, 0, 0xff);
	vs_alu(&a, &b, &and);
	check_range(&a, 0, 255, "s8 & 0xff");

	/* Branch refinement against constants. */
	vs_unknown(&a);
	vs_const(&b, 10);
	c = b;
	CHECK(vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JGT | VISOR_SRC_K, false), "r > 10 falls");
	check_range(&a, 0, 10, "after r > 10 falls through");
	CHECK(a.smin == 0 && a.smax == 10 && a.u32max == 10, "signed and 32-bit views follow");
	vs_unknown(&a);
	c = b;
	CHECK(vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JGT | VISOR_SRC_K, true), "r > 10 taken");
	check_range(&a, 11, UINT64_MAX, "after r > 10 taken");
	vs_unknown(&a);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JEQ | VISOR_SRC_K, true);
	CHECK(vs_is_const(&a) && a.t.value == 10, "r == 10 taken: constant");
	vs_unknown(&a);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JSLT | VISOR_SRC_K, true);
	CHECK(a.smin == INT64_MIN && a.smax == 9, "r s< 10 taken: smax %" PRId64, a.smax);
	vs_unknown(&a);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP32 | VISOR_JMP_JLE | VISOR_SRC_K, true);
	CHECK(a.u32min == 0 && a.u32max == 10 && a.umax == 0xffffffff0000000aULL,
	      "w <= 10 taken: u32 [%u, %u], umax 0x%" PRIx64, a.u32min, a.u32max, a.umax);
	vs_loaded(&a, 4, false);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP32 | VISOR_JMP_JLE | VISOR_SRC_K, true);
	check_range(&a, 0, 10, "u32 load, w <= 10 taken");
	vs_unknown(&a);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP32 | VISOR_JMP_JEQ | VISOR_SRC_K, true);
	CHECK(vs_is_const32(&a) && (uint32_t)a.t.value == 10 && !vs_is_const(&a),
	      "w == 10 taken: low half constant");
	/* JSET with one bit sets it; falling through clears it. */
	vs_loaded(&a, 1, false);
	vs_const(&b, 4);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JSET | VISOR_SRC_K, true);
	CHECK((a.t.value & 4) && a.umin >= 4, "jset 4 taken: bit known set");
	vs_loaded(&a, 1, false);
	c = b;
	vs_refine(&a, &c, VISOR_CLS_JMP | VISOR_JMP_JSET | VISOR_SRC_K, false);
	CHECK(!(a.t.mask & 4) && !(a.t.value & 4), "jset 4 falls: bit known clear");
	/* r != 0 on a [0, 5] range: [1, 5]. */
	vs_urange(&a, 0, 5);
	vs_const(&b, 0);
	vs_refine(&a, &b, VISOR_CLS_JMP | VISOR_JMP_JNE | VISOR_SRC_K, true);
	check_range(&a, 1, 5, "[0, 5] != 0");
	/* Decided branches and infeasible edges. */
	vs_urange(&a, 0, 5);
	vs_const(&b, 5);
	CHECK(vs_branch(&a, &b, VISOR_CLS_JMP | VISOR_JMP_JLE) == 1, "[0, 5] <= 5 always");
	CHECK(vs_branch(&a, &b, VISOR_CLS_JMP | VISOR_JMP_JGT) == 0, "[0, 5] > 5 never");
	CHECK(vs_branch(&a, &b, VISOR_CLS_JMP | VISOR_JMP_JEQ) == -1, "[0, 5] == 5 depends");
	c = a;
	CHECK(!vs_refine(&c, &b, VISOR_CLS_JMP | VISOR_JMP_JGT, true) && vs_empty(&c),
	      "[0, 5] > 5 taken is infeasible");

	/* Within, equal. */
	vs_urange(&a, 0, 100);
	vs_urange(&b, 10, 20);
	CHECK(vs_within(&a, &b) && !vs_within(&b, &a), "[10, 20] within [0, 100]");
	c = b;
	CHECK(vs_equal(&b, &c) && !vs_equal(&a, &b), "equality");
	vs_unknown(&c);
	CHECK(vs_within(&c, &a) && vs_within(&c, &c), "everything within unknown");

	/* Format. */
	vs_const(&a, 0x10);
	vs_format(&a, buf, sizeof(buf));
	CHECK(strcmp(buf, "0x10") == 0, "format const: %s", buf);
	vs_loaded(&a, 1, false);
	vs_format(&a, buf, sizeof(buf));
	CHECK(strcmp(buf, "[0, 255]") == 0, "format u8: %s", buf);
	vs_urange(&a, 0, 12);
	vs_const(&b, 4);
	struct visor_insn sub = insn(VISOR_CLS_ALU64 | VISOR_ALU_SUB | VISOR_SRC_K, 0, 4);
	vs_alu(&a, &b, &sub);
	vs_format(&a, buf, sizeof(buf));
	CHECK(strncmp(buf, "[-4, 8]", 7) == 0, "format signed: %s", buf);
	CHECK(vs_format(&a, buf, 4) >= 4 && strlen(buf) == 3, "format truncates safely");
}

int main(void)
{
	double scale = test_scale();
	build_forms();
	long n = (long)(10000 * scale);
	check_reference((long)(4000 * scale) + 10);
	check_alu(n + 10);
	check_jumps(n * 2 + 10);
	check_precision();
	return test_summary("test_verifier_scalar");
}
