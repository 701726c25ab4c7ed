/* Load-time rewrite of context accesses, the VM's counterpart of the
 * kernel's convert_ctx_accesses() (the tracing-family types, whose context
 * is a plain buffer, only have their accesses checked: ctx_tracing.c):
 * XDP, socket filter and tc programs read
 * 32-bit data, data_end and data_meta fields of struct xdp_md or struct
 * __sk_buff and use them as pointers, so those loads become 64-bit loads
 * from visor's struct visor_xdp_buff / struct visor_skb; each type's
 * access rules (which fields, sizes, which stores: ctx_access.c) are
 * checked here too.
 *
 * Without a verifier, which registers hold the context is found by a small
 * forward dataflow pass: per instruction, each register and each 8-byte
 * stack slot of the current frame is "not ctx", "ctx" or "mixed" (ctx on
 * some paths only, or ctx plus an offset). A load through "ctx" is
 * rewritten; one through "mixed" is refused, as the kernel refuses an
 * instruction that sees different pointer types. A wrong guess cannot break
 * memory safety: every access is still checked at run time, and the
 * context is a read-only region. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

enum { ST_NONE = 0, ST_OTHER = 1, ST_CTX = 2, ST_MIXED = 3 };

#define NSLOTS (VISOR_STACK_FRAME / 8)
#define NVARS (11 + NSLOTS) /* r0..r10, then the stack slots */

struct state {
	uint8_t v[NVARS];
};

static uint8_t join1(uint8_t a, uint8_t b)
{
	if (a == b || b == ST_NONE)
		return a;
	if (a == ST_NONE)
		return b;
	return ST_MIXED;
}

/* Joins in into *dst; true if *dst changed. */
static bool join(struct state *dst, const struct state *in, bool *seen)
{
	bool changed = !*seen;
	*seen = true;
	for (int i = 0; i < NVARS; i++) {
		uint8_t j = join1(dst->v[i], in->v[i]);
		changed |= j != dst->v[i];
		dst->v[i] = j;
	}
	return changed;
}

static int stack_slot(const struct visor_insn *in, uint8_t base)
{
	if (base != 10 || in->off >= 0 || in->off < -VISOR_STACK_FRAME)
		return -1;
	return (in->off + VISOR_STACK_FRAME) / 8;
}

static int size_bytes(uint8_t code)
{
	static const int b[4] = {4, 2, 1, 8};
	return b[VISOR_SIZE(code) >> 3];
}

/* The state after instruction pc (for the fall-through successor). */
static void transfer(const struct visor_insn *in, struct state *s)
{
	uint8_t cls = VISOR_CLASS(in->code);
	switch (cls) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64: {
		bool x = VISOR_SRC(in->code) == VISOR_SRC_X;
		if (VISOR_OP(in->code) == VISOR_ALU_MOV && !in->off) {
			s->v[in->dst] = x && cls == VISOR_CLS_ALU64 ? s->v[in->src] : ST_OTHER;
			return;
		}
		/* Arithmetic on a context pointer makes a modified one. */
		bool tainted = s->v[in->dst] >= ST_CTX || (x && s->v[in->src] >= ST_CTX);
		s->v[in->dst] = tainted ? ST_MIXED : ST_OTHER;
		return;
	}
	case VISOR_CLS_LDX: {
		int slot = stack_slot(in, in->src);
		s->v[in->dst] = slot >= 0 && VISOR_SIZE(in->code) == VISOR_SIZE_DW &&
						!(in->off & 7)
					? s->v[11 + slot]
					: ST_OTHER;
		return;
	}
	case VISOR_CLS_ST:
	case VISOR_CLS_STX: {
		int slot = stack_slot(in, in->dst);
		if (slot < 0)
			return;
		bool spill = cls == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_MEM &&
			     VISOR_SIZE(in->code) == VISOR_SIZE_DW && !(in->off & 7);
		s->v[11 + slot] = spill ? s->v[in->src] : ST_OTHER;
		if (cls == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_ATOMIC) {
			if (in->imm == VISOR_ATOMIC_CMPXCHG)
				s->v[0] = ST_OTHER;
			else if (in->imm & VISOR_ATOMIC_FETCH)
				s->v[in->src] = ST_OTHER;
		}
		/* A narrower store clobbers the slot it lands in. */
		int end = (in->off + size_bytes(in->code) - 1 + VISOR_STACK_FRAME) / 8;
		if (end != slot && end < NSLOTS)
			s->v[11 + end] = ST_OTHER;
		return;
	}
	case VISOR_CLS_LD:
		if (in->code == VISOR_OPCODE_LDDW) {
			s->v[in->dst] = ST_OTHER;
			return;
		}
		for (int r = 0; r <= 5; r++) /* LD_ABS/IND clobber r1-r5, set r0 */
			s->v[r] = ST_OTHER;
		return;
	default: /* JMP, JMP32 */
		if (VISOR_OP(in->code) == VISOR_JMP_CALL)
			for (int r = 0; r <= 5; r++)
				s->v[r] = ST_OTHER;
		return;
	}
}

static int refuse_mixed(struct visor_vm *vm, size_t pc, const struct visor_insn *in)
{
	snprintf(vm->errmsg, sizeof(vm->errmsg),
		 "insn %zu: access at offset %d, size %d through a pointer that is the context (%s) only on some paths, or was moved",
		 pc, in->off, size_bytes(in->code), visor_vm_ctx_name(vm->rt->prog_type));
	return -EINVAL;
}

/* Checks one access through a context pointer (ctx_access.c has the
 * rules) and rewrites it: loads of the packet pointer fields of struct
 * xdp_md and struct __sk_buff become 64-bit loads of struct
 * visor_xdp_buff / struct visor_skb; the other xdp_md fields move 12 bytes
 * up; the other __sk_buff fields keep their offsets. */
static int rewrite(struct visor_vm *vm, size_t pc, struct visor_insn *in)
{
	uint32_t type = vm->rt->prog_type;
	int kind = VISOR_CTX_SCALAR;

	if (visor_vm_ctx_is_buffer(type))
		return visor_vm_check_ctx_buffer(vm, pc, in); /* nothing moves */
	int err = visor_vm_check_ctx_insn(vm, pc, in, &kind);
	if (err)
		return err;
	if (kind != VISOR_CTX_SCALAR) {
		static const size_t xdp_off[] = {
			[VISOR_CTX_PKT_DATA] = offsetof(struct visor_xdp_buff, data),
			[VISOR_CTX_PKT_END] = offsetof(struct visor_xdp_buff, data_end),
			[VISOR_CTX_PKT_META] = offsetof(struct visor_xdp_buff, data_meta),
		};
		static const size_t skb_off[] = {
			[VISOR_CTX_PKT_DATA] = offsetof(struct visor_skb, data),
			[VISOR_CTX_PKT_END] = offsetof(struct visor_skb, data_end),
			[VISOR_CTX_PKT_META] = offsetof(struct visor_skb, data_meta),
		};
		in->code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_DW;
		in->off = (int16_t)(type == VISOR_VM_PROG_XDP ? xdp_off[kind] : skb_off[kind]);
	} else if (type == VISOR_VM_PROG_XDP) {
		in->off = (int16_t)(in->off + 12); /* ingress_ifindex .. egress_ifindex */
	}
	return 0;
}

int visor_vm_rewrite_ctx(struct visor_vm *vm)
{
	size_t n = vm->count;
	struct visor_insn *insns = vm->insns;
	struct state *st = calloc(n, sizeof(*st));
	bool *seen = calloc(n, sizeof(*seen)), *queued = calloc(n, sizeof(*queued));
	size_t *work = malloc(n * sizeof(*work)), nwork = 0;
	int err = 0;

	if (!st || !seen || !queued || !work) {
		err = -ENOMEM;
		snprintf(vm->errmsg, sizeof(vm->errmsg), "out of memory analysing the context accesses");
		goto out;
	}
	vm->rt->max_ctx_offset = 0;
	/* Entry: r1 is the context, the rest (and the frame) is not. */
	for (int i = 0; i < NVARS; i++)
		st[0].v[i] = ST_OTHER;
	st[0].v[1] = ST_CTX;
	seen[0] = queued[0] = true;
	work[nwork++] = 0;

	while (nwork) {
		size_t pc = work[--nwork];
		queued[pc] = false;
		const struct visor_insn *in = &insns[pc];
		struct state out = st[pc];
		size_t succ[2];
		int nsucc = 0;
		uint8_t cls = VISOR_CLASS(in->code), op = VISOR_OP(in->code);
		struct state callee;
		bool local_call = false;

		transfer(in, &out);
		if (in->code == VISOR_OPCODE_LDDW) {
			succ[nsucc++] = pc + 2;
		} else if (cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) {
			if (op == VISOR_JMP_EXIT) {
				/* end of a function */
			} else if (op == VISOR_JMP_CALL) {
				if (in->src == VISOR_CALL_LOCAL) {
					/* The callee gets r1-r5 and a fresh frame. */
					local_call = true;
					for (int i = 0; i < NVARS; i++)
						callee.v[i] = ST_OTHER;
					memcpy(&callee.v[1], &st[pc].v[1], 5);
					succ[nsucc++] = (size_t)((int64_t)pc + in->imm + 1);
				}
				succ[nsucc++] = pc + 1;
			} else if (op == VISOR_JMP_JA) {
				succ[nsucc++] = (size_t)((int64_t)pc + 1 +
							 (cls == VISOR_CLS_JMP32 ? in->imm : in->off));
			} else {
				succ[nsucc++] = pc + 1;
				succ[nsucc++] = (size_t)((int64_t)pc + 1 + in->off);
			}
		} else {
			succ[nsucc++] = pc + 1;
		}
		for (int k = 0; k < nsucc; k++) {
			size_t t = succ[k];
			if (t >= n)
				continue; /* falls off: load reports it */
			const struct state *s = local_call && k == 0 ? &callee : &out;
			if (join(&st[t], s, &seen[t]) && !queued[t]) {
				queued[t] = true;
				work[nwork++] = t;
			}
		}
	}

	for (size_t pc = 0; pc < n && !err; pc++) {
		struct visor_insn *in = &insns[pc];
		uint8_t cls = VISOR_CLASS(in->code);
		if (!seen[pc])
			continue;
		if (in->code == VISOR_OPCODE_LDDW) {
			pc++;
			continue;
		}
		uint8_t base;
		if (cls == VISOR_CLS_LDX)
			base = in->src;
		else if (cls == VISOR_CLS_ST || cls == VISOR_CLS_STX)
			base = in->dst;
		else
			continue;
		uint8_t b = st[pc].v[base];
		if (b == ST_CTX)
			err = rewrite(vm, pc, in);
		else if (b == ST_MIXED)
			err = refuse_mixed(vm, pc, in);
	}
out:
	free(st);
	free(seen);
	free(queued);
	free(work);
	return err;
}
