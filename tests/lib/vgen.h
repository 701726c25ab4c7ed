/* Random programs shaped for the verifier, and the soundness oracle that
 * runs what it accepts.
 *
 * The generator writes programs that are *plausibly* safe: each is a
 * sequence of small idioms a compiler would emit (stack stores and loads,
 * context reads, packet bounds checks against data_end, map lookups with a
 * NULL check, helper calls, bounded loops, local calls passing stack
 * pointers, pointer spills and fills), each with a small chance of a
 * mistake near a limit (an offset one past the end, a missing NULL check,
 * the wrong jump direction, an uninitialised read, a mask one bit too
 * wide). So a good share passes the verifier, and what passes sits close
 * to the edge of what is safe. Jumps always land on instructions, the
 * program always ends with r0 set and exit: the abstract interpreter, not
 * the structural checks, decides. Registers keep fixed roles:
 *
 *   r6   the context (set first, never written again)
 *   r7   packet types: data, r8 data_end, with the first pkt_proven bytes
 *        checked in the prologue (other types: scalars)
 *   r9   loop counters and a scalar accumulator
 *   r0-r5 scratch
 *
 * Decisions come from the bytes given (libFuzzer input), then from a PRNG
 * seeded by them, so a seed or an input always gives the same program.
 *
 * vgen_check is the oracle: it loads the program in a VM with the maps the
 * program describes, verifies it (visor_verify_vm) and runs an accepted
 * program on several inputs in the interpreter, whose memory checks are
 * always on; a run that stops with an error is a verifier bug. After a
 * clean interpreter run the JIT (compiled without memory checks) runs the
 * same input and must agree on everything. */
#ifndef VISOR_TESTS_VGEN_H
#define VISOR_TESTS_VGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <visor/isa.h>

#define VGEN_MAX_MAPS 4

struct vgen_map {
	uint32_t type; /* VISOR_MAP_TYPE_ARRAY, _HASH or _RINGBUF */
	uint32_t key_size, value_size, max_entries;
	int32_t spin_lock_off; /* a struct bpf_spin_lock in the value there, or -1 */
};

struct vgen_prog {
	struct visor_insn *insns; /* malloc'd */
	size_t count;
	uint32_t prog_type; /* 0 (untyped), 1 socket filter, 2 kprobe, 3 tc, 6 XDP */
	uint32_t ctx_size;  /* untyped programs: bytes of input memory */
	struct vgen_map maps[VGEN_MAX_MAPS];
	size_t nmaps;
	bool raw;           /* from raw fuzzer bytes, not the generator */
};

/* Mistakes the generator leaves out (a set of VGEN_AVOID_*), so that a
 * known verifier bug does not hide the next one: "VISOR_SOUNDNESS_AVOID=
 * atomic" in the test and the fuzz target's environment. */
#define VGEN_AVOID_MISALIGNED_ATOMIC (1u << 0)
extern unsigned vgen_avoid;
/* Parses a comma-separated list ("atomic") into vgen_avoid. */
void vgen_avoid_from_env(void);

/* Generates from seed (data may be NULL) or from data. Returns 0 or -ENOMEM. */
int vgen_generate(uint64_t seed, const uint8_t *data, size_t len, struct vgen_prog *p);
/* Takes raw instruction slots (a fuzzer's bytes) as a program of the given
 * type, with one array map and one hash map. Returns 0, -EINVAL (no whole
 * slot) or -ENOMEM. */
int vgen_from_raw(const uint8_t *data, size_t len, uint32_t prog_type, struct vgen_prog *p);
void vgen_free(struct vgen_prog *p);

/* Prints p (type, maps, disassembly with indices) for a bug report. */
void vgen_dump(const struct vgen_prog *p, FILE *f);

struct vgen_outcome {
	int load_rc;          /* visor_vm_load (or setup) */
	char load_msg[256];
	int verify_rc;        /* visor_verify_vm: 0 accepted */
	char verify_msg[512];
	int64_t err_insn;
	uint64_t insns_processed; /* the verifier's effort */
	uint64_t verify_ns;
	bool accepted;
	unsigned runs;        /* interpreter runs of the accepted program */
	unsigned jit_runs;
	unsigned unrunnable;  /* runs the VM could not do for reasons outside the verifier */
	bool violation;       /* accepted, yet a run failed or the engines differ */
	char violation_msg[1024];
};

/* Loads, verifies and (when accepted) runs p on ninputs inputs derived from
 * input_seed, in the interpreter and then, when jit, in the JIT. Fills *o;
 * returns 0, or a negative errno when the check itself could not be set up
 * (map creation, allocation). */
int vgen_check(const struct vgen_prog *p, uint64_t input_seed, unsigned ninputs, bool jit,
	       struct vgen_outcome *o);

/* The verifier's message made into a category: numbers become N, so that
 * "R3 invalid mem access at off 12" and "... off 40" count as one reason. */
void vgen_reason_category(const char *msg, char *out, size_t len);

#endif
