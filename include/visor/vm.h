/* visor — the userspace eBPF engine: load a program, register helpers and
 * memory regions, run it in the interpreter. */
#ifndef VISOR_VM_H
#define VISOR_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/isa.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VISOR_STACK_FRAME 512 /* bytes per call frame, as the kernel */
#define VISOR_MAX_CALL_DEPTH 8 /* frames, including the main program */
#define VISOR_MAX_HELPERS 256  /* helper ids 0..255 */
#define VISOR_ERRMSG_LEN 256

struct visor_vm;
struct visor_vm_run; /* one execution in progress; helpers receive it */

/* A helper takes r1..r5 and returns r0, System V style, so the JIT can call
 * it directly. The run handle lets it check memory or stop the program. */
typedef uint64_t (*visor_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				    uint64_t r5, struct visor_vm_run *run);

struct visor_vm *visor_vm_create(void);
void visor_vm_destroy(struct visor_vm *vm);

/* The message of the last failed call on this VM ("" if none). */
const char *visor_vm_errmsg(const struct visor_vm *vm);

/* Registers fn as helper id (0..255); name is used in messages. Returns 0 or
 * -EINVAL (bad id / NULL fn) . Re-registering replaces. */
int visor_vm_register_helper(struct visor_vm *vm, uint32_t id, const char *name,
			     visor_helper_fn fn);
const char *visor_vm_helper_name(const struct visor_vm *vm, uint32_t id);

/* Memory the program may touch besides its stack and the input memory given
 * at run time (global data, map values ...). Returns 0, -EINVAL or -ENOMEM. */
int visor_vm_add_region(struct visor_vm *vm, void *base, size_t len, bool writable);

/* Validates and pre-decodes the program (a copy is kept). Every instruction
 * must be well formed, every jump and local call must land on an instruction
 * inside the program. Returns 0 or -EINVAL / -E2BIG / -ENOMEM with the
 * reason ("insn 7: jump to 12 lands in the middle of lddw") in errmsg. */
int visor_vm_load(struct visor_vm *vm, const struct visor_insn *insns, size_t count);
void visor_vm_unload(struct visor_vm *vm);

/* A loaded program runs only once the verifier accepted it
 * (visor_verify_vm, <visor/verifier.h>): runs of an unverified program fail
 * with -EACCES. Unsafe mode (explicit, per VM) runs programs without
 * verification; every memory access is then checked at run time, as
 * always in the interpreter, and the JIT keeps its inline checks. */
void visor_vm_set_unsafe(struct visor_vm *vm, bool unsafe);
/* Did the verifier accept the loaded program? Is the VM in unsafe mode? */
bool visor_vm_verified(const struct visor_vm *vm);
bool visor_vm_unsafe(const struct visor_vm *vm);

/* Options of one run. Zero-initialise, then set .sz = sizeof(opts)
 * (VISOR_OPTS macro) so the struct can grow without breaking callers. */
struct visor_vm_exec_opts {
	size_t sz;
	void *mem;            /* input memory: r1 = mem, r2 = mem_len */
	size_t mem_len;
	const void *packet;   /* data for LD_ABS/LD_IND; defaults to mem */
	size_t packet_len;
	uint64_t budget;      /* max instructions executed; 0 = unlimited */
	bool set_args;        /* use args[] for r1..r5 instead of mem/mem_len */
	uint64_t args[5];
	/* out */
	uint64_t insns_executed;
	char *errbuf;         /* optional per-run message buffer */
	size_t errbuf_len;
	/* in: which engine runs the program (enum visor_vm_engine) */
	int engine;
};
#define VISOR_OPTS(type, name, ...) \
	struct type name = {.sz = sizeof(struct type), __VA_ARGS__}

/* Runs the loaded program. Returns 0 with *r0 set, or a negative errno when
 * the program was stopped: -EFAULT (memory access outside every known
 * region), -ENOENT (unknown helper), -E2BIG (budget exhausted), -EOVERFLOW
 * (call depth), -EINVAL (no program / bad options). The message names the
 * instruction index and the reason. Safe to call from several threads on
 * the same VM when each passes its own errbuf. */
int visor_vm_exec(struct visor_vm *vm, struct visor_vm_exec_opts *opts, uint64_t *r0);

/* Engines for visor_vm_exec_opts.engine. */
enum visor_vm_engine {
	VISOR_ENGINE_INTERP = 0, /* the interpreter (default) */
	VISOR_ENGINE_JIT = 1,    /* the JIT: visor_vm_jit_compile first, else -EINVAL */
	VISOR_ENGINE_AUTO = 2,   /* the JIT if the program is compiled, else the interpreter */
};

/* ---- JIT (x86-64) ----
 * Compiles the loaded program to machine code, kept (read+execute, never
 * writable at the same time) until the program is unloaded or the VM
 * destroyed. Runs give the interpreter's results exactly, errors included;
 * without a budget, insns_executed is not counted (reads 0). Not to be
 * called while another thread runs the VM. Returns 0, or -EINVAL (no
 * program, unknown flag), -EPERM (VISOR_JIT_VERIFIED for an unverified
 * program), -EOPNOTSUPP (not x86-64), -ENOMEM, with the reason in errmsg. */
#define VISOR_JIT_HARDEN (1u << 0)   /* blind constants (the kernel's bpf_jit_harden) */
/* No inline memory checks: implied for a program visor_verify_vm accepted,
 * refused (-EPERM) for any other. */
#define VISOR_JIT_VERIFIED (1u << 1)
int visor_vm_jit_compile(struct visor_vm *vm, unsigned flags);
bool visor_vm_jit_supported(void);

/* The compiled code, e.g. to dump it. Zero-initialise with .sz set. */
struct visor_vm_jit_info {
	size_t sz;
	const void *code;    /* the whole image, both entry points */
	size_t code_len;
	size_t entry;        /* offset of the entry used without a budget */
	size_t entry_budget; /* ... and with one (counts instructions) */
	unsigned flags;      /* VISOR_JIT_* given to the compile */
	uint64_t compile_ns; /* the whole compile, mapping the code included */
	uint64_t codegen_ns; /* of which generating the machine code */
};
/* Returns 0, -ENOENT (not compiled) or -EINVAL. */
int visor_vm_jit_info(const struct visor_vm *vm, struct visor_vm_jit_info *info);

/* Shortcut: r1 = mem, r2 = len, no budget. */
int visor_vm_exec_mem(struct visor_vm *vm, void *mem, size_t len, uint64_t *r0);

/* For helpers: is [addr, addr+len) inside memory the program may access
 * (write access if writable)? */
bool visor_vm_run_mem_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t len,
			 bool writable);
/* For helpers: stop the program after this helper returns; the run ends
 * successfully with r0 = ret. */
void visor_vm_run_stop(struct visor_vm_run *run, uint64_t ret);
/* For helpers: stop the program with an error (negative errno) and a message. */
void visor_vm_run_fail(struct visor_vm_run *run, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The VM the run belongs to, and user data attached with visor_vm_set_user. */
struct visor_vm *visor_vm_run_vm(const struct visor_vm_run *run);
void visor_vm_set_user(struct visor_vm *vm, void *user);
void *visor_vm_user(const struct visor_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
