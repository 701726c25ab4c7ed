/* The VM object: helpers, memory regions, loading (validation and
 * pre-decoding) and the entry point of a run. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/maps.h>

#include "jit.h"
#include "runtime_internal.h"
#include "vm_internal.h"
#include "vm_verifier.h"

static int vm_fail(struct visor_vm *vm, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int vm_fail(struct visor_vm *vm, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->errmsg, sizeof(vm->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

struct visor_vm *visor_vm_create(void)
{
	return calloc(1, sizeof(struct visor_vm));
}

void visor_vm_destroy(struct visor_vm *vm)
{
	if (!vm)
		return;
	visor_vm_unload(vm);
	visor_vm_rt_free(vm);
	free(vm->regions);
	free(vm);
}

const char *visor_vm_errmsg(const struct visor_vm *vm)
{
	return vm ? vm->errmsg : "no VM";
}

int visor_vm_register_helper(struct visor_vm *vm, uint32_t id, const char *name,
			     visor_helper_fn fn)
{
	if (!vm || !fn)
		return -EINVAL;
	if (id >= VISOR_MAX_HELPERS)
		return vm_fail(vm, -EINVAL, "helper id %u out of range (0..%d)", id,
			       VISOR_MAX_HELPERS - 1);
	vm->helpers[id].fn = fn;
	snprintf(vm->helpers[id].name, sizeof(vm->helpers[id].name), "%s",
		 name && *name ? name : "helper");
	return 0;
}

const char *visor_vm_helper_name(const struct visor_vm *vm, uint32_t id)
{
	if (!vm || id >= VISOR_MAX_HELPERS || !vm->helpers[id].fn)
		return NULL;
	return vm->helpers[id].name;
}

int visor_vm_add_region(struct visor_vm *vm, void *base, size_t len, bool writable)
{
	if (!vm || !base || !len || (uintptr_t)base + len < (uintptr_t)base)
		return -EINVAL;
	if (vm->nregions == vm->cap_regions) {
		size_t cap = vm->cap_regions ? vm->cap_regions * 2 : 4;
		struct visor_vm_region *r = realloc(vm->regions, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		vm->regions = r;
		vm->cap_regions = cap;
	}
	vm->regions[vm->nregions++] =
		(struct visor_vm_region){.base = (uintptr_t)base, .len = len, .writable = writable};
	return 0;
}

void *visor_vm_user(const struct visor_vm *vm)
{
	return vm->user;
}

void visor_vm_set_user(struct visor_vm *vm, void *user)
{
	vm->user = user;
}

void visor_vm_unload(struct visor_vm *vm)
{
	visor_vm_jit_free(vm);
	free(vm->insns);
	free(vm->slots);
	free(vm->cb_targets);
	free(vm->given);
	vm->given = NULL;
	vm->verified = false;
	vm->insns = NULL;
	vm->slots = NULL;
	vm->cb_targets = NULL;
	vm->ncb_targets = 0;
	vm->count = 0;
}

/* ---- decoding ------------------------------------------------------------ */

/* Index of the operation within its ALU group, in VISOR_VM_OPS order. */
static int alu_op(const struct visor_insn *in, uint8_t *op)
{
	static const uint8_t base64[16] = {
		[VISOR_ALU_ADD >> 4] = VM_OP_ADD64_K, [VISOR_ALU_SUB >> 4] = VM_OP_SUB64_K,
		[VISOR_ALU_MUL >> 4] = VM_OP_MUL64_K, [VISOR_ALU_DIV >> 4] = VM_OP_DIV64_K,
		[VISOR_ALU_OR >> 4] = VM_OP_OR64_K,   [VISOR_ALU_AND >> 4] = VM_OP_AND64_K,
		[VISOR_ALU_LSH >> 4] = VM_OP_LSH64_K, [VISOR_ALU_RSH >> 4] = VM_OP_RSH64_K,
		[VISOR_ALU_MOD >> 4] = VM_OP_MOD64_K, [VISOR_ALU_XOR >> 4] = VM_OP_XOR64_K,
		[VISOR_ALU_MOV >> 4] = VM_OP_MOV64_K, [VISOR_ALU_ARSH >> 4] = VM_OP_ARSH64_K,
	};
	int is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	int x = VISOR_SRC(in->code) == VISOR_SRC_X;
	uint8_t code = VISOR_OP(in->code);
	/* The 32-bit block mirrors the 64-bit one at a fixed distance. */
	int shift32 = VM_OP_ADD32_K - VM_OP_ADD64_K;

	if (code == VISOR_ALU_END) {
		static const uint8_t le[3] = {VM_OP_LE16, VM_OP_LE32, VM_OP_LE64};
		static const uint8_t be[3] = {VM_OP_BE16, VM_OP_BE32, VM_OP_BE64};
		int w = in->imm == 16 ? 0 : in->imm == 32 ? 1 : 2;
		/* ALU64 END is bswap: an unconditional swap, like BE on x86. */
		*op = (is64 || x) ? be[w] : le[w];
		return 0;
	}
	if (code == VISOR_ALU_NEG) {
		*op = is64 ? VM_OP_NEG64 : VM_OP_NEG32;
		return 0;
	}
	if (code == VISOR_ALU_MOV && in->off) {
		if (is64)
			*op = in->off == 8 ? VM_OP_MOVSX64_8 : in->off == 16 ? VM_OP_MOVSX64_16 : VM_OP_MOVSX64_32;
		else
			*op = in->off == 8 ? VM_OP_MOVSX32_8 : VM_OP_MOVSX32_16;
		return 0;
	}
	int o = base64[code >> 4];
	if ((code == VISOR_ALU_DIV || code == VISOR_ALU_MOD) && in->off == 1)
		o = code == VISOR_ALU_DIV ? VM_OP_SDIV64_K : VM_OP_SMOD64_K;
	o += x;
	if (!is64)
		o += shift32;
	*op = (uint8_t)o;
	return 0;
}

static uint8_t jmp_op(const struct visor_insn *in)
{
	static const uint8_t base[16] = {
		[VISOR_JMP_JEQ >> 4] = VM_OP_JEQ_K,   [VISOR_JMP_JGT >> 4] = VM_OP_JGT_K,
		[VISOR_JMP_JGE >> 4] = VM_OP_JGE_K,   [VISOR_JMP_JSET >> 4] = VM_OP_JSET_K,
		[VISOR_JMP_JNE >> 4] = VM_OP_JNE_K,   [VISOR_JMP_JSGT >> 4] = VM_OP_JSGT_K,
		[VISOR_JMP_JSGE >> 4] = VM_OP_JSGE_K, [VISOR_JMP_JLT >> 4] = VM_OP_JLT_K,
		[VISOR_JMP_JLE >> 4] = VM_OP_JLE_K,   [VISOR_JMP_JSLT >> 4] = VM_OP_JSLT_K,
		[VISOR_JMP_JSLE >> 4] = VM_OP_JSLE_K,
	};
	int o = base[VISOR_OP(in->code) >> 4] + (VISOR_SRC(in->code) == VISOR_SRC_X);
	if (VISOR_CLASS(in->code) == VISOR_CLS_JMP32)
		o += VM_OP_JEQ32_K - VM_OP_JEQ_K;
	return (uint8_t)o;
}

static const char *lddw_src_name(uint8_t src)
{
	static const char *names[] = {"imm", "map_fd", "map_value", "btf_id",
				      "func", "map_idx", "map_idx_value"};
	return src < sizeof(names) / sizeof(names[0]) ? names[src] : "?";
}

/* Does instruction `in` write register dst (so dst must not be r10)? */
static bool writes_dst(const struct visor_insn *in)
{
	switch (VISOR_CLASS(in->code)) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
	case VISOR_CLS_LDX:
		return true;
	case VISOR_CLS_LD:
		return in->code == VISOR_OPCODE_LDDW;
	default:
		return false;
	}
}

static int decode_one(struct visor_vm *vm, size_t pc, struct visor_vm_slot *s)
{
	const struct visor_insn *in = &vm->insns[pc];
	char why[160];

	if (visor_insn_check(vm->insns, vm->count, pc, why, sizeof(why)))
		return vm_fail(vm, -EINVAL, "insn %zu: illegal instruction (opcode 0x%02x): %s", pc,
			       in->code, why);
	if (writes_dst(in) && in->dst == 10)
		return vm_fail(vm, -EINVAL, "insn %zu: r10 is the read-only frame pointer", pc);
	if (VISOR_CLASS(in->code) == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_ATOMIC &&
	    (in->imm & VISOR_ATOMIC_FETCH) && in->src == 10 && in->imm != VISOR_ATOMIC_CMPXCHG)
		return vm_fail(vm, -EINVAL, "insn %zu: r10 is the read-only frame pointer", pc);

	s->dst = in->dst;
	s->src = in->src;
	s->imm = (uint64_t)(int64_t)in->imm;
	s->target = in->off;

	switch (VISOR_CLASS(in->code)) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
		alu_op(in, &s->op);
		/* 32-bit ALU immediates are used as 32-bit values. */
		if (VISOR_CLASS(in->code) == VISOR_CLS_ALU)
			s->imm = (uint32_t)in->imm;
		return 0;
	case VISOR_CLS_JMP:
	case VISOR_CLS_JMP32: {
		uint8_t code = VISOR_OP(in->code);
		int64_t target;
		if (code == VISOR_JMP_EXIT) {
			s->op = VM_OP_EXIT;
			return 0;
		}
		if (code == VISOR_JMP_CALL) {
			if (in->src == VISOR_CALL_HELPER) {
				s->op = VM_OP_CALL_HELPER;
				/* Typed programs: the type's helper allowlist. */
				return vm->rt ? visor_vm_rt_check_helper(vm, pc, in->imm) : 0;
			}
			if (in->src == VISOR_CALL_KFUNC)
				return vm_fail(vm, -EOPNOTSUPP,
					       "insn %zu: kfunc calls (BTF id %d) exist only in the kernel",
					       pc, in->imm);
			s->op = VM_OP_CALL_LOCAL;
			target = (int64_t)pc + in->imm + 1;
		} else if (code == VISOR_JMP_JA) {
			s->op = VM_OP_JA;
			target = (int64_t)pc + (VISOR_CLASS(in->code) == VISOR_CLS_JMP32 ? in->imm : in->off) + 1;
		} else {
			s->op = jmp_op(in);
			target = (int64_t)pc + in->off + 1;
			if (VISOR_CLASS(in->code) == VISOR_CLS_JMP32)
				s->imm = (uint32_t)in->imm;
		}
		if (target < 0 || (uint64_t)target >= vm->count)
			return vm_fail(vm, -EINVAL, "insn %zu: %s to %lld is outside the program (0..%zu)",
				       pc, s->op == VM_OP_CALL_LOCAL ? "call" : "jump",
				       (long long)target, vm->count - 1);
		s->target = (int32_t)target;
		return 0;
	}
	case VISOR_CLS_LD:
		if (in->code == VISOR_OPCODE_LDDW) {
			s->op = VM_OP_LDDW;
			if (in->src == VISOR_LDDW_FUNC) {
				/* A callback's address (bpf_loop ...): its first
				 * instruction, tagged; see VISOR_VM_FUNC_TAG. */
				int64_t target = (int64_t)pc + in->imm + 1;
				if (target < 0 || (uint64_t)target >= vm->count)
					return vm_fail(vm, -EINVAL,
						       "insn %zu: lddw func to %lld is outside the program (0..%zu)",
						       pc, (long long)target, vm->count - 1);
				s->target = (int32_t)target;
				s->imm = VISOR_VM_FUNC_TAG | (uint64_t)target;
				return 0;
			}
			/* Map sources resolve through the table bound by visor_vm_set_maps. */
			if (in->src != VISOR_LDDW_IMM && vm->rt &&
			    (in->src == VISOR_LDDW_MAP_FD || in->src == VISOR_LDDW_MAP_VALUE ||
			     in->src == VISOR_LDDW_MAP_IDX || in->src == VISOR_LDDW_MAP_IDX_VALUE))
				return visor_vm_rt_lddw(vm, pc, &s->imm);
			if (in->src != VISOR_LDDW_IMM)
				return vm_fail(vm, -EOPNOTSUPP,
					       "insn %zu: lddw %s needs maps or kernel symbols, which the "
					       "visor engine does not resolve yet",
					       pc, lddw_src_name(in->src));
			s->op = VM_OP_LDDW;
			s->imm = (uint32_t)in->imm | ((uint64_t)(uint32_t)vm->insns[pc + 1].imm << 32);
			return 0;
		}
		{
			/* check() refused the 64-bit forms. */
			static const uint8_t abs_ops[3] = {VM_OP_LDABS_W, VM_OP_LDABS_H, VM_OP_LDABS_B};
			static const uint8_t ind_ops[3] = {VM_OP_LDIND_W, VM_OP_LDIND_H, VM_OP_LDIND_B};
			unsigned sz = VISOR_SIZE(in->code) >> 3;
			s->op = VISOR_MODE(in->code) == VISOR_MODE_ABS ? abs_ops[sz] : ind_ops[sz];
		}
		return 0;
	case VISOR_CLS_LDX: {
		static const uint8_t ops[4] = {VM_OP_LDX_W, VM_OP_LDX_H, VM_OP_LDX_B, VM_OP_LDX_DW};
		static const uint8_t sx[4] = {VM_OP_LDXS_W, VM_OP_LDXS_H, VM_OP_LDXS_B, 0};
		unsigned sz = VISOR_SIZE(in->code) >> 3;
		s->op = VISOR_MODE(in->code) == VISOR_MODE_MEMSX ? sx[sz] : ops[sz];
		return 0;
	}
	case VISOR_CLS_ST: {
		static const uint8_t ops[4] = {VM_OP_ST_W, VM_OP_ST_H, VM_OP_ST_B, VM_OP_ST_DW};
		s->op = ops[VISOR_SIZE(in->code) >> 3];
		return 0;
	}
	default: { /* STX */
		static const uint8_t ops[4] = {VM_OP_STX_W, VM_OP_STX_H, VM_OP_STX_B, VM_OP_STX_DW};
		if (VISOR_MODE(in->code) == VISOR_MODE_ATOMIC) {
			s->op = VISOR_SIZE(in->code) == VISOR_SIZE_DW ? VM_OP_ATOMIC64 : VM_OP_ATOMIC32;
			s->aux = (uint8_t)in->imm;
			return 0;
		}
		s->op = ops[VISOR_SIZE(in->code) >> 3];
		return 0;
	}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The callback targets (lddw src 4), for helpers to validate what they are
 * given. A program with callbacks gets CALL_HELPER_CB for its helper calls:
 * they leave the interpreter's state for a helper that calls back. */
static int collect_callbacks(struct visor_vm *vm)
{
	size_t n = 0;
	for (size_t pc = 0; pc < vm->count; pc++)
		n += vm->slots[pc].op == VM_OP_LDDW && vm->slots[pc].src == VISOR_LDDW_FUNC;
	if (!n)
		return 0;
	vm->cb_targets = malloc(n * sizeof(*vm->cb_targets));
	if (!vm->cb_targets)
		return vm_fail(vm, -ENOMEM, "out of memory loading %zu instructions", vm->count);
	for (size_t pc = 0; pc < vm->count; pc++) {
		struct visor_vm_slot *s = &vm->slots[pc];
		if (s->op == VM_OP_LDDW && s->src == VISOR_LDDW_FUNC)
			vm->cb_targets[vm->ncb_targets++] = (uint32_t)s->target;
		else if (s->op == VM_OP_CALL_HELPER)
			s->op = VM_OP_CALL_HELPER_CB;
	}
	qsort(vm->cb_targets, n, sizeof(*vm->cb_targets), cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || vm->cb_targets[k - 1] != vm->cb_targets[i])
			vm->cb_targets[k++] = vm->cb_targets[i];
	vm->ncb_targets = k;
	return 0;
}

int visor_vm_load(struct visor_vm *vm, const struct visor_insn *insns, size_t count)
{
	if (!vm)
		return -EINVAL;
	vm->errmsg[0] = 0;
	if (!insns || !count)
		return vm_fail(vm, -EINVAL, "empty program");
	if (count > 1000000)
		return vm_fail(vm, -E2BIG, "program has %zu instructions; the limit is 1000000", count);
	visor_vm_unload(vm);

	vm->insns = malloc(count * sizeof(*insns));
	vm->given = malloc(count * sizeof(*insns));
	vm->slots = calloc(count + 1, sizeof(*vm->slots));
	if (!vm->insns || !vm->given || !vm->slots) {
		visor_vm_unload(vm);
		return vm_fail(vm, -ENOMEM, "out of memory loading %zu instructions", count);
	}
	memcpy(vm->insns, insns, count * sizeof(*insns));
	memcpy(vm->given, insns, count * sizeof(*insns));
	vm->count = count;

	/* Context rewrites (XDP) patch the copy before it is decoded. */
	int err = vm->rt ? visor_vm_rt_prepare(vm) : 0;
	for (size_t pc = 0; pc < count && !err; pc++) {
		err = decode_one(vm, pc, &vm->slots[pc]);
		if (!err && vm->slots[pc].op == VM_OP_LDDW)
			vm->slots[++pc].op = VM_OP_LDDW_HI;
	}
	/* No jump or call may land on the second half of a lddw. */
	for (size_t pc = 0; pc < count && !err; pc++) {
		struct visor_vm_slot *s = &vm->slots[pc];
		bool jumps = (s->op >= VM_OP_JA && s->op <= VM_OP_JSLE32_X) || s->op == VM_OP_CALL_LOCAL;
		bool func = s->op == VM_OP_LDDW && s->src == VISOR_LDDW_FUNC;
		if ((jumps || func) && vm->slots[s->target].op == VM_OP_LDDW_HI)
			err = vm_fail(vm, -EINVAL, "insn %zu: %s to %d lands in the middle of lddw", pc,
				      func ? "lddw func" : s->op == VM_OP_CALL_LOCAL ? "call" : "jump",
				      s->target);
	}
	if (!err)
		err = collect_callbacks(vm);
	vm->slots[count].op = VM_OP_FALL_OFF;
	if (err)
		visor_vm_unload(vm);
	return err;
}

/* ---- running ------------------------------------------------------------- */

int visor_vm_run_helper_failed(struct visor_vm_run *run, size_t pc)
{
	if (run->cb.err_located)
		return run->err;
	const struct visor_vm_helper *h = &run->vm->helpers[(uint32_t)run->vm->slots[pc].imm];
	char msg[VISOR_ERRMSG_LEN - 64];
	const char *buf = run->errbuf && run->errbuf_len ? run->errbuf : run->vm->errmsg;
	snprintf(msg, sizeof(msg), "%.180s", buf);
	visor_vm_run_error(run, pc, "helper %s: %s", h->name, msg);
	return run->err;
}

uint64_t visor_vm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void visor_vm_run_error(struct visor_vm_run *run, size_t pc, const char *fmt, ...)
{
	char msg[VISOR_ERRMSG_LEN - 32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (run->errbuf && run->errbuf_len)
		snprintf(run->errbuf, run->errbuf_len, "insn %zu: %s", pc, msg);
	else
		snprintf(run->vm->errmsg, sizeof(run->vm->errmsg), "insn %zu: %s", pc, msg);
}

static const char *unchecked_run_refused(const struct visor_vm *vm,
					 const struct visor_vm_exec_opts *o);

int visor_vm_exec(struct visor_vm *vm, struct visor_vm_exec_opts *opts, uint64_t *r0)
{
	if (!vm || !opts || opts->sz < sizeof(size_t))
		return -EINVAL;
	/* Fields beyond what the caller's struct holds read as zero. */
	struct visor_vm_exec_opts o;
	if (opts->sz >= sizeof(o)) {
		/* The common case, without a zero fill first (a rep stos), and
		 * around insns_executed: a wide load over the count the last
		 * run stored would stall store forwarding. */
		const size_t out = offsetof(struct visor_vm_exec_opts, insns_executed);
		const size_t rest = out + sizeof(o.insns_executed);
		memcpy(&o, opts, out);
		o.insns_executed = 0;
		memcpy((char *)&o + rest, (const char *)opts + rest, sizeof(o) - rest);
	} else {
		memset(&o, 0, sizeof(o));
		memcpy(&o, opts, opts->sz);
	}
	if (!vm->slots) {
		snprintf(o.errbuf && o.errbuf_len ? o.errbuf : vm->errmsg,
			 o.errbuf && o.errbuf_len ? o.errbuf_len : sizeof(vm->errmsg),
			 "no program loaded");
		return -EINVAL;
	}
	if (!o.errbuf || !o.errbuf_len)
		vm->errmsg[0] = 0;
	else
		o.errbuf[0] = 0;
	if (!visor_vm_may_run(vm)) {
		snprintf(o.errbuf && o.errbuf_len ? o.errbuf : vm->errmsg,
			 o.errbuf && o.errbuf_len ? o.errbuf_len : sizeof(vm->errmsg), "%s",
			 VISOR_VM_UNVERIFIED_MSG);
		return -EACCES;
	}

	struct visor_vm_run run;
	visor_vm_run_init(&run, vm);
	run.mem = (struct visor_vm_region){.base = (uintptr_t)o.mem, .len = o.mem ? o.mem_len : 0,
					   .writable = true};
	run.packet = o.packet ? o.packet : o.mem;
	run.packet_len = o.packet ? o.packet_len : (o.mem ? o.mem_len : 0);
	run.errbuf = o.errbuf;
	run.errbuf_len = o.errbuf_len;
	uint64_t args[5] = {(uintptr_t)o.mem, o.mem ? o.mem_len : 0, 0, 0, 0};
	if (o.set_args)
		memcpy(args, o.args, sizeof(args));

	bool jit = o.engine == VISOR_ENGINE_JIT || (o.engine == VISOR_ENGINE_AUTO && vm->jit);
	if (jit && !vm->jit) {
		snprintf(o.errbuf && o.errbuf_len ? o.errbuf : vm->errmsg,
			 o.errbuf && o.errbuf_len ? o.errbuf_len : sizeof(vm->errmsg),
			 "the program is not JIT-compiled (visor_vm_jit_compile)");
		return -EINVAL;
	}
	const char *why = jit && (vm->jit->flags & VISOR_JIT_VERIFIED) ? unchecked_run_refused(vm, &o) : NULL;
	if (why) {
		snprintf(o.errbuf && o.errbuf_len ? o.errbuf : vm->errmsg,
			 o.errbuf && o.errbuf_len ? o.errbuf_len : sizeof(vm->errmsg), "%s", why);
		return -EINVAL;
	}
	uint64_t executed = 0, ret = 0;
	/* Map values handed to the program stay valid until the run ends. */
	if (vm->rt)
		visor_map_read_lock();
	int err = visor_vm_run_chain(&run, o.engine, args, o.budget, &ret, &executed);
	if (vm->rt)
		visor_map_read_unlock();
	if (opts->sz >= offsetof(struct visor_vm_exec_opts, insns_executed) + sizeof(uint64_t))
		opts->insns_executed = executed;
	if (!err && r0)
		*r0 = ret;
	return err;
}

int visor_vm_exec_mem(struct visor_vm *vm, void *mem, size_t len, uint64_t *r0)
{
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = len);
	return visor_vm_exec(vm, &o, r0);
}

bool visor_vm_run_mem_ok(const struct visor_vm_run *run, uint64_t addr, uint64_t len,
			 bool writable)
{
	const struct visor_vm_region *fixed[2] = {&run->stack, &run->mem};
	if (len == 0)
		return true;
	for (int i = 0; i < 2; i++) {
		const struct visor_vm_region *r = fixed[i];
		if (r->len >= len && addr - r->base <= r->len - len)
			return true;
	}
	for (size_t i = 0; i < run->vm->nregions; i++) {
		const struct visor_vm_region *r = &run->vm->regions[i];
		if (r->len >= len && addr - r->base <= r->len - len && (r->writable || !writable))
			return true;
	}
	return run->nhanded && visor_vm_run_handed_ok(run, addr, len, writable);
}

void visor_vm_run_stop(struct visor_vm_run *run, uint64_t ret)
{
	run->stopped = true;
	run->stop_ret = ret;
}

void visor_vm_run_fail(struct visor_vm_run *run, int err, const char *fmt, ...)
{
	char msg[VISOR_ERRMSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char *dst = run->errbuf && run->errbuf_len ? run->errbuf : run->vm->errmsg;
	size_t len = run->errbuf && run->errbuf_len ? run->errbuf_len : sizeof(run->vm->errmsg);
	snprintf(dst, len, "%s", msg);
	run->stopped = true;
	run->err = err < 0 ? err : -EFAULT;
}

struct visor_vm *visor_vm_run_vm(const struct visor_vm_run *run)
{
	return run->vm;
}

/* ---- for the verifier (vm_verifier.h) ------------------------------------ */

const struct visor_insn *visor_vm__program(const struct visor_vm *vm, size_t *count)
{
	*count = vm->slots ? vm->count : 0;
	return vm->slots ? vm->given : NULL;
}

struct visor_map *const *visor_vm__maps(const struct visor_vm *vm, size_t *count)
{
	*count = vm->rt ? vm->rt->nmaps : 0;
	return vm->rt ? vm->rt->maps : NULL;
}

uint32_t visor_vm__prog_type(const struct visor_vm *vm)
{
	return vm->rt ? vm->rt->prog_type : 0;
}

void visor_vm__set_verified(struct visor_vm *vm, bool verified, uint32_t ctx_size)
{
	vm->verified = verified && vm->slots;
	vm->verified_ctx = ctx_size;
}

/* The JIT runs a verified program without memory checks: the run must give
 * it what the verifier assumed. NULL if it does, else why not. */
static const char *unchecked_run_refused(const struct visor_vm *vm,
					 const struct visor_vm_exec_opts *o)
{
	uint32_t type = vm->rt ? vm->rt->prog_type : 0;
	if (type && !visor_vm_ctx_is_buffer(type))
		return "a verified program of this type runs in the JIT only through visor_prog_test_run, which builds its context";
	if (o->set_args)
		return "a verified program gets r1 and r2 from opts.mem / mem_len, not from opts.args";
	if (type) {
		if (vm->rt->max_ctx_offset && (!o->mem || o->mem_len < vm->rt->max_ctx_offset))
			return "the context given (opts.mem / mem_len) is shorter than what the program reads";
		return NULL;
	}
	if ((o->mem ? o->mem_len : 0) != vm->verified_ctx)
		return "the program was verified for a different memory size at r1 than this run gives it (visor_verify_opts.ctx_size must equal opts.mem_len)";
	return NULL;
}

void visor_vm_set_unsafe(struct visor_vm *vm, bool unsafe)
{
	if (vm)
		vm->unsafe = unsafe;
}

bool visor_vm_verified(const struct visor_vm *vm)
{
	return vm && vm->verified;
}

bool visor_vm_unsafe(const struct visor_vm *vm)
{
	return vm && vm->unsafe;
}
