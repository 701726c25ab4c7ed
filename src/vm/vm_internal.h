/* Internals shared by the VM's loader (vm.c) and interpreter (interp.c). */
#ifndef VISOR_VM_INTERNAL_H
#define VISOR_VM_INTERNAL_H

#include <visor/runtime.h>
#include <visor/vm.h>

#include "vm_verifier.h"

#include <stddef.h>
#include <string.h>

/* Pre-decoded operations: one per distinct behaviour, so the interpreter's
 * handlers never re-inspect opcode bits. X-macro list: name. */
#define VISOR_VM_OPS(X)                                                                       \
	X(ADD64_K) X(ADD64_X) X(SUB64_K) X(SUB64_X) X(MUL64_K) X(MUL64_X)                       \
	X(DIV64_K) X(DIV64_X) X(SDIV64_K) X(SDIV64_X) X(MOD64_K) X(MOD64_X)                     \
	X(SMOD64_K) X(SMOD64_X) X(OR64_K) X(OR64_X) X(AND64_K) X(AND64_X)                       \
	X(LSH64_K) X(LSH64_X) X(RSH64_K) X(RSH64_X) X(ARSH64_K) X(ARSH64_X)                     \
	X(XOR64_K) X(XOR64_X) X(MOV64_K) X(MOV64_X) X(NEG64)                                    \
	X(MOVSX64_8) X(MOVSX64_16) X(MOVSX64_32)                                                \
	X(ADD32_K) X(ADD32_X) X(SUB32_K) X(SUB32_X) X(MUL32_K) X(MUL32_X)                       \
	X(DIV32_K) X(DIV32_X) X(SDIV32_K) X(SDIV32_X) X(MOD32_K) X(MOD32_X)                     \
	X(SMOD32_K) X(SMOD32_X) X(OR32_K) X(OR32_X) X(AND32_K) X(AND32_X)                       \
	X(LSH32_K) X(LSH32_X) X(RSH32_K) X(RSH32_X) X(ARSH32_K) X(ARSH32_X)                     \
	X(XOR32_K) X(XOR32_X) X(MOV32_K) X(MOV32_X) X(NEG32)                                    \
	X(MOVSX32_8) X(MOVSX32_16)                                                              \
	X(LE16) X(LE32) X(LE64) X(BE16) X(BE32) X(BE64)                                         \
	X(JA)                                                                                   \
	X(JEQ_K) X(JEQ_X) X(JGT_K) X(JGT_X) X(JGE_K) X(JGE_X) X(JSET_K) X(JSET_X)               \
	X(JNE_K) X(JNE_X) X(JSGT_K) X(JSGT_X) X(JSGE_K) X(JSGE_X) X(JLT_K) X(JLT_X)             \
	X(JLE_K) X(JLE_X) X(JSLT_K) X(JSLT_X) X(JSLE_K) X(JSLE_X)                               \
	X(JEQ32_K) X(JEQ32_X) X(JGT32_K) X(JGT32_X) X(JGE32_K) X(JGE32_X) X(JSET32_K)           \
	X(JSET32_X) X(JNE32_K) X(JNE32_X) X(JSGT32_K) X(JSGT32_X) X(JSGE32_K) X(JSGE32_X)       \
	X(JLT32_K) X(JLT32_X) X(JLE32_K) X(JLE32_X) X(JSLT32_K) X(JSLT32_X) X(JSLE32_K)         \
	X(JSLE32_X)                                                                             \
	X(CALL_HELPER) X(CALL_HELPER_CB) X(CALL_LOCAL) X(EXIT)                                                    \
	X(LDDW)                                                                                 \
	X(LDABS_B) X(LDABS_H) X(LDABS_W)                                            \
	X(LDIND_B) X(LDIND_H) X(LDIND_W)                                            \
	X(LDX_B) X(LDX_H) X(LDX_W) X(LDX_DW) X(LDXS_B) X(LDXS_H) X(LDXS_W)                      \
	X(ST_B) X(ST_H) X(ST_W) X(ST_DW) X(STX_B) X(STX_H) X(STX_W) X(STX_DW)                   \
	X(ATOMIC32) X(ATOMIC64)                                                                 \
	X(LDDW_HI) X(FALL_OFF)

enum visor_vm_op {
#define VISOR_VM_ENUM(name) VM_OP_##name,
	VISOR_VM_OPS(VISOR_VM_ENUM)
#undef VISOR_VM_ENUM
	VM_OP__COUNT
};

/* One pre-decoded slot. Jumps and local calls carry their absolute target in
 * `target`; memory operations their offset; imm is sign-extended (or the
 * whole 64-bit value for lddw). */
struct visor_vm_slot {
	uint8_t op;
	uint8_t dst;
	uint8_t src;
	uint8_t aux; /* atomic operation for ATOMIC32/64 */
	int32_t target;
	uint64_t imm;
};

struct visor_vm_region {
	uintptr_t base;
	uint64_t len;
	bool writable;
};

struct visor_vm_helper {
	visor_helper_fn fn;
	char name[32];
};

struct visor_vm {
	struct visor_insn *insns; /* the loaded program, as given */
	size_t count;
	struct visor_vm_slot *slots; /* count + 1: a FALL_OFF sentinel at the end */
	struct visor_vm_helper helpers[VISOR_MAX_HELPERS];
	struct visor_vm_region *regions;
	size_t nregions, cap_regions;
	void *user;
	char errmsg[VISOR_ERRMSG_LEN];
	struct visor_jit_image *jit; /* machine code, see jit.h; NULL if none */
	struct visor_vm_rt *rt; /* maps, program type, helper state (runtime.c); NULL if unused */
	/* Callback entry points: the targets of lddw src 4, sorted, once each. */
	uint32_t *cb_targets;
	size_t ncb_targets;
	struct visor_insn *given; /* the program as loaded, before the context rewrite */
	bool verified;            /* visor_verify_vm accepted it (cleared by unload) */
	uint32_t verified_ctx;    /* ... untyped: for this many bytes of memory at r1 */
	bool unsafe;              /* visor_vm_set_unsafe: runs without verification */
};

/* What lddw src 4 (VISOR_LDDW_FUNC) loads: the target instruction tagged
 * so that it is no address (non-canonical) and helpers tell it from
 * garbage. Only targets of a lddw src 4 in the program are accepted. */
#define VISOR_VM_FUNC_TAG 0xbfc0000000000000ull
#define VISOR_VM_FUNC_PC_MASK 0xffffffffull

/* Re-entry into the program from a helper (visor_vm_run_callback). The JIT
 * keeps its state in its context (run->jit_ctx); the interpreter saves it
 * here at each helper call of a program with callbacks (CALL_HELPER_CB). */
struct visor_vm_reentry {
	uint64_t fp;        /* interpreter: r10 of the frame calling the helper */
	uint64_t left;      /* interpreter: its budget count-down */
	uint64_t stack_top; /* interpreter: r10 of the main frame */
	uint64_t budget;    /* the run's budget (0: none), both engines */
	uint32_t depth;     /* interpreter: frames in use below the main one */
	uint32_t nesting;   /* callbacks running now */
	bool err_located;   /* run->err's message names the failing instruction */
};

#define VISOR_STACK_SIZE (VISOR_STACK_FRAME * VISOR_MAX_CALL_DEPTH)

/* The message runs of a program that is neither verified nor in unsafe
 * mode fail with (-EACCES). */
#define VISOR_VM_UNVERIFIED_MSG                                                            \
	"the program was not verified: call visor_verify_vm() first, or visor_vm_set_unsafe() " \
	"to run it unverified with run-time checks"
static inline bool visor_vm_may_run(const struct visor_vm *vm)
{
	return vm->verified || vm->unsafe;
}

#define VISOR_RUN_HANDED 8
#define VISOR_RUN_INNER 4
struct visor_map;

/* State of one execution; lives on the caller's stack. */
struct visor_vm_run {
	struct visor_vm *vm;
	struct visor_vm_region stack, mem; /* checked first: the common cases */
	const uint8_t *packet;
	uint64_t packet_len;
	int err;           /* set by a failing helper */
	bool stopped;      /* set by visor_vm_run_stop / _fail */
	uint64_t stop_ret;
	char *errbuf;
	size_t errbuf_len;
	/* Memory helpers handed out during this run (map values, ring buffer
	 * samples, the context): scattered heap chunks no fixed region covers.
	 * Checked after the registered regions; nhanded > VISOR_RUN_HANDED means
	 * the record overflowed and the bound maps are asked instead. Slot
	 * VISOR_RUN_HANDED then holds the newest map value handed out
	 * (visor_vm_run_hand_out_value), checked first: the load that follows
	 * a lookup needs no map search. */
	uint32_t nhanded;
	/* Packet helpers (helpers_packet.c): the context the run was started
	 * with (helpers trust no other), the JIT's struct visor_jit_ctx while
	 * machine code runs (a helper that moves the packet updates its
	 * bounds too), and the target bpf_redirect* recorded. */
	void *ctx;
	void *jit_ctx;
	struct visor_redirect redirect;
	/* Lock and map helpers (helpers_lock.c, helpers_maps.c): the
	 * bpf_spin_lock this run holds, and inner maps map-in-map lookups gave
	 * it (past VISOR_RUN_INNER the bound outer maps are searched). */
	void *held_lock;
	uint32_t ninner;
	struct visor_vm_reentry cb; /* callbacks (helpers_callback.c) */
	/* bpf_tail_call (helpers_tailcall.c): the engine the chain runs on,
	 * tail calls made so far, and the program to continue with once the
	 * current one stopped, with its r1 (tail_target NULL: the run is over). */
	int engine;
	uint32_t tail_calls;
	struct visor_vm *tail_target;
	uint64_t tail_r1;
	/* The records above, valid up to their counts only (see
	 * visor_vm_run_init): last, so that starting a run clears less. */
	struct visor_vm_region handed[VISOR_RUN_HANDED + 1];
	struct visor_map *inner[VISOR_RUN_INNER];
};

/* Starts a run of vm: every field zero but the records at the end, which
 * are read only up to nhanded / ninner; the newest-value slot, read once
 * the record overflows, is cleared. Field by field: a memset of the header
 * compiles to a rep stos whose start-up cost doubled the cost of a short
 * run. A field added to the struct must be added here. */
static inline void visor_vm_run_init(struct visor_vm_run *run, struct visor_vm *vm)
{
	const struct visor_vm_region none = {0, 0, false};
	run->vm = vm;
	run->stack = none;
	run->mem = none;
	run->packet = NULL;
	run->packet_len = 0;
	run->err = 0;
	run->stopped = false;
	run->stop_ret = 0;
	run->errbuf = NULL;
	run->errbuf_len = 0;
	run->nhanded = 0;
	run->ctx = NULL;
	run->jit_ctx = NULL;
	run->redirect = (struct visor_redirect){0};
	run->held_lock = NULL;
	run->ninner = 0;
	run->cb = (struct visor_vm_reentry){0};
	run->engine = 0;
	run->tail_calls = 0;
	run->tail_target = NULL;
	run->tail_r1 = 0;
	run->handed[VISOR_RUN_HANDED] = none;
}

/* helpers_tailcall.c: runs run->vm's program on engine (enum
 * visor_vm_engine), then every program it tail-calls, with the budget
 * that is left; executed counts the whole chain, and a spin lock the run
 * still holds at the end is released (failing the run). The caller holds
 * the map read lock. A failure in a target is reported in the first program's
 * errmsg (or errbuf), naming the tail call. */
int visor_vm_run_chain(struct visor_vm_run *run, int engine, const uint64_t args[5],
		       uint64_t budget, uint64_t *r0, uint64_t *executed);

/* runtime.c: the handed-out record, lddw of maps, load-time context rewrite. */
bool visor_vm_run_handed_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t size,
			    bool write);
int visor_vm_rt_lddw(struct visor_vm *vm, size_t pc, uint64_t *imm);
/* helpers_lock.c: a run that ends holding a bpf_spin_lock (run->held_lock)
 * releases it, and fails if it had not failed already (the kernel's
 * verifier refuses such programs). Returns the run's error. */
int visor_vm_run_release_lock(struct visor_vm_run *run, int err);
int visor_vm_rt_prepare(struct visor_vm *vm);
/* helper_protos.c: the type's helper allowlist; 0 or -EINVAL, message set. */
int visor_vm_rt_check_helper(struct visor_vm *vm, size_t pc, int32_t imm);
void visor_vm_rt_free(struct visor_vm *vm);

int visor_vm_interpret(struct visor_vm_run *run, const uint64_t args[5], uint64_t budget,
		       uint64_t *r0, uint64_t *executed);
/* Runs the subprogram at pc of the running program from inside a helper,
 * with r1..r5 = args, in a new frame below the caller's, on the run's
 * budget; *r0 is its result. Returns 0, or a negative errno when the run
 * must end: the callback failed (the run failed, the message names the
 * callback's instruction), went past the call depth, or stopped the run
 * (visor_vm_run_stop, LD_ABS out of bounds). The helper then returns at
 * once. pc must be a callback target (visor_vm_callback_pc). */
int visor_vm_run_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
			  uint64_t *r0);
/* The interpreter's part of it (interp.c). */
int visor_vm_interpret_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
				uint64_t *r0);
/* Is value what lddw src 4 loads for a callback of vm's program? *pc: its
 * first instruction. */
bool visor_vm_callback_pc(const struct visor_vm *vm, uint64_t value, uint32_t *pc);
/* The index of callback target pc in vm->cb_targets (sorted), or -1. */
long visor_vm_callback_index(const struct visor_vm *vm, uint32_t pc);
/* A helper called at pc failed the run (run->err): its message gets the
 * instruction and the helper's name in front, unless a callback's failure
 * already names its own instruction. Returns run->err. */
int visor_vm_run_helper_failed(struct visor_vm_run *run, size_t pc);
void visor_vm_run_error(struct visor_vm_run *run, size_t pc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
