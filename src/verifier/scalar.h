/* The verifier's scalar domain: what is known of a 64-bit value (and of its
 * low 32 bits) as known bits (tnum) plus unsigned and signed ranges, with
 * the transfer functions of every ALU operation and the refinement a
 * conditional jump gives on each of its edges. Sound: every concrete value
 * a register can hold is inside its abstract value (tests/test_verifier_scalar.c
 * checks this on random values). The model is the Linux verifier's
 * (tnum.c, reg_bounds_sync, adjust_scalar_min_max_vals, reg_set_min_max). */
#ifndef VISOR_VERIFIER_SCALAR_H
#define VISOR_VERIFIER_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

/* Known bits: a bit set in mask is unknown; else its value is in value. */
struct tnum {
	uint64_t value;
	uint64_t mask;
};

struct tnum tnum_const(uint64_t v);
struct tnum tnum_unknown(void);
struct tnum tnum_range(uint64_t min, uint64_t max); /* smallest tnum holding [min, max] */
bool tnum_is_const(struct tnum t);
bool tnum_in(struct tnum outer, struct tnum inner); /* every value of inner is in outer */
bool tnum_contains(struct tnum t, uint64_t v);
struct tnum tnum_add(struct tnum a, struct tnum b);
struct tnum tnum_sub(struct tnum a, struct tnum b);
struct tnum tnum_and(struct tnum a, struct tnum b);
struct tnum tnum_or(struct tnum a, struct tnum b);
struct tnum tnum_xor(struct tnum a, struct tnum b);
struct tnum tnum_mul(struct tnum a, struct tnum b);
struct tnum tnum_lshift(struct tnum a, unsigned shift);
struct tnum tnum_rshift(struct tnum a, unsigned shift);
struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned width); /* width 32 or 64 */
struct tnum tnum_intersect(struct tnum a, struct tnum b);
struct tnum tnum_cast(struct tnum a, unsigned bytes); /* keep the low bytes */
struct tnum tnum_subreg(struct tnum a);             /* low 32 bits */

/* An abstract scalar. All five views always agree (vs_sync). */
struct vscalar {
	struct tnum t;
	uint64_t umin, umax;
	int64_t smin, smax;
	uint32_t u32min, u32max;
	int32_t s32min, s32max;
};

void vs_const(struct vscalar *r, uint64_t v);
void vs_unknown(struct vscalar *r);
/* A value read from memory: size bytes (1, 2, 4, 8) zero-extended, or
 * sign-extended to 64 bits when sign (LDXSX). */
void vs_loaded(struct vscalar *r, unsigned size, bool sign);
/* [umin, umax] as unsigned 64-bit. */
void vs_urange(struct vscalar *r, uint64_t umin, uint64_t umax);
/* Re-derives every view from the others (the kernel's reg_bounds_sync). */
void vs_sync(struct vscalar *r);
/* Zero-extends the low 32 bits (the result of every ALU32 operation). */
void vs_zext32(struct vscalar *r);

bool vs_is_const(const struct vscalar *r);      /* exactly one 64-bit value */
bool vs_is_const32(const struct vscalar *r);    /* exactly one low-32-bit value */
bool vs_contains(const struct vscalar *r, uint64_t v); /* v is a possible value */
bool vs_equal(const struct vscalar *a, const struct vscalar *b);
/* Every value cur can hold, old can hold too (state pruning). */
bool vs_within(const struct vscalar *old, const struct vscalar *cur);
/* No value at all: an infeasible branch refined everything away. */
bool vs_empty(const struct vscalar *r);

/* dst = dst OP src for the ALU or ALU64 instruction in (class, operation,
 * and in->off / in->imm where they matter: sdiv/smod off 1, movsx off 8/16/32,
 * the width of byte swaps in imm). src is the operand already made
 * abstract: for the K form the caller passes imm as the instruction sees it
 * (sign-extended for ALU64, the low 32 bits for ALU). Division or modulo by
 * zero follows the ISA (x / 0 = 0, x % 0 = x). Shifts by a count that may
 * be out of range give an unknown value (the ISA masks the count, so no
 * undefined behaviour either way). NEG, END and MOV(SX) ignore src where
 * they have no operand. */
void vs_alu(struct vscalar *dst, const struct vscalar *src, const struct visor_insn *in);

/* For a conditional jump (class JMP or JMP32, any of JEQ .. JSLE, JSET)
 * comparing a with b: 1 if it is taken for every possible value, 0 if
 * never, -1 if it depends. */
int vs_branch(const struct vscalar *a, const struct vscalar *b, uint8_t code);
/* Narrows a and b to the values for which the jump is taken (taken) or
 * falls through (!taken). Returns false when no value is left (the edge is
 * infeasible). */
bool vs_refine(struct vscalar *a, struct vscalar *b, uint8_t code, bool taken);

/* "0x10", "[0, 255]", "[-4, 12] known bits 0x...", readable for logs. */
int vs_format(const struct vscalar *r, char *buf, size_t len);

#endif
