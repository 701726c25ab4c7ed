/* The JIT compiler: the architecture-neutral front (jit.c: code memory,
 * running, error reporting) and the interface a backend implements
 * (jit_x86_64.c). Internal to src/vm. */
#ifndef VISOR_JIT_H
#define VISOR_JIT_H

#include "vm_internal.h"

/* Why the machine code returned (ctx.status). The front turns these into
 * the interpreter's messages and errno values. */
enum visor_jit_status {
	JIT_ST_OK = 0,      /* exit from the main frame, LD_ABS out of bounds */
	JIT_ST_FAULT,       /* memory access outside every region (addr, info) */
	JIT_ST_MISALIGNED,  /* atomic at a misaligned address (pc, addr) */
	JIT_ST_NO_HELPER,   /* call to an unregistered helper (pc) */
	JIT_ST_HELPER_STOP, /* a helper stopped the run (pc) */
	JIT_ST_DEPTH,       /* local call beyond VISOR_MAX_CALL_DEPTH (pc) */
	JIT_ST_BUDGET,      /* budget exhausted `left` instructions into the
			     * counting segment that starts at pc */
	JIT_ST_FALL_OFF,    /* ran past the last instruction (pc = count) */
};

/* Memory access descriptor the code passes to the slow path: the
 * instruction, log2 of the size and whether it writes. */
#define JIT_ACCESS_INFO(pc, log2size, write) ((uint32_t)(pc) << 3 | (log2size) << 1 | (write))

/* Everything the generated code reads or writes besides BPF registers and
 * the BPF stack: one per run, on the C stack. The code keeps its address in
 * a callee-saved register; the hot fields come first so that they are in
 * reach of an 8-bit displacement. */
struct visor_jit_ctx {
	/* An access of 1 << k bytes at a is in the input memory iff
	 * mem_lo <= a <= mem_hi[k], and in the stack iff
	 * stack_base <= a <= stack_end[k]. A size that does not fit has
	 * mem_hi[k] < mem_lo. */
	uint64_t mem_lo;
	uint64_t mem_hi[4];
	uint64_t stack_base; /* the current frame's bottom: r10 - 512 */
	uint64_t stack_end[4];
	uint64_t stack_limit; /* a local call from r10 <= this overflows */
	uint64_t left;        /* budget: dispatches still allowed */
	const struct visor_vm_helper *helpers;
	struct visor_vm_run *run;
	const uint8_t *packet;
	uint64_t packet_len;
	/* Registered regions (and the fault report): returns 1 if the access
	 * described by info may proceed, else records the fault and returns 0. */
	int (*slow_access)(struct visor_jit_ctx *ctx, uint64_t addr, uint32_t info);
	uint64_t saved_rsp; /* native stack pointer of the main frame */
	uint64_t args[5];   /* r1..r5 at entry */
	uint64_t stack_top; /* r10 at entry */
	uint64_t tail_calls; /* reserved for tail calls (prog arrays) */
	uint64_t cb_returned; /* set by the callback stub when the callback exits */
	/* out */
	uint32_t status, pc;
	uint64_t addr;
	uint32_t info;
};

/* What a backend produces: machine code in a malloc'd buffer and the
 * offsets of its entry points. Each entry is a function
 * uint64_t entry(struct visor_jit_ctx *ctx) returning r0, called through
 * a C function pointer, so it must look like one to instrumentation that
 * inspects the callee: at least JIT_ENTRY_PREFIX bytes of padding (not
 * code, not data) in front of it, inside the image (clang's
 * -fsanitize=function reads entry - 8). */
#define JIT_ENTRY_PREFIX 8
struct visor_jit_code {
	uint8_t *code;
	size_t len;
	size_t entry;        /* budget not counted */
	size_t entry_budget; /* counts instructions against ctx->left */
	size_t tail_entry[2]; /* where a tail call into each variant lands */
	/* Callbacks (visor_vm_jit_callback), per variant (0: no budget): the
	 * stub uint64_t stub(ctx, code address, const uint64_t args[5]) that
	 * runs a subprogram in a new frame, and the code offset of each
	 * vm->cb_targets[i] at cb_entry[variant * ncb_targets + i] (malloc'd,
	 * NULL without callbacks). */
	size_t cb_stub[2];
	uint32_t *cb_entry;
};

/* A compiled program, owned by the VM. */
struct visor_jit_image {
	void *mem; /* PROT_READ|PROT_EXEC mapping */
	size_t map_len;
	struct visor_jit_code layout; /* .code points into mem */
	unsigned flags;
	uint64_t compile_ns; /* all of visor_vm_jit_compile */
	uint64_t codegen_ns; /* of which generating the code */
};

/* Internal flags, beyond the public VISOR_JIT_* ones. */
#define VISOR_JIT_NO_BMI2 (1u << 30) /* tests: use the portable shift sequence */
#define VISOR_JIT_TINY_BUF (1u << 29) /* tests: start with a tiny buffer (growth path) */

/* Backend: compiles vm's loaded program. Returns 0, or a negative errno with
 * the reason in err. seed drives constant blinding (VISOR_JIT_HARDEN). */
int visor_jit_arch_compile(const struct visor_vm *vm, unsigned flags, uint64_t seed,
			   struct visor_jit_code *out, char *err, size_t err_len);

/* Sets the input memory bounds the code checks (at run start, and when a
 * helper moves the packet: run->jit_ctx). */
void visor_jit_ctx_set_mem(struct visor_jit_ctx *ctx, const struct visor_vm_region *mem);

/* Runs the compiled program like visor_vm_interpret runs the slots. */
int visor_vm_jit_run(struct visor_vm_run *run, const uint64_t args[5], uint64_t budget,
		     uint64_t *r0, uint64_t *executed);
void visor_vm_jit_free(struct visor_vm *vm);
/* The JIT's part of visor_vm_run_callback (run->jit_ctx is set). */
int visor_vm_jit_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
			  uint64_t *r0);

#endif
