/* Structure checks, before any abstract interpretation (the kernel's
 * check_subprogs and check_cfg): well-formed instructions, no writes to
 * r10, jumps inside their function and never into the second half of a
 * lddw, no falling off the end of a function, no unreachable instruction,
 * no recursion, at most VISOR_MAX_CALL_DEPTH frames. It also finds the
 * functions (subprograms and callbacks) and the instructions where states
 * are stored for pruning. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/verifier_internal.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t vsub_of(const struct venv *e, size_t pc)
{
	size_t lo = 0, hi = e->nsubs;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (e->subs[mid].start <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void vsub_name(const struct venv *e, size_t sub, char *buf, size_t len)
{
	if (sub == 0)
		snprintf(buf, len, "the main program");
	else
		snprintf(buf, len, "%s at insn %u", e->subs[sub].callback ? "the callback" : "the function",
			 e->subs[sub].start);
}

/* The function a local call or a lddw of a callback at pc names (after
 * find_subprogs checked it), or -1. */
static int64_t call_target(const struct venv *e, size_t pc)
{
	const struct visor_insn *in = &e->insns[pc];
	if (e->flags[pc] & IF_LDDW_HI)
		return -1;
	if ((in->code == VISOR_OPCODE_CALL && in->src == VISOR_CALL_LOCAL) ||
	    (in->code == VISOR_OPCODE_LDDW && in->src == VISOR_LDDW_FUNC))
		return (int64_t)pc + 1 + in->imm;
	return -1;
}

static bool writes_r10(const struct visor_insn *in)
{
	uint8_t cls = VISOR_CLASS(in->code);
	if (cls == VISOR_CLS_ALU || cls == VISOR_CLS_ALU64 || cls == VISOR_CLS_LDX ||
	    in->code == VISOR_OPCODE_LDDW)
		return in->dst == 10;
	if (cls == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_ATOMIC &&
	    (in->imm & VISOR_ATOMIC_FETCH))
		return in->imm != VISOR_ATOMIC_CMPXCHG && in->src == 10;
	return false;
}

/* The jump target of a jump instruction, or -1 if it is not one. */
static int64_t jump_target(const struct visor_insn *in, size_t pc)
{
	uint8_t cls = VISOR_CLASS(in->code), op = VISOR_OP(in->code);
	if (cls != VISOR_CLS_JMP && cls != VISOR_CLS_JMP32)
		return -1;
	if (op == VISOR_JMP_CALL || op == VISOR_JMP_EXIT)
		return -1;
	if (op == VISOR_JMP_JA && cls == VISOR_CLS_JMP32)
		return (int64_t)pc + 1 + in->imm;
	return (int64_t)pc + 1 + in->off;
}

static bool is_uncond(const struct visor_insn *in)
{
	uint8_t cls = VISOR_CLASS(in->code), op = VISOR_OP(in->code);
	return (cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) &&
	       (op == VISOR_JMP_JA || op == VISOR_JMP_EXIT);
}

static int find_subprogs(struct venv *e)
{
	size_t n = e->n, cap = 16, k = 0;
	uint32_t *starts = malloc(cap * sizeof(*starts));
	bool *cb = NULL;
	if (!starts)
		return vfail(e, -ENOMEM, -1, "out of memory");
	starts[k++] = 0;
	for (size_t pc = 0; pc < n; pc++) {
		const struct visor_insn *in = &e->insns[pc];
		int64_t t = -1;
		if (e->flags[pc] & IF_LDDW_HI)
			continue;
		if (in->code == VISOR_OPCODE_CALL && in->src == VISOR_CALL_LOCAL)
			t = (int64_t)pc + 1 + in->imm;
		else if (in->code == VISOR_OPCODE_LDDW && in->src == VISOR_LDDW_FUNC)
			t = (int64_t)pc + 1 + in->imm;
		else
			continue;
		if (t < 0 || (size_t)t >= n) {
			free(starts);
			return vfail(e, -EINVAL, (int64_t)pc, "%s target %lld is outside the program (%zu instructions)",
				     in->code == VISOR_OPCODE_CALL ? "the call's" : "the callback's",
				     (long long)t, n);
		}
		if (e->flags[t] & IF_LDDW_HI) {
			free(starts);
			return vfail(e, -EINVAL, (int64_t)pc, "%s target %lld is the second half of a lddw",
				     in->code == VISOR_OPCODE_CALL ? "the call's" : "the callback's",
				     (long long)t);
		}
		if (k == cap) {
			uint32_t *s = realloc(starts, (cap *= 2) * sizeof(*s));
			if (!s) {
				free(starts);
				return vfail(e, -ENOMEM, -1, "out of memory");
			}
			starts = s;
		}
		starts[k++] = (uint32_t)t;
	}
	qsort(starts, k, sizeof(*starts), cmp_u32);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || starts[u - 1] != starts[i])
			starts[u++] = starts[i];
	e->subs = calloc(u, sizeof(*e->subs));
	(void)cb;
	if (!e->subs) {
		free(starts);
		return vfail(e, -ENOMEM, -1, "out of memory");
	}
	e->nsubs = u;
	for (size_t i = 0; i < u; i++) {
		e->subs[i].start = starts[i];
		e->subs[i].end = i + 1 < u ? starts[i + 1] : (uint32_t)n;
	}
	free(starts);
	for (size_t pc = 0; pc < n; pc++) {
		int64_t t = call_target(e, pc);
		if (t >= 0 && e->insns[pc].code == VISOR_OPCODE_CALL)
			e->subs[vsub_of(e, (size_t)t)].called = true;
		else if (t >= 0)
			e->subs[vsub_of(e, (size_t)t)].callback = true;
	}
	return 0;
}

/* Callees of subprogram s (local calls and callbacks it references). */
static int check_call_graph(struct venv *e, size_t s, uint32_t depth, uint8_t *state, size_t *chain)
{
	char a[64], b[64];
	chain[depth - 1] = s;
	if (depth > VISOR_MAX_CALL_DEPTH) {
		vsub_name(e, s, a, sizeof(a));
		return vfail(e, -EINVAL, e->subs[s].start,
			     "the call chain reaching %s is %u frames deep; at most %d frames may be active",
			     a, depth, VISOR_MAX_CALL_DEPTH);
	}
	state[s] = 1; /* on the current chain */
	for (size_t pc = e->subs[s].start; pc < e->subs[s].end; pc++) {
		int64_t target = call_target(e, pc);
		if (target < 0)
			continue;
		size_t t = vsub_of(e, (size_t)target);
		if (state[t] == 1) {
			vsub_name(e, s, a, sizeof(a));
			vsub_name(e, t, b, sizeof(b));
			return vfail(e, -EINVAL, (int64_t)pc,
				     "recursive call: %s calls %s, which is already active", a, b);
		}
		int err = check_call_graph(e, t, depth + 1, state, chain);
		if (err)
			return err;
	}
	state[s] = 2;
	return 0;
}

int vcfg_check(struct venv *e)
{
	size_t n = e->n;
	char why[160];
	int err;

	if (n == 0)
		return vfail(e, -EINVAL, -1, "the program is empty");
	if (n > VISOR_VERIFY_INSN_LIMIT)
		return vfail(e, -E2BIG, -1, "the program has %zu instructions; at most %d", n,
			     VISOR_VERIFY_INSN_LIMIT);
	/* Instructions. */
	for (size_t pc = 0; pc < n; pc++) {
		const struct visor_insn *in = &e->insns[pc];
		if (visor_insn_check(e->insns, n, pc, why, sizeof(why)))
			return vfail(e, -EINVAL, (int64_t)pc, "%s", why);
		if (writes_r10(in))
			return vfail(e, -EINVAL, (int64_t)pc,
				     "r10 is the read-only frame pointer; this instruction writes it");
		if (in->code == VISOR_OPCODE_CALL && in->src == VISOR_CALL_KFUNC)
			return vfail(e, -EINVAL, (int64_t)pc,
				     "calls of kernel functions (kfuncs) are not supported by the visor engine");
		if (in->code == VISOR_OPCODE_LDDW) {
			if (in->src == VISOR_LDDW_BTF_ID)
				return vfail(e, -EINVAL, (int64_t)pc,
					     "lddw of a kernel variable (BTF id) is not supported by the visor engine");
			if (in->src != VISOR_LDDW_IMM && in->src != VISOR_LDDW_FUNC &&
			    in->imm >= 0 && (size_t)in->imm >= e->nmaps)
				return vfail(e, -EINVAL, (int64_t)pc,
					     "lddw names map %d, but %zu maps are bound", in->imm, e->nmaps);
			if (in->src != VISOR_LDDW_IMM && in->src != VISOR_LDDW_FUNC && in->imm < 0)
				return vfail(e, -EINVAL, (int64_t)pc, "lddw names map %d", in->imm);
			e->flags[++pc] |= IF_LDDW_HI;
		}
	}
	if ((err = find_subprogs(e)))
		return err;
	/* Jumps and ends of functions. */
	for (size_t pc = 0; pc < n; pc++) {
		const struct visor_insn *in = &e->insns[pc];
		if (e->flags[pc] & IF_LDDW_HI)
			continue;
		int64_t t = jump_target(in, pc);
		size_t s = vsub_of(e, pc);
		if (t >= 0 || (t < 0 && (VISOR_CLASS(in->code) == VISOR_CLS_JMP ||
					 VISOR_CLASS(in->code) == VISOR_CLS_JMP32) &&
			       VISOR_OP(in->code) != VISOR_JMP_CALL && VISOR_OP(in->code) != VISOR_JMP_EXIT)) {
			if (t < 0 || (size_t)t >= n)
				return vfail(e, -EINVAL, (int64_t)pc,
					     "the jump goes to %lld, outside the program (%zu instructions)",
					     (long long)t, n);
			if (e->flags[t] & IF_LDDW_HI)
				return vfail(e, -EINVAL, (int64_t)pc,
					     "the jump lands in the middle of the lddw at insn %lld",
					     (long long)t - 1);
			if ((size_t)t < e->subs[s].start || (size_t)t >= e->subs[s].end) {
				char a[64], b[64];
				vsub_name(e, s, a, sizeof(a));
				vsub_name(e, vsub_of(e, (size_t)t), b, sizeof(b));
				return vfail(e, -EINVAL, (int64_t)pc,
					     "the jump to insn %lld leaves %s for %s; functions are entered only by calls",
					     (long long)t, a, b);
			}
			e->flags[t] |= IF_PRUNE;
			if ((size_t)t <= pc)
				e->flags[t] |= IF_LOOP;
			if (VISOR_OP(in->code) != VISOR_JMP_JA && (size_t)pc + 1 < n)
				e->flags[pc + 1] |= IF_PRUNE;
		}
		size_t last = e->subs[s].end - 1;
		if (e->flags[last] & IF_LDDW_HI)
			last--;
		if (pc == last && !is_uncond(in)) {
			char a[64];
			vsub_name(e, s, a, sizeof(a));
			return vfail(e, -EINVAL, (int64_t)pc,
				     "execution can fall off the end of %s: its last instruction must be exit or goto",
				     a);
		}
		if (in->code == VISOR_OPCODE_CALL && pc + 1 < n)
			e->flags[pc + 1] |= IF_PRUNE;
	}
	/* Reachability, function by function. */
	size_t *work = malloc(n * sizeof(*work)), nw = 0;
	if (!work)
		return vfail(e, -ENOMEM, -1, "out of memory");
	for (size_t s = 0; s < e->nsubs; s++) {
		e->flags[e->subs[s].start] |= IF_REACHED | IF_PRUNE;
		work[nw++] = e->subs[s].start;
	}
	while (nw) {
		size_t pc = work[--nw];
		const struct visor_insn *in = &e->insns[pc];
		size_t succ[2];
		int ns = 0;
		int64_t t = jump_target(in, pc);
		if (in->code == VISOR_OPCODE_LDDW)
			succ[ns++] = pc + 2;
		else if (in->code == VISOR_OPCODE_EXIT)
			;
		else if (t >= 0) {
			succ[ns++] = (size_t)t;
			if (VISOR_OP(in->code) != VISOR_JMP_JA)
				succ[ns++] = pc + 1;
		} else
			succ[ns++] = pc + 1;
		for (int i = 0; i < ns; i++) {
			if (succ[i] < n && !(e->flags[succ[i]] & IF_REACHED)) {
				e->flags[succ[i]] |= IF_REACHED;
				work[nw++] = succ[i];
			}
		}
	}
	free(work);
	for (size_t pc = 0; pc < n; pc++)
		if (!(e->flags[pc] & (IF_REACHED | IF_LDDW_HI)))
			return vfail(e, -EINVAL, (int64_t)pc,
				     "instruction %zu can never run (unreachable code is refused)", pc);
	/* Calls. */
	uint8_t *state = calloc(e->nsubs, 1);
	size_t chain[VISOR_MAX_CALL_DEPTH + 1];
	if (!state)
		return vfail(e, -ENOMEM, -1, "out of memory");
	err = check_call_graph(e, 0, 1, state, chain);
	for (size_t s = 1; !err && s < e->nsubs; s++)
		if (!state[s] && e->subs[s].callback)
			err = check_call_graph(e, s, 2, state, chain);
	free(state);
	return err;
}

/* The deepest combined stack over every chain of calls (each frame rounded
 * up to 32 bytes, at least 32, as the kernel's check_max_stack_depth). */
static uint32_t frame_bytes(const struct venv *e, size_t s)
{
	uint32_t d = e->subs[s].depth ? e->subs[s].depth : 1;
	return (d + 31) & ~31u;
}

static uint32_t chain_stack(const struct venv *e, size_t s, size_t *worst, uint32_t *wdepth)
{
	uint32_t best = 0;
	size_t bw = SIZE_MAX;
	for (size_t pc = e->subs[s].start; pc < e->subs[s].end; pc++) {
		int64_t target = call_target(e, pc);
		if (target < 0)
			continue;
		size_t t = vsub_of(e, (size_t)target);
		size_t w;
		uint32_t wd;
		uint32_t d = chain_stack(e, t, &w, &wd);
		if (d > best) {
			best = d;
			bw = t;
		}
	}
	*worst = bw;
	*wdepth = best;
	return best + frame_bytes(e, s);
}

int vcfg_check_stack(struct venv *e)
{
	size_t worst;
	uint32_t wd;
	uint32_t total = chain_stack(e, 0, &worst, &wd);
	if (e->o)
		e->o->max_stack = total;
	if (total > VISOR_STACK_FRAME) {
		char path[256];
		size_t len = (size_t)snprintf(path, sizeof(path), "main (%u bytes)", frame_bytes(e, 0));
		for (size_t s = worst; s != SIZE_MAX && len < sizeof(path);) {
			size_t next;
			uint32_t nd;
			chain_stack(e, s, &next, &nd);
			len += (size_t)snprintf(path + len, sizeof(path) - len, " -> insn %u (%u bytes)",
						e->subs[s].start, frame_bytes(e, s));
			s = next;
		}
		return vfail(e, -EACCES, -1,
			     "the combined stack of the call chain %s is %u bytes; at most %d",
			     path, total, VISOR_STACK_FRAME);
	}
	return 0;
}
