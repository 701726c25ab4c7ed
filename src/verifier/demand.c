/* Which scalar values are worth telling apart, per instruction: a static,
 * backward "demand" analysis standing in for the kernel's precision
 * tracking. A register or stack slot is demanded at an instruction when its
 * value may flow (through moves, arithmetic, spills and fills) into
 * something whose safety depends on the exact value: a memory access's
 * pointer, a conditional jump (its outcome, and what it proves), a
 * helper's size or pointer argument, or what a function returns. A value that is not
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

/* The demand bits of the stack bytes [off, off + size) (those inside the
 * frame), as a mask per word of d->bytes. */
static void bytes_mask(int32_t off, uint32_t size, uint64_t mask[VSTACK_SLOTS / 8])
{
	memset(mask, 0, VSTACK_SLOTS / 8 * sizeof(*mask));
	for (int64_t o = off; o < (int64_t)off + size; o++) {
		if (o >= 0 || o < -VISOR_STACK_FRAME)
			continue;
		int w;
		uint64_t b;
		byte_pos(o, &w, &b);
		mask[w] |= b;
	}
}

/* Does the range meet d's bytes? */
static bool bytes_any(const struct vdemand *d, int32_t off, uint32_t size)
{
	uint64_t m[VSTACK_SLOTS / 8];
	bytes_mask(off, size, m);
	for (int i = 0; i < VSTACK_SLOTS / 8; i++)
		if (d->bytes[i] & m[i])
			return true;
	return false;
}

/* Adds the range to d's bytes (on), or removes it. */
static void bytes_set(struct vdemand *d, int32_t off, uint32_t size, bool on)
{
	uint64_t m[VSTACK_SLOTS / 8];
	bytes_mask(off, size, m);
	for (int i = 0; i < VSTACK_SLOTS / 8; i++)
		d->bytes[i] = on ? d->bytes[i] | m[i] : d->bytes[i] & ~m[i];
}

static bool any_bytes(const struct vdemand *d)
{
	for (int i = 0; i < VSTACK_SLOTS / 8; i++)
		if (d->bytes[i])
			return true;
	return false;
}

/* in = what is demanded before insn pc, given out (after it); stack: the
 * registers that may point into the stack there (maystack.c-like forward
 * facts, below). */
static void transfer(const struct venv *e, size_t pc, const struct vdemand *out, struct vdemand *in,
		     uint16_t stack)
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
			else if ((stack >> x->src) & 1)
				in->all_slots = true; /* some stack bytes, which is unknown */
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
			/* A store keeps the value only as a spill: 8 bytes, or fewer at
			 * the start of a slot (access.c); other stores leave data bytes
			 * whose zero-ness is compared anyway. */
			bool spill = size == 8 || (x->off & 7) == 0;
			if (cls == VISOR_CLS_STX && ((demanded && spill) || atomic))
				add_reg(in, x->src);
		} else if (cls == VISOR_CLS_STX && size == 8 && ((stack >> x->dst) & 1) &&
			   (any_bytes(out) || out->all_slots)) {
			add_reg(in, x->src); /* it may land on a demanded slot */
		}
		if (atomic) {
			add_reg(in, x->src);
			if (x->imm == VISOR_ATOMIC_CMPXCHG)
				add_reg(in, 0);
			if (x->dst == 10)
				bytes_set(in, x->off, size, true);
			else if ((stack >> x->dst) & 1)
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

/* Which registers may hold a pointer into the stack before each
 * instruction: a forward may-analysis (r10, copies of it and values derived
 * from them; what is filled from the stack if stack pointers were ever
 * spilled; a function's arguments and what a call returns). A load through
 * any other register cannot read the stack, so it demands no stack byte. */
static uint16_t *may_stack(const struct venv *e)
{
	size_t n = e->n;
	uint16_t *st = calloc(n, sizeof(*st));
	if (!st)
		return NULL;
	bool spilled = false, changed = true;
	for (size_t s = 0; s < e->nsubs; s++)
		st[e->subs[s].start] = s ? 0x43e : 0x400; /* r10; a function's r1-r5 */
	while (changed) {
		changed = false;
		for (size_t pc = 0; pc < n; pc++) {
			if (e->flags[pc] & IF_LDDW_HI)
				continue;
			const struct visor_insn *x = &e->insns[pc];
			uint8_t cls = VISOR_CLASS(x->code), op = VISOR_OP(x->code);
			uint16_t v = st[pc] | 0x400, bit = (uint16_t)(1u << x->dst);
			size_t succ[2];
			int ns = 0;
			switch (cls) {
			case VISOR_CLS_ALU64:
				if (op == VISOR_ALU_MOV && VISOR_SRC(x->code) == VISOR_SRC_X && !x->off)
					v = (v & ~bit) | (((v >> x->src) & 1) ? bit : 0);
				else if ((op == VISOR_ALU_ADD || op == VISOR_ALU_SUB) && !((v >> x->dst) & 1) &&
					 VISOR_SRC(x->code) == VISOR_SRC_X && op == VISOR_ALU_ADD)
					v = (v & ~bit) | (((v >> x->src) & 1) ? bit : 0);
				else if (op != VISOR_ALU_ADD && op != VISOR_ALU_SUB)
					v &= (uint16_t)~bit;
				break;
			case VISOR_CLS_ALU:
				v &= (uint16_t)~bit;
				break;
			case VISOR_CLS_LDX:
				v &= (uint16_t)~bit;
				if (spilled && VISOR_SIZE(x->code) == VISOR_SIZE_DW)
					v |= bit;
				break;
			case VISOR_CLS_STX:
				if (VISOR_SIZE(x->code) == VISOR_SIZE_DW && ((v >> x->src) & 1) && !spilled) {
					spilled = true;
					changed = true;
				}
				if (VISOR_MODE(x->code) == VISOR_MODE_ATOMIC && (x->imm & VISOR_ATOMIC_FETCH))
					v &= (uint16_t)~(1u << (x->imm == VISOR_ATOMIC_CMPXCHG ? 0 : x->src));
				break;
			case VISOR_CLS_LD:
				v &= x->code == VISOR_OPCODE_LDDW ? (uint16_t)~bit : (uint16_t)~0x3fu;
				break;
			case VISOR_CLS_JMP:
			case VISOR_CLS_JMP32:
				if (op == VISOR_JMP_CALL)
					v = (v & (uint16_t)~0x3fu) | (x->src == VISOR_CALL_LOCAL ? 1 : 0);
				break;
			}
			if (x->code == VISOR_OPCODE_LDDW)
				succ[ns++] = pc + 2;
			else if ((cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) && op == VISOR_JMP_EXIT)
				;
			else if ((cls == VISOR_CLS_JMP || cls == VISOR_CLS_JMP32) && op != VISOR_JMP_CALL) {
				succ[ns++] = (size_t)((int64_t)pc + 1 +
						      (op == VISOR_JMP_JA && cls == VISOR_CLS_JMP32 ? x->imm : x->off));
				if (op != VISOR_JMP_JA)
					succ[ns++] = pc + 1;
			} else
				succ[ns++] = pc + 1;
			for (int i = 0; i < ns; i++) {
				if (succ[i] < n && (st[succ[i]] | v) != st[succ[i]]) {
					st[succ[i]] |= v;
					changed = true;
				}
			}
		}
	}
	return st;
}

int vdemand_compute(struct venv *e)
{
	size_t n = e->n;
	struct vdemand *in = calloc(n, sizeof(*in));
	size_t *work = malloc(n * sizeof(*work));
	bool *queued = calloc(n, 1);
	uint16_t *stack = may_stack(e);
	if (!in || !work || !queued || !stack) {
		free(in);
		free(work);
		free(queued);
		free(stack);
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
			transfer(e, pc, &out, &next, stack[pc]);
			if (join(&in[pc], &next))
				changed = true;
		}
	}
	free(work);
	free(queued);
	free(stack);
	e->demand = in;
	return 0;
}
