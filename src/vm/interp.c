/* The interpreter: direct-threaded dispatch (computed goto) over the slots
 * pre-decoded by vm.c. Every memory access is checked against the regions
 * the run knows (stack, input memory, registered regions): an unverified
 * program can stop with an error but never touch memory it was not given. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vm_internal.h"

struct frame {
	const struct visor_vm_slot *ret; /* slot to resume in the caller */
	uint64_t saved[4];                /* caller's r6..r9 */
	uint64_t fp;                      /* caller's r10 */
};

static inline bool region_has(const struct visor_vm_region *r, uint64_t addr, uint64_t size)
{
	return r->len >= size && addr - r->base <= r->len - size;
}

/* Slow path: the registered regions, then what helpers handed out during
 * the run (map values); writes need a writable one. */
static bool other_regions_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t size,
			     bool write)
{
	const struct visor_vm *vm = run->vm;
	for (size_t i = 0; i < vm->nregions; i++)
		if (region_has(&vm->regions[i], addr, size) && (vm->regions[i].writable || !write))
			return true;
	return run->nhanded && visor_vm_run_handed_ok(run, addr, size, write);
}

static inline bool access_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t size,
			     bool write)
{
	if (region_has(&run->stack, addr, size) || region_has(&run->mem, addr, size))
		return true;
	return (run->vm->nregions || run->nhanded) && other_regions_ok(run, addr, size, write);
}

static inline uint64_t bswap16(uint64_t v) { return __builtin_bswap16((uint16_t)v); }
static inline uint64_t bswap32(uint64_t v) { return __builtin_bswap32((uint32_t)v); }
static inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

/* Legacy packet load: big-endian, out of bounds ends the program with 0. */
static inline bool packet_load(const struct visor_vm_run *run, int64_t off, unsigned size,
			       uint64_t *out)
{
	if (off < 0 || (uint64_t)off > run->packet_len || run->packet_len - (uint64_t)off < size)
		return false;
	const uint8_t *p = run->packet + off;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v = (v << 8) | p[i];
	*out = v;
	return true;
}

static uint64_t atomic_apply(void *p, bool is64, uint8_t op, uint64_t src, uint64_t *r0)
{
	/* Returns the old value (what fetch variants put in src). */
	if (is64) {
		uint64_t *m = p;
		switch (op & ~VISOR_ATOMIC_FETCH) {
		case VISOR_ATOMIC_ADD: return __atomic_fetch_add(m, src, __ATOMIC_SEQ_CST);
		case VISOR_ATOMIC_OR: return __atomic_fetch_or(m, src, __ATOMIC_SEQ_CST);
		case VISOR_ATOMIC_AND: return __atomic_fetch_and(m, src, __ATOMIC_SEQ_CST);
		case VISOR_ATOMIC_XOR: return __atomic_fetch_xor(m, src, __ATOMIC_SEQ_CST);
		case VISOR_ATOMIC_XCHG & ~VISOR_ATOMIC_FETCH:
			return __atomic_exchange_n(m, src, __ATOMIC_SEQ_CST);
		default: { /* cmpxchg */
			uint64_t expected = *r0;
			__atomic_compare_exchange_n(m, &expected, src, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			*r0 = expected;
			return expected;
		}
		}
	}
	uint32_t *m = p, s = (uint32_t)src;
	switch (op & ~VISOR_ATOMIC_FETCH) {
	case VISOR_ATOMIC_ADD: return __atomic_fetch_add(m, s, __ATOMIC_SEQ_CST);
	case VISOR_ATOMIC_OR: return __atomic_fetch_or(m, s, __ATOMIC_SEQ_CST);
	case VISOR_ATOMIC_AND: return __atomic_fetch_and(m, s, __ATOMIC_SEQ_CST);
	case VISOR_ATOMIC_XOR: return __atomic_fetch_xor(m, s, __ATOMIC_SEQ_CST);
	case VISOR_ATOMIC_XCHG & ~VISOR_ATOMIC_FETCH:
		return __atomic_exchange_n(m, s, __ATOMIC_SEQ_CST);
	default: {
		uint32_t expected = (uint32_t)*r0;
		__atomic_compare_exchange_n(m, &expected, s, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		*r0 = expected; /* zero-extended, as the kernel */
		return expected;
	}
	}
}

/* The dispatch loop: runs from entry with r1..r5 = args and r10 = fp until
 * the frame at depth `base` exits (0: the main program; a callback runs at
 * the depth of its frame). The stack below stack_top is the run's; *left_io
 * is the budget count-down, shared by a callback with the loop that called
 * its helper. Not inlined: two callers, and the loop is large. */
static int __attribute__((noinline))
interp_loop(struct visor_vm_run *run, const struct visor_vm_slot *entry, const uint64_t args[5],
	    uint64_t fp, const unsigned base, const uintptr_t stack_top, const uint64_t budget,
	    uint64_t *left_io, uint64_t *r0_out)
{
	static const void *const dispatch[VM_OP__COUNT] = {
#define VISOR_VM_LABEL(name) [VM_OP_##name] = &&op_##name,
		VISOR_VM_OPS(VISOR_VM_LABEL)
#undef VISOR_VM_LABEL
	};
	const struct visor_vm_slot *const prog = run->vm->slots;
	const struct visor_vm_slot *in;
	uint64_t reg[11];
	struct frame frames[VISOR_MAX_CALL_DEPTH];
	unsigned depth = base;
	uint64_t left = *left_io;
	int err = 0;

	memset(reg, 0, sizeof(reg));
	memcpy(&reg[1], args, 5 * sizeof(uint64_t));
	reg[10] = fp;

#define PC ((size_t)(in - prog))
#define DST reg[in->dst]
#define SRC reg[in->src]
#define IMM in->imm
#define NEXT()                                                                 \
	do {                                                                   \
		in++;                                                          \
		if (__builtin_expect(left-- == 0, 0))                          \
			goto out_budget;                                       \
		goto *dispatch[in->op];                                        \
	} while (0)
#define JUMP(cond)                                                             \
	do {                                                                   \
		if (cond) {                                                    \
			in = prog + in->target;                                \
			if (__builtin_expect(left-- == 0, 0))                  \
				goto out_budget;                               \
			goto *dispatch[in->op];                                \
		}                                                              \
		NEXT();                                                        \
	} while (0)
#define ALU64(name, expr_k, expr_x)                                            \
	op_##name##_K : DST = (expr_k); NEXT();                                  \
	op_##name##_X : DST = (expr_x); NEXT();
#define ALU32(name, expr_k, expr_x)                                            \
	op_##name##_K : DST = (uint32_t)(expr_k); NEXT();                        \
	op_##name##_X : DST = (uint32_t)(expr_x); NEXT();
#define COND(name, op, type)                                                   \
	op_##name##_K : JUMP((type)DST op (type)IMM);                            \
	op_##name##_X : JUMP((type)DST op (type)SRC);
#define ACCESS(addr, size, write)                                              \
	do {                                                                   \
		if (__builtin_expect(!access_ok(run, (addr), (size), (write)), 0)) { \
			fault_addr = (addr);                                   \
			fault_size = (size);                                   \
			fault_write = (write);                                 \
			goto out_fault;                                        \
		}                                                              \
	} while (0)
#define LOAD(type, ext)                                                        \
	{                                                                      \
		uint64_t a = SRC + (int64_t)in->target;                        \
		type v;                                                        \
		ACCESS(a, sizeof(type), false);                                \
		memcpy(&v, (const void *)(uintptr_t)a, sizeof(type));         \
		DST = (ext)v;                                                  \
		NEXT();                                                        \
	}
#define STORE(type, value)                                                     \
	{                                                                      \
		uint64_t a = DST + (int64_t)in->target;                        \
		type v = (type)(value);                                        \
		ACCESS(a, sizeof(type), true);                                 \
		memcpy((void *)(uintptr_t)a, &v, sizeof(type));                \
		NEXT();                                                        \
	}
#define PKT(size, offset)                                                      \
	{                                                                      \
		uint64_t v;                                                    \
		if (!packet_load(run, (offset), (size), &v))                   \
			goto out_packet_end;                                   \
		reg[0] = v;                                                    \
		NEXT();                                                        \
	}

	uint64_t fault_addr = 0, fault_size = 0;
	bool fault_write = false;

	in = entry;
	if (left-- == 0)
		goto out_budget;
	goto *dispatch[in->op];

	ALU64(ADD64, DST + IMM, DST + SRC)
	ALU64(SUB64, DST - IMM, DST - SRC)
	ALU64(MUL64, DST * IMM, DST * SRC)
	ALU64(DIV64, IMM ? DST / IMM : 0, SRC ? DST / SRC : 0)
	ALU64(OR64, DST | IMM, DST | SRC)
	ALU64(AND64, DST & IMM, DST & SRC)
	ALU64(LSH64, DST << (IMM & 63), DST << (SRC & 63))
	ALU64(RSH64, DST >> (IMM & 63), DST >> (SRC & 63))
	ALU64(ARSH64, (uint64_t)((int64_t)DST >> (IMM & 63)), (uint64_t)((int64_t)DST >> (SRC & 63)))
	ALU64(XOR64, DST ^ IMM, DST ^ SRC)
	ALU64(MOV64, IMM, SRC)
	ALU64(MOD64, IMM ? DST % IMM : DST, SRC ? DST % SRC : DST)

	/* Signed division: by zero gives 0, INT64_MIN / -1 gives INT64_MIN
	 * (the overflow C leaves undefined); modulo by zero leaves dst, and
	 * by -1 gives 0. The remainder takes the dividend's sign. */
#define SDIV64(a, b) ((b) == 0 ? 0 : (int64_t)(b) == -1 ? -(a) : (uint64_t)((int64_t)(a) / (int64_t)(b)))
#define SMOD64(a, b) ((b) == 0 ? (a) : (int64_t)(b) == -1 ? 0 : (uint64_t)((int64_t)(a) % (int64_t)(b)))
	ALU64(SDIV64, SDIV64(DST, IMM), SDIV64(DST, SRC))
	ALU64(SMOD64, SMOD64(DST, IMM), SMOD64(DST, SRC))
op_NEG64:
	DST = -DST;
	NEXT();
op_MOVSX64_8:
	DST = (uint64_t)(int64_t)(int8_t)SRC;
	NEXT();
op_MOVSX64_16:
	DST = (uint64_t)(int64_t)(int16_t)SRC;
	NEXT();
op_MOVSX64_32:
	DST = (uint64_t)(int64_t)(int32_t)SRC;
	NEXT();

#define D32 ((uint32_t)DST)
#define S32 ((uint32_t)SRC)
#define I32 ((uint32_t)IMM)
	ALU32(ADD32, D32 + I32, D32 + S32)
	ALU32(SUB32, D32 - I32, D32 - S32)
	ALU32(MUL32, D32 * I32, D32 * S32)
	ALU32(DIV32, I32 ? D32 / I32 : 0, S32 ? D32 / S32 : 0)
	ALU32(OR32, D32 | I32, D32 | S32)
	ALU32(AND32, D32 & I32, D32 & S32)
	ALU32(LSH32, D32 << (I32 & 31), D32 << (S32 & 31))
	ALU32(RSH32, D32 >> (I32 & 31), D32 >> (S32 & 31))
	ALU32(ARSH32, (uint32_t)((int32_t)D32 >> (I32 & 31)), (uint32_t)((int32_t)D32 >> (S32 & 31)))
	ALU32(XOR32, D32 ^ I32, D32 ^ S32)
	ALU32(MOV32, I32, S32)
	ALU32(MOD32, I32 ? D32 % I32 : D32, S32 ? D32 % S32 : D32)
#define SDIV32(a, b) ((b) == 0 ? 0 : (int32_t)(b) == -1 ? -(a) : (uint32_t)((int32_t)(a) / (int32_t)(b)))
#define SMOD32(a, b) ((b) == 0 ? (a) : (int32_t)(b) == -1 ? 0 : (uint32_t)((int32_t)(a) % (int32_t)(b)))
	ALU32(SDIV32, SDIV32(D32, I32), SDIV32(D32, S32))
	ALU32(SMOD32, SMOD32(D32, I32), SMOD32(D32, S32))
op_NEG32:
	DST = (uint32_t)-D32;
	NEXT();
op_MOVSX32_8:
	DST = (uint32_t)(int32_t)(int8_t)SRC;
	NEXT();
op_MOVSX32_16:
	DST = (uint32_t)(int32_t)(int16_t)SRC;
	NEXT();

	/* Byte order: the host is little-endian (x86-64), so "to LE" only
	 * truncates and "to BE" (and bswap) swaps. */
op_LE16:
	DST = (uint16_t)DST;
	NEXT();
op_LE32:
	DST = (uint32_t)DST;
	NEXT();
op_LE64:
	NEXT();
op_BE16:
	DST = bswap16(DST);
	NEXT();
op_BE32:
	DST = bswap32(DST);
	NEXT();
op_BE64:
	DST = bswap64(DST);
	NEXT();

op_JA:
	JUMP(1);
	COND(JEQ, ==, uint64_t)
	COND(JGT, >, uint64_t)
	COND(JGE, >=, uint64_t)
	COND(JNE, !=, uint64_t)
	COND(JSGT, >, int64_t)
	COND(JSGE, >=, int64_t)
	COND(JLT, <, uint64_t)
	COND(JLE, <=, uint64_t)
	COND(JSLT, <, int64_t)
	COND(JSLE, <=, int64_t)
op_JSET_K:
	JUMP(DST & IMM);
op_JSET_X:
	JUMP(DST & SRC);
	COND(JEQ32, ==, uint32_t)
	COND(JGT32, >, uint32_t)
	COND(JGE32, >=, uint32_t)
	COND(JNE32, !=, uint32_t)
	COND(JSGT32, >, int32_t)
	COND(JSGE32, >=, int32_t)
	COND(JLT32, <, uint32_t)
	COND(JLE32, <=, uint32_t)
	COND(JSLT32, <, int32_t)
	COND(JSLE32, <=, int32_t)
op_JSET32_K:
	JUMP((uint32_t)DST & (uint32_t)IMM);
op_JSET32_X:
	JUMP((uint32_t)DST & (uint32_t)SRC);

#define HELPER_CALL(save, restore)                                             \
	{                                                                      \
		uint64_t id = (uint32_t)IMM;                                   \
		const struct visor_vm_helper *h =                              \
			id < VISOR_MAX_HELPERS ? &run->vm->helpers[id] : NULL; \
		if (!h || !h->fn) {                                            \
			visor_vm_run_error(run, PC, "call to unknown helper %d", (int32_t)IMM); \
			err = -ENOENT;                                         \
			goto out;                                              \
		}                                                              \
		save;                                                          \
		reg[0] = h->fn(reg[1], reg[2], reg[3], reg[4], reg[5], run);   \
		restore;                                                       \
		if (__builtin_expect(run->stopped, 0))                         \
			goto helper_stopped;                                   \
		NEXT();                                                        \
	}
op_CALL_HELPER:
	HELPER_CALL((void)0, (void)0)
op_CALL_HELPER_CB:
	/* A program with callbacks: leave what visor_vm_run_callback needs,
	 * and take back the budget left after the callbacks ran. */
	HELPER_CALL((run->cb.fp = reg[10], run->cb.depth = depth, run->cb.left = left,
		     run->cb.stack_top = stack_top, run->cb.budget = budget),
		    left = run->cb.left)
helper_stopped:
	if (run->err) {
		err = visor_vm_run_helper_failed(run, PC);
		goto out;
	}
	reg[0] = run->stop_ret;
	goto out_ok;
op_CALL_LOCAL:
	if (depth + 1 >= VISOR_MAX_CALL_DEPTH) {
		visor_vm_run_error(run, PC, "call depth exceeds %d frames", VISOR_MAX_CALL_DEPTH);
		err = -EOVERFLOW;
		goto out;
	}
	frames[depth].ret = in + 1;
	memcpy(frames[depth].saved, &reg[6], sizeof(frames[depth].saved));
	frames[depth].fp = reg[10];
	depth++;
	reg[10] -= VISOR_STACK_FRAME;
	memset((void *)(uintptr_t)(reg[10] - VISOR_STACK_FRAME), 0, VISOR_STACK_FRAME);
	run->stack.base = reg[10] - VISOR_STACK_FRAME;
	run->stack.len = stack_top - run->stack.base;
	JUMP(1);
op_EXIT:
	if (depth == base)
		goto out_ok;
	depth--;
	memcpy(&reg[6], frames[depth].saved, sizeof(frames[depth].saved));
	reg[10] = frames[depth].fp;
	run->stack.base = reg[10] - VISOR_STACK_FRAME;
	run->stack.len = stack_top - run->stack.base;
	in = frames[depth].ret;
	if (__builtin_expect(left-- == 0, 0))
		goto out_budget;
	goto *dispatch[in->op];

op_LDDW:
	DST = IMM;
	in++; /* skip the second slot */
	NEXT();
op_LDDW_HI:
	/* Unreachable: load rejects jumps into a lddw and the first half skips it. */
	visor_vm_run_error(run, PC, "executed the second half of lddw");
	err = -EINVAL;
	goto out;

op_LDABS_B: PKT(1, (int32_t)IMM)
op_LDABS_H: PKT(2, (int32_t)IMM)
op_LDABS_W: PKT(4, (int32_t)IMM)
op_LDIND_B: PKT(1, (int32_t)((uint32_t)SRC + (uint32_t)IMM))
op_LDIND_H: PKT(2, (int32_t)((uint32_t)SRC + (uint32_t)IMM))
op_LDIND_W: PKT(4, (int32_t)((uint32_t)SRC + (uint32_t)IMM))

op_LDX_B: LOAD(uint8_t, uint64_t)
op_LDX_H: LOAD(uint16_t, uint64_t)
op_LDX_W: LOAD(uint32_t, uint64_t)
op_LDX_DW: LOAD(uint64_t, uint64_t)
op_LDXS_B: LOAD(int8_t, int64_t)
op_LDXS_H: LOAD(int16_t, int64_t)
op_LDXS_W: LOAD(int32_t, int64_t)
op_ST_B: STORE(uint8_t, IMM)
op_ST_H: STORE(uint16_t, IMM)
op_ST_W: STORE(uint32_t, IMM)
op_ST_DW: STORE(uint64_t, IMM)
op_STX_B: STORE(uint8_t, SRC)
op_STX_H: STORE(uint16_t, SRC)
op_STX_W: STORE(uint32_t, SRC)
op_STX_DW: STORE(uint64_t, SRC)

op_ATOMIC32:
op_ATOMIC64: {
	bool is64 = in->op == VM_OP_ATOMIC64;
	unsigned size = is64 ? 8 : 4;
	uint64_t a = DST + (int64_t)in->target;
	ACCESS(a, size, true);
	if (a & (size - 1)) {
		visor_vm_run_error(run, PC, "misaligned %u-byte atomic access at 0x%llx", size,
				   (unsigned long long)a);
		err = -EFAULT;
		goto out;
	}
	uint64_t old = atomic_apply((void *)(uintptr_t)a, is64, in->aux, SRC, &reg[0]);
	if (in->aux == VISOR_ATOMIC_CMPXCHG)
		; /* r0 already holds the old value */
	else if (in->aux & VISOR_ATOMIC_FETCH)
		SRC = is64 ? old : (uint32_t)old;
	NEXT();
}

op_FALL_OFF:
	visor_vm_run_error(run, PC, "execution fell off the end of the program");
	err = -EINVAL;
	goto out;

out_fault:
	visor_vm_run_error(run, PC, "%s of %llu bytes at 0x%llx is outside the stack, the input memory and every registered region",
			   fault_write ? "store" : "load", (unsigned long long)fault_size,
			   (unsigned long long)fault_addr);
	err = -EFAULT;
	goto out;
out_packet_end:
	/* LD_ABS/LD_IND out of bounds ends the whole run with r0 = 0, from a
	 * callback too. */
	reg[0] = 0;
	if (base)
		visor_vm_run_stop(run, 0);
	goto out_ok;
out_budget:
	/* PC is the instruction that would have run next. */
	visor_vm_run_error(run, PC, "instruction budget of %llu exhausted",
			   (unsigned long long)budget);
	err = -E2BIG;
	goto out;
out_ok:
	*r0_out = reg[0];
out:
	*left_io = left;
	return err;
}

int visor_vm_interpret(struct visor_vm_run *run, const uint64_t args[5], uint64_t budget,
		       uint64_t *r0_out, uint64_t *executed)
{
	uint8_t stack[VISOR_STACK_SIZE] __attribute__((aligned(16)));
	/* `left` counts down the budget; unlimited runs start at UINT64_MAX,
	 * which no program reaches. */
	const uint64_t start = budget ? budget : UINT64_MAX;
	uint64_t left = start;

	/* Only the frames in use are addressable, each zeroed when entered:
	 * cheaper than clearing all eight, and as strict as the kernel, which
	 * rejects stack accesses beyond the current frame's 512 bytes. */
	const uintptr_t stack_top = (uintptr_t)stack + sizeof(stack);
	memset(stack + sizeof(stack) - VISOR_STACK_FRAME, 0, VISOR_STACK_FRAME);
	run->stack = (struct visor_vm_region){.base = stack_top - VISOR_STACK_FRAME,
					      .len = VISOR_STACK_FRAME, .writable = true};
	int err = interp_loop(run, run->vm->slots, args, stack_top, 0, stack_top, budget, &left,
			      r0_out);
	*executed = start - left;
	if (budget && err == -E2BIG)
		*executed = budget;
	/* The stack dies with this call: make sure no helper keeps using it. */
	run->stack.len = 0;
	return err;
}

/* A callback: one frame below the frame that called the helper (saved in
 * run->cb by CALL_HELPER_CB), zeroed and addressable while it runs, on the
 * same budget. */
int visor_vm_interpret_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
				uint64_t *r0)
{
	const struct visor_vm_reentry saved = run->cb;
	if (saved.depth + 1 >= VISOR_MAX_CALL_DEPTH)
		return -EOVERFLOW;
	const uint64_t fp = saved.fp - VISOR_STACK_FRAME;
	memset((void *)(uintptr_t)(fp - VISOR_STACK_FRAME), 0, VISOR_STACK_FRAME);
	run->stack.base = fp - VISOR_STACK_FRAME;
	run->stack.len = saved.stack_top - run->stack.base;
	uint64_t left = saved.left;
	int err = interp_loop(run, run->vm->slots + pc, args, fp, saved.depth + 1, saved.stack_top,
			      saved.budget, &left, r0);
	/* The callback's helper calls overwrote the caller's state. */
	run->cb = saved;
	run->cb.left = left;
	run->stack.base = saved.fp - VISOR_STACK_FRAME;
	run->stack.len = saved.stack_top - run->stack.base;
	return err;
}
