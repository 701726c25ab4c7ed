/* Seeded random eBPF programs that the Linux verifier accepts, for
 * differential testing of visor's interpreter against the kernel.
 *
 * A program runs as a BPF_PROG_TYPE_SYSCALL program: r1 points at a context
 * buffer of ctx_len bytes (80..256), nothing else is set at entry. It keeps
 * the context pointer in r9 and never changes r9 or r10 afterwards, computes
 * with scalars only, and ends by storing r0..r8 at ctx[0..72) and as many of
 * its stack slots as fit after them, so the final state of every register
 * and of the stack is visible in the context. It returns r0.
 *
 * The same seed (and flags) always gives the same program and context. */
#ifndef VISOR_TESTS_RANDPROG_H
#define VISOR_TESTS_RANDPROG_H

#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

#define RANDPROG_MAX_CTX 256
#define RANDPROG_REGS_OFF 0     /* r0..r8 are stored here, 8 bytes each */
#define RANDPROG_STACK_OFF 72   /* then the main frame's stack, top slot first */

/* Feature switches, to find which construct a mismatch needs. */
enum {
	RANDPROG_NO_CALLS = 1 << 0,  /* no bpf-to-bpf subprograms */
	RANDPROG_NO_LOOPS = 1 << 1,  /* no backward jumps */
	RANDPROG_NO_ATOMIC = 1 << 2, /* no atomic read-modify-write */
	RANDPROG_NO_JMP32_JA = 1 << 3, /* no "gotol" (JMP32 | JA, imm offset) */
	RANDPROG_NO_SX = 1 << 4,     /* no sign-extending loads and movs, no sdiv/smod */
};

struct randprog {
	struct visor_insn *insns; /* malloc'd, count slots */
	size_t count;
	size_t ctx_len;
	uint8_t ctx[RANDPROG_MAX_CTX]; /* initial context contents */
	/* What went in, for messages. */
	size_t body_insns;
	int nsubs;
	int nloops;
};

/* Generates the program for seed. Returns 0, or -ENOMEM. */
int randprog_generate(uint64_t seed, unsigned flags, struct randprog *p);
void randprog_free(struct randprog *p);

/* The generator's PRNG (splitmix64), exposed for tests that want their own
 * deterministic streams. */
uint64_t randprog_next(uint64_t *state);

#endif
