/* Load-time rewrite of context accesses, the VM's counterpart of the
 * kernel's convert_ctx_accesses() (the tracing-family types, whose context
 * is a plain buffer, only have their accesses checked: ctx_tracing.c):
 * XDP, socket filter and tc programs read
 * 32-bit data, data_end and data_meta fields of struct xdp_md or struct
 * __sk_buff and use them as pointers, so those loads become 64-bit loads
 * from visor's struct visor_xdp_buff / struct visor_skb; each type's
 * access rules (which fields, sizes, which stores) are applied here too.
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

static int refuse(struct visor_vm *vm, size_t pc, const char *what, int off, int size)
{
	uint32_t t = vm->rt->prog_type;
	const char *ctx = t == VISOR_VM_PROG_XDP		  ? "struct xdp_md"
			  : visor_vm_ctx_is_buffer(t) ? "the context"
						      : "struct __sk_buff";
	snprintf(vm->errmsg, sizeof(vm->errmsg), "insn %zu: %s of %s at offset %d, size %d", pc,
		 what, ctx, off, size);
	return -EINVAL;
}

#define SKB_OFF(f) ((int)offsetof(struct visor_sk_buff, f))
#define SKB_END(f) (SKB_OFF(f) + (int)sizeof(((struct visor_sk_buff *)0)->f))

/* One access to struct __sk_buff, with the kernel's rules
 * (bpf_skb_is_valid_access and sk_filter_ / tc_cls_act_is_valid_access):
 * the pointer fields become 64-bit loads of struct visor_skb, the rest
 * keeps its offset. */
static int rewrite_skb(struct visor_vm *vm, size_t pc, struct visor_insn *in)
{
	int size = size_bytes(in->code), off = in->off;
	uint8_t cls = VISOR_CLASS(in->code);
	bool tc = vm->rt->prog_type == VISOR_VM_PROG_SCHED_CLS;
	bool write = cls != VISOR_CLS_LDX;
	const char *type = tc ? "tc" : "socket filter";
	char why[160];

	if (cls == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_ATOMIC)
		return refuse(vm, pc, "atomic access", off, size);
	if (cls == VISOR_CLS_LDX && VISOR_MODE(in->code) != VISOR_MODE_MEM)
		return refuse(vm, pc, "sign-extending load", off, size);
	if (off < 0 || off >= (int)sizeof(struct visor_sk_buff) || off % size)
		return refuse(vm, pc, "invalid or misaligned access", off, size);
	/* Fields the type may not touch at all. */
	if ((off >= SKB_OFF(family) && off < SKB_END(local_port)) ||
	    (off >= SKB_OFF(flow_keys) && off < SKB_END(flow_keys)) ||
	    (off >= SKB_OFF(tstamp_type) && off < SKB_OFF(hwtstamp)) ||
	    (off >= SKB_OFF(sk) && off < SKB_END(sk)))
		goto no_field;
	if (!tc && ((off >= SKB_OFF(tc_classid) && off < SKB_END(data_end)) ||
		    (off >= SKB_OFF(data_meta) && off < SKB_END(data_meta)) ||
		    (off >= SKB_OFF(tstamp) && off < SKB_END(wire_len)) || off >= SKB_OFF(hwtstamp)))
		goto no_field;
	if (off >= SKB_OFF(cb) && off < SKB_END(cb)) /* any size, writable */
		return off + size <= SKB_END(cb) ? 0 : refuse(vm, pc, "access past cb[4]", off, size);
	if (off == SKB_OFF(data) || off == SKB_OFF(data_end) || off == SKB_OFF(data_meta)) {
		if (write || size != 4)
			return refuse(vm, pc, write ? "store into a packet pointer field"
						    : "narrow or wide load of a packet pointer field",
				      off, size);
		in->code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_DW;
		in->off = (int16_t)(off == SKB_OFF(data)	 ? offsetof(struct visor_skb, data)
				    : off == SKB_OFF(data_end) ? offsetof(struct visor_skb, data_end)
							       : offsetof(struct visor_skb, data_meta));
		return 0;
	}
	if (off == SKB_OFF(tstamp) || off == SKB_OFF(hwtstamp)) {
		if (size != 8 || (write && off == SKB_OFF(hwtstamp)))
			return refuse(vm, pc, size != 8 ? "access of a 64-bit field not 8 bytes wide"
							 : "store into a read-only field",
				      off, size);
		return 0;
	}
	/* The remaining u32 fields: narrow loads, full-width stores where the
	 * type may write. */
	if (size == 8)
		return refuse(vm, pc, "8-byte access to a 32-bit field", off, size);
	if (write) {
		bool ok = tc && (off == SKB_OFF(mark) || off == SKB_OFF(tc_index) ||
				 off == SKB_OFF(priority) || off == SKB_OFF(tc_classid) ||
				 off == SKB_OFF(queue_mapping));
		if (!ok || size != 4) {
			snprintf(why, sizeof(why), "store (%s programs may write only %s)", type,
				 tc ? "mark, priority, queue_mapping, tc_index, tc_classid, cb[] and tstamp, 4 bytes wide"
				    : "cb[]");
			return refuse(vm, pc, why, off, size);
		}
	}
	return 0;
no_field:
	snprintf(why, sizeof(why), "%s programs may not access this field: %s", type,
		 write ? "store" : "load");
	return refuse(vm, pc, why, off, size);
}

/* Rewrites one access through a context pointer. */
static int rewrite(struct visor_vm *vm, size_t pc, struct visor_insn *in)
{
	if (visor_vm_ctx_is_buffer(vm->rt->prog_type))
		return visor_vm_check_ctx_buffer(vm, pc, in); /* nothing moves */
	if (vm->rt->prog_type != VISOR_VM_PROG_XDP)
		return rewrite_skb(vm, pc, in);

	int size = size_bytes(in->code), off = in->off;
	uint8_t cls = VISOR_CLASS(in->code);
	if (cls != VISOR_CLS_LDX || VISOR_MODE(in->code) != VISOR_MODE_MEM)
		return refuse(vm, pc, "write or atomic access (the context is read-only)", off, size);
	if (off == 0 || off == 4 || off == 8) {
		if (size != 4)
			return refuse(vm, pc, "narrow or wide load of a pointer field", off, size);
		in->code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_DW;
		in->off = (int16_t)(off * 2);
		return 0;
	}
	/* ingress_ifindex, rx_queue_index, egress_ifindex: narrow loads inside
	 * one field are fine, as in the kernel. */
	if (off >= 12 && off < 24 && (off % 4) + size <= 4) {
		in->off = (int16_t)(off + 12);
		return 0;
	}
	return refuse(vm, pc, "invalid access", off, size);
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
			err = refuse(vm, pc, "access through a pointer that is the context only on some paths, or was moved",
				     in->off, size_bytes(in->code));
	}
out:
	free(st);
	free(seen);
	free(queued);
	free(work);
	return err;
}
