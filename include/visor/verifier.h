/* visor — the verifier: proves a program safe before the visor engine runs
 * it (docs/VERIFIER.md). A program it accepts cannot read or write outside
 * the memory it was given, run forever, call a helper its type may not
 * call, or leak a pointer; the engine then runs it in the JIT without
 * inline memory checks. */
#ifndef VISOR_VERIFIER_H
#define VISOR_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>
#include <visor/maps.h>
#include <visor/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VISOR_VERIFY_INSN_LIMIT 1000000 /* instructions processed, as the kernel */

/* Where an instruction comes from in the C source (BTF line info); return 0
 * and fill what is known, or non-zero when nothing is. */
typedef int (*visor_verify_line_fn)(void *ctx, size_t insn, const char **file, unsigned *line,
				    const char **text);

/* Options and results of one verification. Zero-initialise, set .sz
 * (VISOR_OPTS). */
struct visor_verify_opts {
	size_t sz;
	/* in: what the program is */
	uint32_t prog_type;  /* VISOR_VM_PROG_* (Linux numbering); 0 = untyped: r1 points to
				ctx_size bytes of readable and writable memory and r2 holds
				ctx_size (0: r1 and r2 are any numbers); a verified untyped
				program runs unchecked in the JIT only with exactly that memory */
	uint32_t ctx_size;   /* untyped programs only */
	struct visor_map *const *maps; /* what lddw src 1/5 (and 2/6) index */
	size_t nmaps;
	/* in: messages */
	unsigned log_level;  /* 0: the error; 1: + the failing path; 2: + register and stack
				states along it (the kernel's log level 2, readable) */
	char *log_buf;       /* optional: the log (NUL-terminated, truncated to log_size) */
	size_t log_size;
	visor_verify_line_fn line_of; /* optional: source lines for messages */
	void *line_ctx;
	/* out */
	char errmsg[512];    /* the reason, one paragraph, "" when accepted */
	int64_t err_insn;    /* the instruction at fault, -1 if none */
	uint64_t insns_processed; /* abstract instructions executed (the kernel's "processed") */
	uint32_t states_stored;   /* states kept for pruning */
	uint32_t states_pruned;   /* paths cut because an explored state covered them */
	uint32_t max_stack;       /* deepest combined stack of a call chain, bytes */
	uint64_t verify_ns;
};

/* Verifies insns[0..count) as a program of opts->prog_type with the given
 * maps. Returns 0 when safe; -EACCES (unsafe: the reason and instruction in
 * opts), -EINVAL (malformed: bad opcode, jump ...), -E2BIG (too complex:
 * more than VISOR_VERIFY_INSN_LIMIT instructions processed, or a loop
 * whose bound is not proven), -ENOMEM. */
int visor_verify(const struct visor_insn *insns, size_t count, struct visor_verify_opts *opts);

/* Verifies the program loaded in vm against the VM's maps and program type
 * (prog_type / maps in opts are ignored) and, when it is safe, marks it
 * verified: visor_vm_exec and test runs then accept it, and the JIT
 * compiles it without memory checks. Same returns as visor_verify. */
int visor_verify_vm(struct visor_vm *vm, struct visor_verify_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
