/* The JIT's architecture-neutral part: code memory (written while
 * read+write, then switched to read+execute: never both), the run context
 * the generated code works in, and the translation of its exit status into
 * the interpreter's errors. The instruction selection is in
 * jit_<arch>.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "jit.h"

#if !defined(__x86_64__)
int visor_jit_arch_compile(const struct visor_vm *vm, unsigned flags, uint64_t seed,
			   struct visor_jit_code *out, char *err, size_t err_len)
{
	snprintf(err, err_len, "the JIT supports x86-64 only");
	return -EOPNOTSUPP;
}
#endif

static int jit_fail(struct visor_vm *vm, int err, const char *msg)
{
	snprintf(vm->errmsg, sizeof(vm->errmsg), "jit: %s", msg);
	return err;
}

void visor_vm_jit_free(struct visor_vm *vm)
{
	if (!vm->jit)
		return;
	munmap(vm->jit->mem, vm->jit->map_len);
	free(vm->jit->layout.cb_entry);
	free(vm->jit);
	vm->jit = NULL;
}

bool visor_vm_jit_supported(void)
{
#if defined(__x86_64__)
	return true;
#else
	return false;
#endif
}

int visor_vm_jit_compile(struct visor_vm *vm, unsigned flags)
{
	if (!vm)
		return -EINVAL;
	vm->errmsg[0] = 0;
	if (flags & ~(VISOR_JIT_HARDEN | VISOR_JIT_VERIFIED | VISOR_JIT_NO_BMI2 | VISOR_JIT_TINY_BUF))
		return jit_fail(vm, -EINVAL, "unknown flags");
	/* Memory checks are left out only for what the verifier accepted. */
	if ((flags & VISOR_JIT_VERIFIED) && !vm->verified)
		return jit_fail(vm, -EPERM,
				"VISOR_JIT_VERIFIED: the program was not verified (visor_verify_vm)");
	if (vm->verified)
		flags |= VISOR_JIT_VERIFIED;
	if (!vm->slots)
		return jit_fail(vm, -EINVAL, "no program loaded");

	/* Blinding keys: unpredictable per compile (getrandom never blocks
	 * for 8 bytes once the pool is up; the clock is a fallback only). */
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = visor_vm_now_ns() ^ (uint64_t)(uintptr_t)vm;

	uint64_t t0 = visor_vm_now_ns();
	struct visor_jit_code code;
	char why[160];
	int err = visor_jit_arch_compile(vm, flags, seed, &code, why, sizeof(why));
	if (err)
		return jit_fail(vm, err, why);
	if (code.entry < JIT_ENTRY_PREFIX || code.entry_budget < JIT_ENTRY_PREFIX) {
		free(code.code);
		free(code.cb_entry);
		return jit_fail(vm, -EINVAL, "internal error: no padding before an entry point");
	}
	uint64_t t1 = visor_vm_now_ns();

	/* Written while read+write, then read+execute: never both. The
	 * mapping is populated in one go (on some hypervisors a page fault
	 * costs more than generating the code). */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t map_len = (code.len + page - 1) & ~(page - 1);
	void *mem = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		free(code.code);
		free(code.cb_entry);
		return jit_fail(vm, -ENOMEM, "cannot map memory for the code");
	}
	memcpy(mem, code.code, code.len);
	free(code.code);
	/* The rest of the mapping traps if ever reached. */
	memset((uint8_t *)mem + code.len, 0xcc, map_len - code.len);
	if (mprotect(mem, map_len, PROT_READ | PROT_EXEC)) {
		munmap(mem, map_len);
		free(code.cb_entry);
		return jit_fail(vm, -errno, "cannot make the code executable (mprotect)");
	}
	struct visor_jit_image *img = calloc(1, sizeof(*img));
	if (!img) {
		munmap(mem, map_len);
		free(code.cb_entry);
		return jit_fail(vm, -ENOMEM, "out of memory");
	}
	img->mem = mem;
	img->map_len = map_len;
	img->layout = code;
	img->layout.code = mem;
	img->flags = flags;
	img->compile_ns = visor_vm_now_ns() - t0;
	img->codegen_ns = t1 - t0;
	visor_vm_jit_free(vm);
	vm->jit = img;
	return 0;
}

int visor_vm_jit_info(const struct visor_vm *vm, struct visor_vm_jit_info *info)
{
	if (!vm || !info || info->sz < sizeof(size_t))
		return -EINVAL;
	struct visor_vm_jit_info o = {.sz = info->sz};
	if (!vm->jit)
		return -ENOENT;
	o.code = vm->jit->layout.code;
	o.code_len = vm->jit->layout.len;
	o.entry = vm->jit->layout.entry;
	o.entry_budget = vm->jit->layout.entry_budget;
	o.flags = vm->jit->flags & (VISOR_JIT_HARDEN | VISOR_JIT_VERIFIED);
	o.compile_ns = vm->jit->compile_ns;
	o.codegen_ns = vm->jit->codegen_ns;
	memcpy(info, &o, info->sz < sizeof(o) ? info->sz : sizeof(o));
	return 0;
}

/* ---- running ------------------------------------------------------------- */

static inline bool region_has(const struct visor_vm_region *r, uint64_t addr, uint64_t size)
{
	return r->len >= size && addr - r->base <= r->len - size;
}

/* Called from the code when an access is in neither the stack nor the
 * input memory: the registered regions, as the interpreter's slow path. */
static int slow_access(struct visor_jit_ctx *ctx, uint64_t addr, uint32_t info)
{
	const struct visor_vm *vm = ctx->run->vm;
	uint64_t size = 1u << ((info >> 1) & 3);
	bool write = info & 1;

	for (size_t i = 0; i < vm->nregions; i++)
		if (region_has(&vm->regions[i], addr, size) && (vm->regions[i].writable || !write))
			return 1;
	if (ctx->run->nhanded && visor_vm_run_handed_ok(ctx->run, addr, size, write))
		return 1; /* map values helpers handed out */
	ctx->status = JIT_ST_FAULT;
	ctx->pc = info >> 3;
	ctx->addr = addr;
	ctx->info = info;
	return 0;
}

/* The instruction the interpreter names when its budget runs out k
 * instructions into the segment starting at start: the one it could not
 * dispatch. */
static size_t budget_pc(const struct visor_vm *vm, size_t start, uint64_t k)
{
	size_t pc = start;
	for (uint64_t i = 0; i < k && pc < vm->count; i++)
		pc += vm->slots[pc].op == VM_OP_LDDW ? 2 : 1;
	return pc;
}

typedef uint64_t (*jit_entry_fn)(struct visor_jit_ctx *ctx);

void visor_jit_ctx_set_mem(struct visor_jit_ctx *ctx, const struct visor_vm_region *mem)
{
	ctx->mem_lo = mem->len ? mem->base : UINT64_MAX;
	for (int k = 0; k < 4; k++) {
		uint64_t size = 1u << k;
		ctx->mem_hi[k] = mem->len >= size ? mem->base + mem->len - size : ctx->mem_lo - 1;
	}
}

/* Turns the exit status of the code into the interpreter's error (message
 * and errno), or 0 with *r0 replaced when a helper stopped the run. */
static int jit_status(struct visor_vm_run *run, const struct visor_jit_ctx *ctx,
		      uint64_t budget, uint64_t *r0)
{
	const struct visor_vm *vm = run->vm;
	size_t pc = ctx->pc;
	int err = 0;
	switch (ctx->status) {
	case JIT_ST_OK:
		break;
	case JIT_ST_FAULT:
		visor_vm_run_error(run, pc, "%s of %llu bytes at 0x%llx is outside the stack, the input memory and every registered region",
				   (ctx->info & 1) ? "store" : "load",
				   (unsigned long long)(1u << ((ctx->info >> 1) & 3)),
				   (unsigned long long)ctx->addr);
		err = -EFAULT;
		break;
	case JIT_ST_MISALIGNED:
		visor_vm_run_error(run, pc, "misaligned %u-byte atomic access at 0x%llx",
				   vm->slots[pc].op == VM_OP_ATOMIC64 ? 8 : 4,
				   (unsigned long long)ctx->addr);
		err = -EFAULT;
		break;
	case JIT_ST_NO_HELPER:
		visor_vm_run_error(run, pc, "call to unknown helper %d", (int32_t)vm->slots[pc].imm);
		err = -ENOENT;
		break;
	case JIT_ST_HELPER_STOP:
		if (run->err) {
			err = visor_vm_run_helper_failed(run, pc);
		} else {
			*r0 = run->stop_ret;
		}
		break;
	case JIT_ST_DEPTH:
		visor_vm_run_error(run, pc, "call depth exceeds %d frames", VISOR_MAX_CALL_DEPTH);
		err = -EOVERFLOW;
		break;
	case JIT_ST_BUDGET:
		pc = budget_pc(vm, pc, ctx->left);
		visor_vm_run_error(run, pc, "instruction budget of %llu exhausted",
				   (unsigned long long)budget);
		err = -E2BIG;
		break;
	case JIT_ST_FALL_OFF:
	default:
		visor_vm_run_error(run, pc, "execution fell off the end of the program");
		err = -EINVAL;
		break;
	}
	return err;
}

int visor_vm_jit_run(struct visor_vm_run *run, const uint64_t args[5], uint64_t budget,
		     uint64_t *r0_out, uint64_t *executed)
{
	const struct visor_vm *vm = run->vm;
	const struct visor_jit_image *img = vm->jit;
	struct visor_jit_ctx ctx;
	uint8_t stack[VISOR_STACK_SIZE] __attribute__((aligned(16)));
	int err = 0;

	/* As the interpreter: the main frame is addressable and zeroed (an
	 * unverified program may read it before writing: the code's prologue
	 * clears it); calls add frames. Every field is set one by one: a
	 * memset of the whole context costs a slow rep stos. */
	ctx.stack_top = (uintptr_t)stack + sizeof(stack);
	ctx.stack_base = ctx.stack_top - VISOR_STACK_FRAME;
	ctx.stack_limit = (uintptr_t)stack + VISOR_STACK_FRAME;
	ctx.tail_calls = 0;
	ctx.status = 0;
	ctx.pc = 0;
	ctx.addr = 0;
	ctx.info = 0;
	run->stack = (struct visor_vm_region){.base = ctx.stack_base, .len = VISOR_STACK_FRAME,
					      .writable = true};
	for (int k = 0; k < 4; k++)
		ctx.stack_end[k] = ctx.stack_top - (1u << k);
	visor_jit_ctx_set_mem(&ctx, &run->mem);
	void *outer_ctx = run->jit_ctx; /* a helper may re-enter the JIT */
	run->jit_ctx = &ctx;
	ctx.helpers = vm->helpers;
	ctx.run = run;
	ctx.packet = run->packet;
	ctx.packet_len = run->packet_len;
	ctx.slow_access = slow_access;
	memcpy(ctx.args, args, sizeof(ctx.args));
	ctx.left = budget;
	ctx.cb_returned = 0;
	run->cb.budget = budget; /* which variant a callback enters */

	jit_entry_fn fn = (jit_entry_fn)(void *)((uint8_t *)img->mem +
						  (budget ? img->layout.entry_budget : img->layout.entry));
	uint64_t r0 = fn(&ctx);
	run->jit_ctx = outer_ctx;

	err = jit_status(run, &ctx, budget, &r0);
	/* A run ends on the last instruction of a segment, so every charged
	 * dispatch happened. Without a budget nothing is counted. */
	if (!budget)
		*executed = 0;
	else if (err == -E2BIG)
		*executed = budget;
	else
		*executed = budget - ctx.left;
	if (!err)
		*r0_out = r0;
	run->stack.len = 0;
	return err;
}

typedef uint64_t (*jit_callback_fn)(struct visor_jit_ctx *ctx, uint64_t code,
				    const uint64_t *args);

/* A callback in machine code: the variant the run uses, entered through its
 * stub in a new frame below the frame that called the helper. An error
 * inside unwinds to the stub (ctx->saved_rsp is the stub's meanwhile), not
 * through the helper's C frames. */
int visor_vm_jit_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
			  uint64_t *r0)
{
	struct visor_jit_ctx *ctx = run->jit_ctx;
	const struct visor_vm *vm = run->vm;
	const struct visor_jit_code *code = &vm->jit->layout;
	const uint64_t caller_base = ctx->stack_base, saved_rsp = ctx->saved_rsp;

	/* The caller's r10 at the stack array's first frame: no frame left. */
	if (caller_base + VISOR_STACK_FRAME <= ctx->stack_limit)
		return -EOVERFLOW;
	long lo = visor_vm_callback_index(vm, pc);
	if (lo < 0)
		return -EINVAL; /* visor_vm_run_callback validated it */
	const size_t variant = run->cb.budget ? 1 : 0;
	uint64_t entry = (uintptr_t)code->code + code->cb_entry[variant * vm->ncb_targets + (size_t)lo];
	jit_callback_fn fn = (jit_callback_fn)(void *)(code->code + code->cb_stub[variant]);

	ctx->cb_returned = 0;
	uint64_t ret = fn(ctx, entry, args);
	const bool returned = ctx->cb_returned;
	ctx->cb_returned = 0;
	ctx->saved_rsp = saved_rsp;
	ctx->stack_base = caller_base;
	run->stack.base = caller_base;
	run->stack.len = ctx->stack_top - caller_base;
	if (returned) {
		*r0 = ret;
		return 0;
	}
	/* Left through the error exit: LD_ABS out of bounds (status OK) or a
	 * helper's stop end the run successfully; the rest are errors. */
	if (ctx->status == JIT_ST_OK) {
		visor_vm_run_stop(run, 0);
		return -ECANCELED;
	}
	int err = jit_status(run, ctx, run->cb.budget, r0);
	return err ? err : -ECANCELED;
}
