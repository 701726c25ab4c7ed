/* Random programs for comparing visor's JIT with its interpreter.
 *
 * Broader than randprog (which stays within what the kernel's verifier
 * accepts): every instruction class, forward and backward jumps, bounded
 * loops and loops only the budget ends, stack, input-memory and computed
 * addresses, atomics (aligned and not), LD_ABS/LD_IND, helper calls (pure,
 * writing memory, taking stack pointers, stopping or failing the run, and
 * unregistered ids), local calls up to and beyond the depth limit, and
 * deliberate faults. Programs never let a pointer value reach r0, memory
 * or a comparison, so both engines must agree bit for bit even though
 * their stacks live at different addresses:
 *
 *   r9   the input memory (set first, never written again)
 *   r10  the frame pointer
 *   r8   computed addresses only: never read except as a base
 *   r0-r7 scalars
 *
 * Main ends by storing r0-r7 and its first stack words into the input
 * memory, which the comparison checks along with r0, the error and, when
 * a budget is set, the instruction count.
 *
 * Decisions come from the bytes given (libFuzzer input), then from a PRNG
 * seeded by them, so a seed or an input always gives the same program. */
#ifndef VISOR_TESTS_JITGEN_H
#define VISOR_TESTS_JITGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <visor/isa.h>
#include <visor/vm.h>

#define JITGEN_MAX_MEM 256
#define JITGEN_MAX_PKT 64

struct jitgen_prog {
	struct visor_insn *insns; /* malloc'd */
	size_t count;
	uint8_t mem[JITGEN_MAX_MEM]; /* initial input memory */
	size_t mem_len;
	uint8_t pkt[JITGEN_MAX_PKT]; /* separate LD_ABS packet, if pkt_len */
	size_t pkt_len;
	uint64_t budget;    /* 0 = unlimited (only for programs that end) */
	unsigned jit_flags; /* VISOR_JIT_* and internal test flags to compile with */
	bool safe;          /* no fault, no misaligned atomic: VERIFIED may run it */
};

/* Generates from seed (data may be NULL) or from data. Returns 0 or -ENOMEM. */
int jitgen_generate(uint64_t seed, const uint8_t *data, size_t len, struct jitgen_prog *p);
void jitgen_free(struct jitgen_prog *p);

/* Runs p in the interpreter and in the JIT (compiled with p->jit_flags, and
 * also with VISOR_JIT_VERIFIED when p->safe and the verifier accepts it:
 * the other runs are in unsafe mode) and compares everything.
 * Returns 0 when they agree, 1 on a mismatch (described in why), or a
 * negative errno if the program could not be run at all. *outcome (may be
 * NULL) receives the interpreter's return code and *executed its count. */
int jitgen_compare(const struct jitgen_prog *p, int *outcome, uint64_t *executed, char *why,
		   size_t why_len);

/* How many programs jitgen_compare also ran without inline checks
 * (verified) so far in this process. */
uint64_t jitgen_verified_runs(void);

/* Prints p (disassembly, memory, budget, flags) for a bug report. */
void jitgen_dump(const struct jitgen_prog *p, FILE *f);

#endif
