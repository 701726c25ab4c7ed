/* The scalar domain: ranges (unsigned and signed, 64 and 32 bits) and known
 * bits kept in agreement, the transfer function of every ALU operation and
 * the refinement of conditional jumps. The model is the Linux verifier's
 * (reg_bounds_sync, adjust_scalar_min_max_vals, is_branch_taken,
 * reg_set_min_max); the range arithmetic is done in 128 bits so that no
 * overflow is ever undefined and wrapping is decided explicitly. */
#include <inttypes.h>
#include <stdio.h>

#include "verifier/scalar.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

static uint64_t umax64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t umin64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static int64_t smax64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t smin64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- Views of one width -------------------------------------------------
 * A view is what is known of a value of width 32 or 64: unsigned and signed
 * ranges (32-bit ones stored widened) and the known bits of that width. */
struct view {
	uint64_t umin, umax;
	int64_t smin, smax;
	struct tnum t;
};

static uint64_t wmask(unsigned w) { return w == 64 ? UINT64_MAX : 0xffffffffULL; }
static int64_t wsmin(unsigned w) { return w == 64 ? INT64_MIN : INT32_MIN; }
static int64_t wsmax(unsigned w) { return w == 64 ? INT64_MAX : INT32_MAX; }

static int64_t sext(uint64_t v, unsigned bits)
{
	if (bits >= 64)
		return (int64_t)v;
	uint64_t sign = 1ULL << (bits - 1);
	v &= (sign << 1) - 1;
	return (int64_t)((v ^ sign) - sign);
}

static struct tnum tnum_w(struct tnum t, unsigned w) { return w == 64 ? t : tnum_subreg(t); }

static void view_unknown_u(struct view *v, unsigned w)
{
	v->umin = 0;
	v->umax = wmask(w);
}

static void view_unknown_s(struct view *v, unsigned w)
{
	v->smin = wsmin(w);
	v->smax = wsmax(w);
}

static void view_unknown(struct view *v, unsigned w)
{
	view_unknown_u(v, w);
	view_unknown_s(v, w);
	v->t = tnum_w(tnum_unknown(), w);
}

static struct view view_of(const struct vscalar *r, unsigned w)
{
	if (w == 64)
		return (struct view){r->umin, r->umax, r->smin, r->smax, r->t};
	return (struct view){r->u32min, r->u32max, r->s32min, r->s32max, tnum_subreg(r->t)};
}

/* The integers [lo, hi] reduced to the width: one range when they do not
 * cross a wrap point, else anything. */
static void set_u_wrapped(struct view *v, i128 lo, i128 hi, unsigned w)
{
	uint64_t m = wmask(w);
	uint64_t l = (uint64_t)lo & m, h = (uint64_t)hi & m;
	if (hi - lo > (i128)m || l > h) {
		view_unknown_u(v, w);
		return;
	}
	v->umin = l;
	v->umax = h;
}

static void set_s_wrapped(struct view *v, i128 lo, i128 hi, unsigned w)
{
	int64_t l = sext((uint64_t)lo, w), h = sext((uint64_t)hi, w);
	if (hi - lo > (i128)wmask(w) || l > h) {
		view_unknown_s(v, w);
		return;
	}
	v->smin = l;
	v->smax = h;
}

/* Signed range of the bitwise operations: the unsigned one when it does not
 * cross the sign bit, else left to the known bits (sync). */
static void s_from_u(struct view *r, unsigned w)
{
	if (sext(r->umin, w) <= sext(r->umax, w)) {
		r->smin = sext(r->umin, w);
		r->smax = sext(r->umax, w);
	} else {
		view_unknown_s(r, w);
	}
}

static void view_add(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	set_u_wrapped(r, (i128)a->umin + b->umin, (i128)a->umax + b->umax, w);
	set_s_wrapped(r, (i128)a->smin + b->smin, (i128)a->smax + b->smax, w);
	r->t = tnum_w(tnum_add(a->t, b->t), w);
}

static void view_sub(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	set_u_wrapped(r, (i128)a->umin - b->umax, (i128)a->umax - b->umin, w);
	set_s_wrapped(r, (i128)a->smin - b->smax, (i128)a->smax - b->smin, w);
	r->t = tnum_w(tnum_sub(a->t, b->t), w);
}

static void view_mul(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	u128 ulo = (u128)a->umin * b->umin, uhi = (u128)a->umax * b->umax;
	if (uhi > wmask(w)) {
		view_unknown_u(r, w);
	} else {
		r->umin = (uint64_t)ulo;
		r->umax = (uint64_t)uhi;
	}
	i128 p[4] = {(i128)a->smin * b->smin, (i128)a->smin * b->smax, (i128)a->smax * b->smin,
		     (i128)a->smax * b->smax};
	i128 lo = p[0], hi = p[0];
	for (int i = 1; i < 4; i++) {
		lo = p[i] < lo ? p[i] : lo;
		hi = p[i] > hi ? p[i] : hi;
	}
	if (lo < wsmin(w) || hi > wsmax(w)) {
		view_unknown_s(r, w);
	} else {
		r->smin = (int64_t)lo;
		r->smax = (int64_t)hi;
	}
	r->t = tnum_w(tnum_mul(a->t, b->t), w);
}

static void view_and(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	r->t = tnum_and(a->t, b->t);
	r->umin = r->t.value;
	r->umax = umin64(a->umax, b->umax);
	/* A non-negative operand bounds the result: its sign bit is clear and
	 * the result's bits are a subset of its bits. */
	if (a->smin >= 0 || b->smin >= 0) {
		r->smin = 0;
		r->smax = a->smin >= 0 && b->smin >= 0 ? smin64(a->smax, b->smax)
			  : a->smin >= 0		  ? a->smax
							  : b->smax;
	} else {
		s_from_u(r, w);
	}
}

static void view_or(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	r->t = tnum_or(a->t, b->t);
	r->umin = umax64(a->umin, b->umin);
	r->umax = r->t.value | r->t.mask;
	s_from_u(r, w);
}

static void view_xor(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	r->t = tnum_xor(a->t, b->t);
	r->umin = r->t.value;
	r->umax = r->t.value | r->t.mask;
	s_from_u(r, w);
}

/* Shifts: the caller has checked that every count is below the width. */
static void view_lsh(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	unsigned lo = (unsigned)b->umin, hi = (unsigned)b->umax;
	if (a->umax > (wmask(w) >> hi)) {
		view_unknown_u(r, w);
	} else {
		r->umin = a->umin << lo;
		r->umax = a->umax << hi;
	}
	r->t = tnum_w(tnum_lshift(lo == hi ? a->t : tnum_unknown(), lo), w);
	view_unknown_s(r, w);
}

static void view_rsh(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	unsigned lo = (unsigned)b->umin, hi = (unsigned)b->umax;
	r->umin = a->umin >> hi;
	r->umax = a->umax >> lo;
	r->t = tnum_rshift(lo == hi ? a->t : tnum_w(tnum_unknown(), w), lo);
	view_unknown_s(r, w);
}

static void view_arsh(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	unsigned lo = (unsigned)b->umin, hi = (unsigned)b->umax;
	/* x >> s moves towards 0 (x >= 0) or -1 (x < 0) as s grows. The
	 * 32-bit values are stored sign-extended, so a 64-bit shift of them
	 * is their 32-bit shift. */
	r->smin = a->smin >> (a->smin < 0 ? lo : hi);
	r->smax = a->smax >> (a->smax < 0 ? hi : lo);
	r->t = lo == hi ? tnum_arshift(a->t, lo, w) : tnum_w(tnum_unknown(), w);
	view_unknown_u(r, w);
}

static void view_div(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	/* x / 0 = 0; else the quotient is monotonic in both operands. */
	r->umin = b->umin == 0 ? 0 : a->umin / b->umax;
	r->umax = b->umax == 0 ? 0 : a->umax / umax64(b->umin, 1);
	view_unknown_s(r, w);
	r->t = tnum_w(tnum_unknown(), w);
}

static void view_mod(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	/* x % 0 = x, and x % y = x when x < y. */
	if (b->umax == 0 || a->umax < b->umin) {
		*r = *a;
		return;
	}
	r->umin = 0;
	r->umax = b->umin == 0 ? a->umax : umin64(a->umax, b->umax - 1);
	view_unknown_s(r, w);
	r->t = tnum_w(tnum_unknown(), w);
}

static void view_sdiv(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	view_unknown(r, w);
	if (b->smin != b->smax)
		return;
	int64_t c = b->smin;
	if (c == 0) {
		r->umin = r->umax = 0;
		r->smin = r->smax = 0;
		r->t = tnum_const(0);
	} else if (c == -1) {
		/* Negation, where INT_MIN stays INT_MIN. */
		if (a->smin != wsmin(w)) {
			r->smin = -a->smax;
			r->smax = -a->smin;
		}
	} else if (c > 0) {
		r->smin = a->smin / c;
		r->smax = a->smax / c;
	} else {
		r->smin = a->smax / c;
		r->smax = a->smin / c;
	}
}

static void view_smod(struct view *r, const struct view *a, const struct view *b, unsigned w)
{
	view_unknown(r, w);
	if (b->smin != b->smax)
		return;
	int64_t c = b->smin;
	if (c == 0) {
		*r = *a;
		return;
	}
	if (c == -1) {
		r->umin = r->umax = 0;
		r->smin = r->smax = 0;
		r->t = tnum_const(0);
		return;
	}
	/* |x % c| < |c|, with the sign of x. */
	int64_t lim = (int64_t)((c < 0 ? -(uint64_t)c : (uint64_t)c) - 1);
	r->smin = a->smin >= 0 ? 0 : smax64(a->smin, -lim);
	r->smax = a->smax <= 0 ? 0 : smin64(a->smax, lim);
}

/* ---- Synchronising the views (the kernel's reg_bounds_sync) ------------- */

static void update_bounds_from_tnum(struct vscalar *r)
{
	struct tnum t32 = tnum_subreg(r->t);
	r->s32min = (int32_t)smax64(r->s32min, (int32_t)(uint32_t)(t32.value | (t32.mask & 0x80000000u)));
	r->s32max = (int32_t)smin64(r->s32max, (int32_t)(uint32_t)(t32.value | (t32.mask & 0x7fffffffu)));
	r->u32min = (uint32_t)umax64(r->u32min, t32.value);
	r->u32max = (uint32_t)umin64(r->u32max, t32.value | t32.mask);

	r->smin = smax64(r->smin, (int64_t)(r->t.value | (r->t.mask & (1ULL << 63))));
	r->smax = smin64(r->smax, (int64_t)(r->t.value | (r->t.mask & ~(1ULL << 63))));
	r->umin = umax64(r->umin, r->t.value);
	r->umax = umin64(r->umax, r->t.value | r->t.mask);
}

/* Intersects the 32-bit ranges with the low 32 bits of a 64-bit range
 * [lo, hi] (unsigned order of the 64-bit values given as uint64). */
static void deduce32_from(struct vscalar *r, uint64_t lo, uint64_t hi)
{
	/* Same upper half: the low halves form a range. */
	if ((lo >> 32) == (hi >> 32)) {
		r->u32min = (uint32_t)umax64(r->u32min, (uint32_t)lo);
		r->u32max = (uint32_t)umin64(r->u32max, (uint32_t)hi);
		if ((int32_t)lo <= (int32_t)hi) {
			r->s32min = (int32_t)smax64(r->s32min, (int32_t)lo);
			r->s32max = (int32_t)smin64(r->s32max, (int32_t)hi);
		}
	}
	/* Two consecutive upper halves, the low halves going from negative
	 * to non-negative: a signed 32-bit range. */
	if ((uint32_t)((lo >> 32) + 1) == (uint32_t)(hi >> 32) && (int32_t)lo < 0 &&
	    (int32_t)hi >= 0) {
		r->s32min = (int32_t)smax64(r->s32min, (int32_t)lo);
		r->s32max = (int32_t)smin64(r->s32max, (int32_t)hi);
	}
}

static void deduce32(struct vscalar *r)
{
	deduce32_from(r, r->umin, r->umax);
	deduce32_from(r, (uint64_t)r->smin, (uint64_t)r->smax);
	if ((int32_t)r->u32min <= (int32_t)r->u32max) {
		r->s32min = (int32_t)smax64(r->s32min, (int32_t)r->u32min);
		r->s32max = (int32_t)smin64(r->s32max, (int32_t)r->u32max);
	}
	if ((uint32_t)r->s32min <= (uint32_t)r->s32max) {
		r->u32min = (uint32_t)umax64(r->u32min, (uint32_t)r->s32min);
		r->u32max = (uint32_t)umin64(r->u32max, (uint32_t)r->s32max);
	}
}

static void deduce64(struct vscalar *r)
{
	if ((int64_t)r->umin <= (int64_t)r->umax) {
		r->smin = smax64(r->smin, (int64_t)r->umin);
		r->smax = smin64(r->smax, (int64_t)r->umax);
	}
	if ((uint64_t)r->smin <= (uint64_t)r->smax) {
		r->umin = umax64(r->umin, (uint64_t)r->smin);
		r->umax = umin64(r->umax, (uint64_t)r->smax);
	} else if (r->umax < (uint64_t)r->smin) {
		/* The signed range spans the sign boundary but the unsigned one
		 * keeps to its non-negative part (or its negative one below). */
		r->smin = (int64_t)r->umin;
		r->umax = umin64(r->umax, (uint64_t)r->smax);
	} else if ((uint64_t)r->smax < r->umin) {
		r->smax = (int64_t)r->umax;
		r->umin = umax64(r->umin, (uint64_t)r->smin);
	}
}

static void deduce_mixed(struct vscalar *r)
{
	const uint64_t hi = ~0xffffffffULL;
	r->umin = umax64(r->umin, (r->umin & hi) | r->u32min);
	r->umax = umin64(r->umax, (r->umax & hi) | r->u32max);
	r->smin = smax64(r->smin, (int64_t)(((uint64_t)r->smin & hi) | r->u32min));
	r->smax = smin64(r->smax, (int64_t)(((uint64_t)r->smax & hi) | r->u32max));
	/* A sign-extended 32-bit value whose low half is non-negative is that
	 * low half. */
	if (r->s32min >= 0 && r->smin >= INT32_MIN && r->smax <= INT32_MAX) {
		r->smin = smax64(r->smin, r->s32min);
		r->smax = smin64(r->smax, r->s32max);
		r->umin = umax64(r->umin, (uint64_t)r->s32min);
		r->umax = umin64(r->umax, (uint64_t)r->s32max);
	}
}

static void bound_tnum(struct vscalar *r)
{
	struct tnum t64 = tnum_intersect(r->t, tnum_range(r->umin, r->umax));
	struct tnum t32 = tnum_intersect(tnum_subreg(t64), tnum_range(r->u32min, r->u32max));
	r->t = tnum_or(tnum_intersect(t64, (struct tnum){0, ~0xffffffffULL}), t32);
	r->t.value &= ~r->t.mask;
}

void vs_sync(struct vscalar *r)
{
	update_bounds_from_tnum(r);
	for (int i = 0; i < 2; i++) {
		deduce32(r);
		deduce64(r);
		deduce_mixed(r);
	}
	bound_tnum(r);
	update_bounds_from_tnum(r);
}

/* ---- Construction ------------------------------------------------------- */

void vs_unknown(struct vscalar *r)
{
	r->t = tnum_unknown();
	r->umin = 0;
	r->umax = UINT64_MAX;
	r->smin = INT64_MIN;
	r->smax = INT64_MAX;
	r->u32min = 0;
	r->u32max = UINT32_MAX;
	r->s32min = INT32_MIN;
	r->s32max = INT32_MAX;
}

void vs_const(struct vscalar *r, uint64_t v)
{
	r->t = tnum_const(v);
	r->umin = r->umax = v;
	r->smin = r->smax = (int64_t)v;
	r->u32min = r->u32max = (uint32_t)v;
	r->s32min = r->s32max = (int32_t)(uint32_t)v;
}

void vs_urange(struct vscalar *r, uint64_t umin, uint64_t umax)
{
	vs_unknown(r);
	r->umin = umin;
	r->umax = umax;
	vs_sync(r);
}

void vs_loaded(struct vscalar *r, unsigned size, bool sign)
{
	vs_unknown(r);
	if (size >= 8)
		return;
	unsigned bits = size * 8;
	if (sign) {
		r->smin = -(int64_t)(1ULL << (bits - 1));
		r->smax = (int64_t)((1ULL << (bits - 1)) - 1);
	} else {
		r->umax = (1ULL << bits) - 1;
	}
	vs_sync(r);
}

void vs_zext32(struct vscalar *r)
{
	r->t = tnum_subreg(r->t);
	r->umin = r->u32min;
	r->umax = r->u32max;
	r->smin = (int64_t)r->u32min;
	r->smax = (int64_t)r->u32max;
	vs_sync(r);
}

/* Builds a value from the views computed by an operation: v64 (NULL if only
 * the 32-bit result is known, as after ALU32, then zero-extended) and v32
 * (NULL if the low half follows only from the 64-bit result). */
static void from_views(struct vscalar *r, const struct view *v64, const struct view *v32)
{
	vs_unknown(r);
	if (v64) {
		r->t = v64->t;
		r->umin = v64->umin;
		r->umax = v64->umax;
		r->smin = v64->smin;
		r->smax = v64->smax;
	}
	if (v32) {
		r->t = tnum_intersect(r->t, tnum_or(tnum_subreg(v32->t),
						    (struct tnum){0, v64 ? ~0xffffffffULL : 0}));
		r->u32min = (uint32_t)v32->umin;
		r->u32max = (uint32_t)v32->umax;
		r->s32min = (int32_t)v32->smin;
		r->s32max = (int32_t)v32->smax;
	}
	if (!v64) {
		r->umin = r->u32min;
		r->umax = r->u32max;
		r->smin = r->u32min;
		r->smax = r->u32max;
	}
	vs_sync(r);
}

/* ---- Predicates --------------------------------------------------------- */

bool vs_is_const(const struct vscalar *r) { return tnum_is_const(r->t); }

bool vs_is_const32(const struct vscalar *r) { return tnum_is_const(tnum_subreg(r->t)); }

bool vs_contains(const struct vscalar *r, uint64_t v)
{
	return tnum_contains(r->t, v) && v >= r->umin && v <= r->umax &&
	       (int64_t)v >= r->smin && (int64_t)v <= r->smax && (uint32_t)v >= r->u32min &&
	       (uint32_t)v <= r->u32max && (int32_t)(uint32_t)v >= r->s32min &&
	       (int32_t)(uint32_t)v <= r->s32max;
}

bool vs_equal(const struct vscalar *a, const struct vscalar *b)
{
	return a->t.value == b->t.value && a->t.mask == b->t.mask && a->umin == b->umin &&
	       a->umax == b->umax && a->smin == b->smin && a->smax == b->smax &&
	       a->u32min == b->u32min && a->u32max == b->u32max && a->s32min == b->s32min &&
	       a->s32max == b->s32max;
}

bool vs_within(const struct vscalar *old, const struct vscalar *cur)
{
	return tnum_in(old->t, cur->t) && old->umin <= cur->umin && cur->umax <= old->umax &&
	       old->smin <= cur->smin && cur->smax <= old->smax && old->u32min <= cur->u32min &&
	       cur->u32max <= old->u32max && old->s32min <= cur->s32min &&
	       cur->s32max <= old->s32max;
}

bool vs_empty(const struct vscalar *r)
{
	return r->umin > r->umax || r->smin > r->smax || r->u32min > r->u32max ||
	       r->s32min > r->s32max || (r->t.value & r->t.mask);
}

static void make_empty(struct vscalar *r)
{
	vs_unknown(r);
	r->umin = 1;
	r->umax = 0;
	r->smin = 1;
	r->smax = 0;
	r->u32min = 1;
	r->u32max = 0;
	r->s32min = 1;
	r->s32max = 0;
}

/* ---- ALU ---------------------------------------------------------------- */

static uint64_t bswap_bits(uint64_t v, unsigned bits)
{
	switch (bits) {
	case 16: return __builtin_bswap16((uint16_t)v);
	case 32: return __builtin_bswap32((uint32_t)v);
	default: return __builtin_bswap64(v);
	}
}

static uint64_t trunc_bits(uint64_t v, unsigned bits)
{
	return bits >= 64 ? v : v & ((1ULL << bits) - 1);
}

/* The concrete result, as src/vm/interp.c computes it, for constants. */
static uint64_t alu_concrete(const struct visor_insn *in, uint64_t d, uint64_t s)
{
	bool is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	uint8_t op = VISOR_OP(in->code);
	if (op == VISOR_ALU_END) {
		unsigned bits = (unsigned)in->imm;
		if (!is64 && VISOR_SRC(in->code) == VISOR_END_TO_LE)
			return trunc_bits(d, bits);
		return bswap_bits(d, bits);
	}
	if (op == VISOR_ALU_MOV && in->off) {
		uint64_t v = (uint64_t)sext(s, (unsigned)in->off);
		return is64 ? v : (uint32_t)v;
	}
	unsigned w = is64 ? 64 : 32;
	uint64_t m = wmask(w);
	d &= m;
	s &= m;
	int64_t sd = sext(d, w), ss = sext(s, w);
	uint64_t r;
	switch (op) {
	case VISOR_ALU_ADD: r = d + s; break;
	case VISOR_ALU_SUB: r = d - s; break;
	case VISOR_ALU_MUL: r = d * s; break;
	case VISOR_ALU_OR: r = d | s; break;
	case VISOR_ALU_AND: r = d & s; break;
	case VISOR_ALU_XOR: r = d ^ s; break;
	case VISOR_ALU_LSH: r = d << (s & (w - 1)); break;
	case VISOR_ALU_RSH: r = d >> (s & (w - 1)); break;
	case VISOR_ALU_ARSH: r = (uint64_t)(sd >> (s & (w - 1))); break;
	case VISOR_ALU_NEG: r = -d; break;
	case VISOR_ALU_MOV: r = s; break;
	case VISOR_ALU_DIV:
		if (in->off == 1)
			r = ss == 0 ? 0 : ss == -1 ? -d : (uint64_t)(sd / ss);
		else
			r = s ? d / s : 0;
		break;
	case VISOR_ALU_MOD:
		if (in->off == 1)
			r = ss == 0 ? d : ss == -1 ? 0 : (uint64_t)(sd % ss);
		else
			r = s ? d % s : d;
		break;
	default: r = 0; break;
	}
	return r & m;
}

/* dst = the low `bits` of src, zero- or sign-extended to 64 bits. */
static void extend_low(struct vscalar *r, const struct vscalar *src, unsigned bits, bool sign)
{
	struct vscalar s = *src;
	uint64_t low = trunc_bits(UINT64_MAX, bits);
	uint64_t sign_bit = 1ULL << (bits - 1);
	vs_unknown(r);
	/* Known bits: the low ones, the sign bit's state spread above. */
	struct tnum t = tnum_cast(s.t, bits / 8);
	if (sign && (t.mask & sign_bit))
		t.mask |= ~low;
	else if (sign && (t.value & sign_bit))
		t.value |= ~low;
	r->t = t;
	if (sign && s.smin >= -(int64_t)sign_bit && s.smax <= (int64_t)(sign_bit - 1)) {
		/* Already a sign-extended value of that width: unchanged. */
		*r = s;
		return;
	}
	if (!sign && s.umax <= low) {
		*r = s;
		return;
	}
	if ((s.umin & ~low) == (s.umax & ~low)) {
		/* One upper part: the low parts form a range. */
		uint64_t lo = s.umin & low, hi = s.umax & low;
		if (!sign) {
			r->umin = lo;
			r->umax = hi;
		} else if (sext(lo, bits) <= sext(hi, bits)) {
			r->smin = sext(lo, bits);
			r->smax = sext(hi, bits);
		}
	}
	if (bits == 32) {
		if (sign) {
			r->smin = s.s32min;
			r->smax = s.s32max;
		} else {
			r->umin = s.u32min;
			r->umax = s.u32max;
		}
	}
	vs_sync(r);
}

static void alu_end(struct vscalar *dst, const struct visor_insn *in)
{
	bool is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	unsigned bits = (unsigned)in->imm;
	if (bits != 16 && bits != 32 && bits != 64) {
		vs_unknown(dst);
		return;
	}
	if (!is64 && VISOR_SRC(in->code) == VISOR_END_TO_LE) {
		if (bits < 64)
			extend_low(dst, dst, bits, false);
		return;
	}
	/* A byte swap moves known bits with their bytes. */
	struct tnum t = tnum_cast(dst->t, bits / 8);
	vs_unknown(dst);
	dst->t.value = bswap_bits(t.value, bits);
	dst->t.mask = bswap_bits(t.mask, bits);
	vs_sync(dst);
}

static bool is_shift(uint8_t op)
{
	return op == VISOR_ALU_LSH || op == VISOR_ALU_RSH || op == VISOR_ALU_ARSH;
}

static void view_op(struct view *r, const struct view *a, const struct view *b, uint8_t op,
		    int16_t off, unsigned w)
{
	switch (op) {
	case VISOR_ALU_ADD: view_add(r, a, b, w); break;
	case VISOR_ALU_SUB: view_sub(r, a, b, w); break;
	case VISOR_ALU_MUL: view_mul(r, a, b, w); break;
	case VISOR_ALU_AND: view_and(r, a, b, w); break;
	case VISOR_ALU_OR: view_or(r, a, b, w); break;
	case VISOR_ALU_XOR: view_xor(r, a, b, w); break;
	case VISOR_ALU_LSH: view_lsh(r, a, b, w); break;
	case VISOR_ALU_RSH: view_rsh(r, a, b, w); break;
	case VISOR_ALU_ARSH: view_arsh(r, a, b, w); break;
	case VISOR_ALU_DIV: off == 1 ? view_sdiv(r, a, b, w) : view_div(r, a, b, w); break;
	case VISOR_ALU_MOD: off == 1 ? view_smod(r, a, b, w) : view_mod(r, a, b, w); break;
	case VISOR_ALU_NEG: {
		struct view zero = {0, 0, 0, 0, tnum_const(0)};
		view_sub(r, &zero, a, w);
		break;
	}
	default: view_unknown(r, w); break;
	}
}

void vs_alu(struct vscalar *dst, const struct vscalar *src, const struct visor_insn *in)
{
	bool is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	uint8_t op = VISOR_OP(in->code);
	unsigned w = is64 ? 64 : 32;
	struct vscalar s = *src; /* src may be dst */

	if (op == VISOR_ALU_END) {
		if (vs_is_const(dst))
			vs_const(dst, alu_concrete(in, dst->t.value, 0));
		else
			alu_end(dst, in);
		return;
	}
	if (op == VISOR_ALU_MOV) {
		if (in->off == 8 || in->off == 16 || (in->off == 32 && is64)) {
			extend_low(dst, &s, (unsigned)in->off, true);
			if (!is64)
				vs_zext32(dst);
		} else {
			*dst = s;
			if (!is64)
				vs_zext32(dst);
		}
		return;
	}
	bool dconst = is64 ? vs_is_const(dst) : vs_is_const32(dst);
	bool sconst = is64 ? vs_is_const(&s) : vs_is_const32(&s);
	if (dconst && (sconst || op == VISOR_ALU_NEG)) {
		vs_const(dst, alu_concrete(in, dst->t.value, s.t.value));
		return;
	}
	struct view a = view_of(dst, w), b = view_of(&s, w), r;
	if (is_shift(op) && op != VISOR_ALU_NEG && b.umax >= w) {
		/* A count that may be out of range: the ISA masks it, the
		 * kernel rejects it; either way nothing is known. */
		vs_unknown(dst);
		if (!is64)
			vs_zext32(dst);
		return;
	}
	view_op(&r, &a, &b, op, in->off, w);
	if (!is64) {
		from_views(dst, NULL, &r);
		return;
	}
	/* The low half of a 64-bit add, sub, mul, bitwise op or negation is
	 * the 32-bit operation on the low halves: both results hold. */
	bool low_follows = op == VISOR_ALU_ADD || op == VISOR_ALU_SUB || op == VISOR_ALU_MUL ||
			   op == VISOR_ALU_AND || op == VISOR_ALU_OR || op == VISOR_ALU_XOR ||
			   op == VISOR_ALU_NEG;
	if (low_follows) {
		struct view a32 = view_of(dst, 32), b32 = view_of(&s, 32), r32;
		view_op(&r32, &a32, &b32, op, in->off, 32);
		from_views(dst, &r, &r32);
	} else {
		from_views(dst, &r, NULL);
	}
}

/* ---- Conditional jumps -------------------------------------------------- */

static uint8_t negate_jmp(uint8_t op)
{
	switch (op) {
	case VISOR_JMP_JEQ: return VISOR_JMP_JNE;
	case VISOR_JMP_JNE: return VISOR_JMP_JEQ;
	case VISOR_JMP_JGT: return VISOR_JMP_JLE;
	case VISOR_JMP_JLE: return VISOR_JMP_JGT;
	case VISOR_JMP_JGE: return VISOR_JMP_JLT;
	case VISOR_JMP_JLT: return VISOR_JMP_JGE;
	case VISOR_JMP_JSGT: return VISOR_JMP_JSLE;
	case VISOR_JMP_JSLE: return VISOR_JMP_JSGT;
	case VISOR_JMP_JSGE: return VISOR_JMP_JSLT;
	case VISOR_JMP_JSLT: return VISOR_JMP_JSGE;
	default: return op;
	}
}

/* a OP b over views: 1 always, 0 never, -1 depends. */
static int view_branch(const struct view *a, const struct view *b, uint8_t op)
{
	switch (op) {
	case VISOR_JMP_JEQ:
	case VISOR_JMP_JNE: {
		int eq = -1;
		if (tnum_is_const(a->t) && tnum_is_const(b->t))
			eq = a->t.value == b->t.value;
		else if (a->umin > b->umax || a->umax < b->umin || a->smin > b->smax ||
			 a->smax < b->smin || ((a->t.value ^ b->t.value) & ~(a->t.mask | b->t.mask)))
			eq = 0;
		return eq < 0 ? -1 : op == VISOR_JMP_JEQ ? eq : !eq;
	}
	case VISOR_JMP_JSET:
		if (a->t.value & b->t.value)
			return 1;
		if (((a->t.value | a->t.mask) & (b->t.value | b->t.mask)) == 0)
			return 0;
		return -1;
	case VISOR_JMP_JGT:
		return a->umin > b->umax ? 1 : a->umax <= b->umin ? 0 : -1;
	case VISOR_JMP_JGE:
		return a->umin >= b->umax ? 1 : a->umax < b->umin ? 0 : -1;
	case VISOR_JMP_JLT:
		return a->umax < b->umin ? 1 : a->umin >= b->umax ? 0 : -1;
	case VISOR_JMP_JLE:
		return a->umax <= b->umin ? 1 : a->umin > b->umax ? 0 : -1;
	case VISOR_JMP_JSGT:
		return a->smin > b->smax ? 1 : a->smax <= b->smin ? 0 : -1;
	case VISOR_JMP_JSGE:
		return a->smin >= b->smax ? 1 : a->smax < b->smin ? 0 : -1;
	case VISOR_JMP_JSLT:
		return a->smax < b->smin ? 1 : a->smin >= b->smax ? 0 : -1;
	case VISOR_JMP_JSLE:
		return a->smax <= b->smin ? 1 : a->smin > b->smax ? 0 : -1;
	default: return -1;
	}
}

int vs_branch(const struct vscalar *a, const struct vscalar *b, uint8_t code)
{
	unsigned w = VISOR_CLASS(code) == VISOR_CLS_JMP32 ? 32 : 64;
	struct view va = view_of(a, w), vb = view_of(b, w);
	return view_branch(&va, &vb, VISOR_OP(code));
}

/* a != c for a constant c: an end of a range equal to c goes. */
static void view_exclude(struct view *a, uint64_t c, unsigned w)
{
	int64_t sc = sext(c, w);
	if (a->umin == c && a->umin < a->umax)
		a->umin++;
	else if (a->umax == c && a->umin < a->umax)
		a->umax--;
	if (a->smin == sc && a->smin < a->smax)
		a->smin++;
	else if (a->smax == sc && a->smin < a->smax)
		a->smax--;
}

/* Narrows a and b (views of width w) to the pairs with a OP b. The caller
 * has ruled out the edge being never taken. */
static void view_refine(struct view *a, struct view *b, uint8_t op, bool taken, unsigned w)
{
	if (op == VISOR_JMP_JSET) {
		if (taken) {
			/* A single possible bit in b must be set in a. */
			uint64_t bb = b->t.value | b->t.mask, ab = a->t.value | a->t.mask;
			if (tnum_is_const(b->t) && bb && !(bb & (bb - 1)))
				a->t = tnum_or(a->t, b->t);
			if (tnum_is_const(a->t) && ab && !(ab & (ab - 1)))
				b->t = tnum_or(b->t, a->t);
			view_exclude(a, 0, w);
			view_exclude(b, 0, w);
		} else {
			/* A bit known set in one is clear in the other. */
			struct tnum ta = a->t;
			a->t = tnum_and(a->t, tnum_const(~b->t.value));
			b->t = tnum_and(b->t, tnum_const(~ta.value));
		}
		return;
	}
	if (!taken)
		op = negate_jmp(op);
	switch (op) {
	case VISOR_JMP_JEQ:
		a->umin = b->umin = umax64(a->umin, b->umin);
		a->umax = b->umax = umin64(a->umax, b->umax);
		a->smin = b->smin = smax64(a->smin, b->smin);
		a->smax = b->smax = smin64(a->smax, b->smax);
		a->t = b->t = tnum_intersect(a->t, b->t);
		break;
	case VISOR_JMP_JNE:
		if (tnum_is_const(b->t))
			view_exclude(a, b->t.value, w);
		if (tnum_is_const(a->t))
			view_exclude(b, a->t.value, w);
		break;
	/* a < b: a below b's maximum, b above a's minimum. The never-taken
	 * case (b->umax == 0 for a < b) was excluded by the caller. */
	case VISOR_JMP_JLT:
		a->umax = umin64(a->umax, b->umax - 1);
		b->umin = umax64(b->umin, a->umin + 1);
		break;
	case VISOR_JMP_JLE:
		a->umax = umin64(a->umax, b->umax);
		b->umin = umax64(b->umin, a->umin);
		break;
	case VISOR_JMP_JGT:
		view_refine(b, a, VISOR_JMP_JLT, true, w);
		break;
	case VISOR_JMP_JGE:
		view_refine(b, a, VISOR_JMP_JLE, true, w);
		break;
	case VISOR_JMP_JSLT:
		a->smax = smin64(a->smax, b->smax - 1);
		b->smin = smax64(b->smin, a->smin + 1);
		break;
	case VISOR_JMP_JSLE:
		a->smax = smin64(a->smax, b->smax);
		b->smin = smax64(b->smin, a->smin);
		break;
	case VISOR_JMP_JSGT:
		view_refine(b, a, VISOR_JMP_JSLT, true, w);
		break;
	case VISOR_JMP_JSGE:
		view_refine(b, a, VISOR_JMP_JSLE, true, w);
		break;
	default: break;
	}
}

/* Writes a refined view back and re-syncs. */
static void apply_view(struct vscalar *r, const struct view *v, unsigned w)
{
	if (w == 64) {
		r->umin = v->umin;
		r->umax = v->umax;
		r->smin = v->smin;
		r->smax = v->smax;
		r->t = v->t;
	} else {
		r->u32min = (uint32_t)v->umin;
		r->u32max = (uint32_t)v->umax;
		r->s32min = (int32_t)v->smin;
		r->s32max = (int32_t)v->smax;
		r->t = tnum_or(tnum_intersect(r->t, (struct tnum){0, ~0xffffffffULL}),
			       tnum_subreg(v->t));
	}
	vs_sync(r);
}

static bool tnum_conflict(struct tnum a, struct tnum b)
{
	return (a.value ^ b.value) & ~(a.mask | b.mask);
}

bool vs_refine(struct vscalar *a, struct vscalar *b, uint8_t code, bool taken)
{
	unsigned w = VISOR_CLASS(code) == VISOR_CLS_JMP32 ? 32 : 64;
	uint8_t op = VISOR_OP(code);
	if (vs_empty(a) || vs_empty(b))
		goto infeasible;
	struct view va = view_of(a, w), vb = view_of(b, w);
	int br = view_branch(&va, &vb, op);
	if (br == (taken ? 0 : 1))
		goto infeasible;
	if (br == -1) {
		if ((op == VISOR_JMP_JEQ && taken) || (op == VISOR_JMP_JNE && !taken)) {
			if (tnum_conflict(va.t, vb.t))
				goto infeasible;
		}
		struct vscalar ra = *a, rb = *b;
		view_refine(&va, &vb, op, taken, w);
		apply_view(&ra, &va, w);
		apply_view(&rb, &vb, w);
		if (vs_empty(&ra) || vs_empty(&rb))
			goto infeasible;
		*a = ra;
		*b = rb;
	}
	return true;
infeasible:
	make_empty(a);
	make_empty(b);
	return false;
}

/* ---- Formatting --------------------------------------------------------- */

int vs_format(const struct vscalar *r, char *buf, size_t len)
{
	if (vs_empty(r))
		return snprintf(buf, len, "(empty)");
	if (vs_is_const(r)) {
		if (r->smin < 0 && r->smin > -4096)
			return snprintf(buf, len, "%" PRId64, r->smin);
		return snprintf(buf, len, "0x%" PRIx64, r->t.value);
	}
	int n;
	if (r->smin < 0 && (uint64_t)r->smin > r->umin)
		n = snprintf(buf, len, "[%" PRId64 ", %" PRId64 "]", r->smin, r->smax);
	else
		n = snprintf(buf, len, "[%" PRIu64 ", %" PRIu64 "]", r->umin, r->umax);
	if (n < 0)
		return n;
	/* Known bits the range does not already say. */
	struct tnum implied = tnum_range(r->umin, r->umax);
	if (r->t.mask != implied.mask || r->t.value != implied.value) {
		size_t used = (size_t)n < len ? (size_t)n : len;
		int m = snprintf(buf + used, len - used, " known bits 0x%" PRIx64 " mask 0x%" PRIx64,
				 r->t.value, r->t.mask);
		if (m < 0)
			return m;
		n += m;
	}
	return n;
}
