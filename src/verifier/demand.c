/* Which scalar values are worth telling apart, per instruction: a static,
 * backward "demand" analysis standing in for the kernel's precision
 * tracking. A register or stack slot is demanded at an instruction when its
 * value may flow (through moves, arithmetic, spills and fills) into
 * something whose safety depends on the exact value: a memory access's
 * pointer, a conditional jump (its outcome, and what it proves), a helper's
 * size or pointer argument, or what a function returns. A value that is not
 * demanded is only ever stored, returned by the main program or passed as
 * data, so any number in its place is as safe: when pruning, an explored
 * state's undemanded scalar covers every scalar (counters and sums no
 * longer keep loops from converging). Sound because it over-approximates:
 * every real use is found, and anything unclear (stack reached through a
 * pointer, a call) demands all the stack. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/verifier_internal.h"

static void add_reg(struct vdemand *d, int r)
{
	d->regs |= (uint16_t)(1u << r);
}

static void del_reg(struct vdemand *d, int r)
{
	d->regs &= (uint16_t)~(1u << r);
}

static bool has_reg(const struct vdemand *d, int r)
{
	return (d->regs >> r) & 1;
}

/* The demand bit of the stack byte at fp + o (o < 0): slot (-o - 1) / 8,
 * byte o + 8 * (slot + 1) within it, as struct vslot counts them. */
static void byte_pos(int64_t o, int *word, uint64_t *bit)
{
	int64_t slot = (-o - 1) / 8, j = o + 8 * (slot + 1);
	int64_t k = slot * 8 + j;
	*word = (int)(k / 64);
	*bit = 1ull << (k % 64);
}

/* Does the range [off, off + size) of the stack meet d's bytes? Adds or
 * removes them. */
static bool bytes_any(const struct vdemand *d, int32_t off, uint32_t size)
{
	for (int64_t o = off; o < (int64_t)off + size; o++) {
		if (o >= 0 || o < -VISOR_STACK_FRAME)
			continue;
		int w;
		uint64_t b;
		byte_pos(o, &w, &b);
		if (d->bytes[w] & b)
			return true;
	}
	return false;
}

static void bytes_set(struct vdemand *d, int32_t off, uint32_t size, bool on)
{
	for (int64_t o = off; o < (int64_t)off + size; o++) {
		if (o >= 0 || o < -VISOR_STACK_FRAME)
			continue;
		int w;
		uint64_t b;
		byte_pos(o, &w, &b);
		if (on)
			d->bytes[w] |= b;
		else
			d->bytes[w] &= ~b;
	}
}

static bool any_bytes(const struct vdemand *d)
{
	for (int i = 0; i < VSTACK_SLOTS / 8; i++)
		if (d->bytes[i])
			return true;
	return false;
}

/* in = what is demanded before insn pc, given out (after it). */
static void transfer(const struct venv *e, size_t pc, const struct vdemand *out, struct vdemand *in)
{
	const struct visor_insn *x = &e->insns[pc];
	uint8_t cls = VISOR_CLASS(x->code), op = VISOR_OP(x->code), mode = VISOR_MODE(x->code);
	bool src_x = VISOR_SRC(x->code) == VISOR_SRC_X;
	*in = *out;
	switch (cls) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
		if (op == VISOR_ALU_MOV) {
			bool d = has_reg(out, x->dst);
			del_reg(in, x->dst);
			if (d && src_x)
				add_reg(in, x->src);
		} else if (has_reg(out, x->dst) && src_x && op != VISOR_ALU_NEG && op != VISOR_ALU_END) {
			add_reg(in, x->src);
		}
		return;
	case VISOR_CLS_LDX: {
		bool d = has_reg(out, x->dst);
		del_reg(in, x->dst);
		add_reg(in, x->src); /* the pointer's offset decides the access */
		if (d) {
			if (x->src == 10)
				bytes_set(in, x->off, visor_size_bytes(x->code), true);
			else
				in->all_slots = true;
		}
		return;
	}
	case VISOR_CLS_ST:
	case VISOR_CLS_STX: {
		uint32_t size = visor_size_bytes(x->code);
		add_reg(in, x->dst);
		bool atomic = cls == VISOR_CLS_STX && mode == VISOR_MODE_ATOMIC;
		if (x->dst == 10) {
			bool demanded = bytes_any(out, x->off, size) || out->all_slots;
			if (!atomic)
				bytes_set(in, x->off, size, false); /* overwritten */
			/* Only a whole 8-byte store keeps the value (a spill); smaller
			 * ones leave data bytes whose zero-ness is compared anyway. */
			if (cls == VISOR_CLS_STX && ((demanded && size == 8) || atomic))
				add_reg(in, x->src);
		} else if (cls == VISOR_CLS_STX && size == 8 && (any_bytes(out) || out->all_slots)) {
			add_reg(in, x->src); /* it may land on a demanded slot */
		}
		if (atomic) {
			add_reg(in, x->src);
			if (x->imm == VISOR_ATOMIC_CMPXCHG)
				add_reg(in, 0);
			if (x->dst == 10)
				bytes_set(in, x->off, size, true);
			else
				in->all_slots = true;
		}
		return;
	}
	case VISOR_CLS_LD:
		if (x->code == VISOR_OPCODE_LDDW) {
			del_reg(in, x->dst);
		} else {
			in->regs &= (uint16_t)~0x3fu;
			add_reg(in, 6);
			if (mode == VISOR_MODE_IND)
				add_reg(in, x->src);
		}
		return;
	case VISOR_CLS_JMP:
	case VISOR_CLS_JMP32:
		if (op == VISOR_JMP_JA)
			return;
		if (op == VISOR_JMP_EXIT) {
			/* A function's result may become anything in its caller. */
			if (vsub_of(e, pc) != 0)
				add_reg(in, 0);
			return;
		}
		if (op == VISOR_JMP_CALL) {
			in->regs &= (uint16_t)~0x3fu;
			if (x->src == VISOR_CALL_LOCAL) {
				in->regs |= 0x3e; /* r1-r5 */
				in->all_slots = true;
				return;
			}
			const struct visor_helper_proto *p = visor_verifier_helper((uint32_t)x->imm);
			for (int i = 0; i < 5; i++)
				if (!p || (p->args[i] != VARG_NONE && p->args[i] != VARG_ANYTHING))
					add_reg(in, i + 1);
			return;
		}
		add_reg(in, x->dst);
		if (src_x)
			add_reg(in, x->src);
		return;
	}
}

static bool join(struct vdemand *dst, const struct vdemand *src)
{
	struct vdemand old = *dst;
	dst->regs |= src->regs;
	for (int i = 0; i < VSTACK_SLOTS / 8; i++)
		dst->bytes[i] |= src->bytes[i];
	dst->all_slots |= src->all_slots;
	return memcmp(&old, dst, sizeof(old)) != 0;
}

int vdemand_compute(struct venv *e)
{
	size_t n = e->n;
	struct vdemand *in = calloc(n, sizeof(*in));
	size_t *work = malloc(n * sizeof(*work));
	bool *queued = calloc(n, 1);
	if (!in || !work || !queued) {
		free(in);
		free(work);
		free(queued);
		return vfail(e, -ENOMEM, -1, "out of memory");
	}
	/* Predecessors are found by scanning successors: iterate backwards
	 * over every instruction until nothing changes (round-robin in
	 * reverse order converges fast on structured code). */
	size_t nw = 0;
	for (size_t pc = 0; pc < n; pc++)
		if (!(e->flags[pc] & IF_LDDW_HI)) {
			work[nw++] = pc;
			queued[pc] = true;
		}
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t k = nw; k-- > 0;) {
			size_t pc = work[k];
			const struct visor_insn *x = &e->insns[pc];
			uint8_t cls = VISOR_CLASS(x->code), op = VISOR_OP(x->code);
			struct vdemand out = {0}, next;
			if (x->code == VISOR_OPCODE_LDDW) {
				if (pc + 2 < n)
					out = in[pc + 2];
			} else if ((cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) && op == VISOR_JMP_EXIT) {
				/* nothing after */
			} else if ((cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) && op != VISOR_JMP_CALL) {
				int64_t t = (int64_t)pc + 1 + (op == VISOR_JMP_JA && cls == VISOR_CLS_JMP32 ? x->imm : x->off);
				if (t >= 0 && (size_t)t < n)
					out = in[t];
				if (op != VISOR_JMP_JA && pc + 1 < n)
					join(&out, &in[pc + 1]);
			} else if (pc + 1 < n) {
				out = in[pc + 1];
			}
			transfer(e, pc, &out, &next);
			if (join(&in[pc], &next))
				changed = true;
		}
	}
	free(work);
	free(queued);
	e->demand = in;
	return 0;
}
