/* Memory accesses: loads, stores and atomics through every kind of pointer
 * (the kernel's check_mem_access), and the memory arguments of helpers
 * (check_helper_mem_access). Stack bytes are tracked one by one
 * (uninitialised, data, zero, or part of a spilled register); the context
 * follows its type's field rules (visor_vm_ctx_access); packet accesses
 * must stay inside what a comparison with data_end proved; map values and
 * other memory inside their size, for every value the offset can take. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <visor/maps.h>

#include "verifier/verifier_internal.h"

#define MAX_VAR_OFF (1 << 29) /* larger variable offsets count as unbounded */
#define MAX_PACKET_OFF 0xffff

enum acc { ACC_READ, ACC_READ_SX, ACC_WRITE, ACC_ATOMIC };

static const char *acc_verb(int acc)
{
	return acc == ACC_WRITE ? "writing" : acc == ACC_ATOMIC ? "an atomic operation on" : "reading";
}

struct vslot *vstack_slot(struct vframe *f, int32_t off)
{
	uint32_t i = (uint32_t)(-off - 1) / 8;
	return i < f->nslots ? &f->slots[i] : NULL;
}

static uint8_t *stack_byte(struct vframe *f, int32_t off)
{
	uint32_t i = (uint32_t)(-off - 1) / 8;
	if (i >= f->nslots)
		return NULL;
	return &f->slots[i].kind[off + 8 * (int32_t)(i + 1)];
}

static void kill(struct vreg *r, bool as_scalar, int32_t pc)
{
	if (as_scalar)
		vreg_scalar_unknown(r);
	else
		vreg_not_init(r);
	r->stale = pc + 1;
}

struct kill_args {
	bool (*pred)(const struct vreg *r, const void *arg);
	const void *arg;
	bool as_scalar;
	int32_t pc;
};

static void kill_matching(struct vreg *r, struct vslot *slot, void *arg)
{
	const struct kill_args *k = arg;
	if (!k->pred(r, k->arg))
		return;
	if (slot && !k->as_scalar)
		memset(slot->kind, SB_INVALID, 8);
	kill(r, k->as_scalar, k->pc);
}

void vinvalidate(struct venv *e, bool (*pred)(const struct vreg *r, const void *arg), const void *arg,
		 bool as_scalar)
{
	struct kill_args k = {pred, arg, as_scalar, (int32_t)e->cur->pc};
	vstate_each_reg(e->cur, kill_matching, &k);
}

/* Liveness of stack slots [lo, end) of frame f. */
static void slots_read(struct venv *e, int f, int64_t lo, int64_t end)
{
	for (int64_t i = (-end) / 8; i <= (-lo - 1) / 8; i++)
		if (i >= 0 && i < 64)
			vmark_read(e, f, true, (int)i);
}

static void slot_written(struct venv *e, int f, int64_t off)
{
	e->cur->fr[f]->wslots |= 1ull << ((-off - 1) / 8);
}

/* The innermost callback frame running now, or 0 if none. */
static int callback_frame(const struct vstate *s)
{
	for (int f = s->curframe; f > 0; f--)
		if (s->fr[f]->cb_helper >= 0)
			return f;
	return 0;
}

/* Bounds [lo, hi] of the pointer's offset (fixed + variable + insn off). */
static int ptr_bounds(struct venv *e, int regno, const struct vreg *r, int32_t insn_off,
		      int64_t *lo, int64_t *hi)
{
	if (r->v.smin < -MAX_VAR_OFF || r->v.smax > MAX_VAR_OFF)
		return vfail(e, -EACCES, e->cur->pc,
			     "the variable offset of %s (%s) is not bounded: check it against a limit before the access",
			     vregname(regno), vtype_name(r->type));
	*lo = (int64_t)r->off + insn_off + r->v.smin;
	*hi = (int64_t)r->off + insn_off + r->v.smax;
	return 0;
}

void vmap_info(const struct vreg *r, struct vmapinfo *mi)
{
	mi->name = r->map ? visor_map_name(r->map) : "?";
	mi->lock_off = -1;
	if (r->inner && r->map &&
	    !visor_map_inner_desc(r->map, &mi->type, &mi->key_size, &mi->value_size, &mi->flags))
		return;
	mi->type = r->map ? visor_map_type(r->map) : 0;
	mi->key_size = r->map ? visor_map_key_size(r->map) : 0;
	mi->value_size = r->map ? visor_map_value_size(r->map) : 0;
	mi->flags = r->map ? visor_map_flags(r->map) : 0;
	mi->lock_off = r->map ? visor_map_spin_lock_off(r->map) : -1;
}

/* ---- stack ---------------------------------------------------------------- */

static int stack_range(struct venv *e, struct vframe *f, int64_t lo, int64_t hi,
		       uint32_t size, int acc)
{
	if (lo < -VISOR_STACK_FRAME || hi + size > 0)
		return vfail(e, -EACCES, e->cur->pc,
			     "%s %u bytes at fp%+" PRId64 "%s is outside the %d-byte stack frame (fp-%d .. fp-1)",
			     acc_verb(acc), size, lo, lo != hi ? " (variable offset)" : "",
			     VISOR_STACK_FRAME, VISOR_STACK_FRAME);
	uint32_t depth = (uint32_t)-lo;
	if (vframe_grow(f, (depth + 7) / 8))
		return vfail(e, -ENOMEM, e->cur->pc, "out of memory");
	if (depth > f->depth)
		f->depth = depth;
	if (depth > e->subs[f->subprog].depth)
		e->subs[f->subprog].depth = depth;
	return 0;
}

static int stack_read(struct venv *e, struct vframe *f, int frameno, int64_t lo, int64_t hi,
		      uint32_t size, bool sign, struct vreg *out)
{
	int err;
	if ((err = stack_range(e, f, lo, hi, size, ACC_READ)))
		return err;
	slots_read(e, frameno, lo, hi + size);
	if (lo == hi && (lo & 7) == 0) {
		struct vslot *sl = vstack_slot(f, (int32_t)lo);
		int n = vslot_spill_len(sl);
		/* A fill: the register comes back whole (a narrow scalar spill when
		 * read back at its own width, zero-extended). */
		if (n == (int)size && (size == 8 || (sl->spill.type == T_SCALAR && !sign))) {
			*out = sl->spill;
			return 0;
		}
	}
	bool zero = true;
	for (int64_t o = lo; o < hi + size; o++) {
		struct vslot *sl = vstack_slot(f, (int32_t)o);
		uint8_t k = *stack_byte(f, (int32_t)o);
		if (k == SB_INVALID)
			return vfail(e, -EACCES, e->cur->pc,
				     "reading %u bytes at fp%+" PRId64 ": the byte at fp%+" PRId64
				     " was never written on this path (uninitialised stack)",
				     size, lo, o);
		if (k == SB_SPILL && sl->spill.type != T_SCALAR)
			return vfail(e, -EACCES, e->cur->pc,
				     "reading %u bytes at fp%+" PRId64 " takes part of the %s spilled at fp%d; only an aligned 8-byte load gives a spilled pointer back",
				     size, lo, vtype_name(sl->spill.type), -8 * (int)((-o - 1) / 8 + 1));
		if (k == SB_SPILL && !(vs_is_const(&sl->spill.v) && sl->spill.v.t.value == 0))
			zero = false;
		if (k == SB_MISC)
			zero = false;
	}
	if (zero)
		vreg_scalar_const(out, 0);
	else {
		vreg_scalar_unknown(out);
		vs_loaded(&out->v, size, sign);
	}
	return 0;
}

/* The spill in sl stops being a register: its bytes become data (a
 * scalar's: zero or not) or, for a pointer, unreadable. */
static void dissolve_spill(struct vslot *sl)
{
	bool ptr = sl->spill.type != T_SCALAR;
	bool zero = !ptr && vs_is_const(&sl->spill.v) && sl->spill.v.t.value == 0;
	for (int j = 0; j < 8; j++)
		if (sl->kind[j] == SB_SPILL)
			sl->kind[j] = ptr ? SB_INVALID : zero ? SB_ZERO : SB_MISC;
	vreg_not_init(&sl->spill);
}

/* Does the scalar fit in size bytes, so that reading them back gives it? */
static bool fits(const struct vreg *v, uint32_t size)
{
	return v->type == T_SCALAR && size < 8 && (v->v.umax >> (8 * size)) == 0;
}

/* Marks [lo, hi + size) written with val (NULL: data of unknown value). */
static int stack_write(struct venv *e, struct vframe *f, int frameno, int64_t lo,
		       int64_t hi, uint32_t size, const struct vreg *val, int acc)
{
	int err;
	uint32_t pc = e->cur->pc;
	if ((err = stack_range(e, f, lo, hi, size, acc)))
		return err;
	bool ptr = val && vreg_is_ptr(val);
	if (ptr && val->type == T_STACK && val->frameno > frameno)
		return vfail(e, -EACCES, pc,
			     "storing a pointer to this function's stack into its caller's stack: it would outlive the frame");
	int cb = callback_frame(e->cur);
	if (cb && frameno < cb) {
		/* A callback's caller continues from its own (widened) stack:
		 * only data may change there. */
		if (ptr)
			return vfail(e, -EACCES, pc,
				     "a callback may not store a pointer into its caller's stack");
		for (int64_t o = lo; o < hi + size; o++) {
			struct vslot *sl = vstack_slot(f, (int32_t)o);
			if (*stack_byte(f, (int32_t)o) == SB_SPILL && sl->spill.type != T_SCALAR)
				return vfail(e, -EACCES, pc,
					     "a callback may not overwrite the %s its caller keeps at fp%" PRId64,
					     vtype_name(sl->spill.type), o);
		}
	}
	if (ptr && (lo != hi || size != 8 || (lo & 7)))
		return vfail(e, -EACCES, pc,
			     "storing a pointer (%s) with a %u-byte store at fp%+" PRId64 "%s: pointers are spilled whole, 8 bytes at an aligned slot",
			     vtype_name(val->type), size, lo, lo != hi ? " (variable offset)" : "");
	if (lo != hi || size != 8 || (lo & 7))
		slots_read(e, frameno, lo, hi + size); /* the bytes kept still matter */
	if (lo != hi) {
		/* Which bytes a variable-offset store hits is unknown: none is
		 * surely written, and none may be trusted as a pointer after. */
		for (int64_t o = lo; o < hi + size; o++) {
			struct vslot *sl = vstack_slot(f, (int32_t)o);
			uint8_t *k = stack_byte(f, (int32_t)o);
			if (*k == SB_SPILL)
				dissolve_spill(sl);
			if (*k == SB_ZERO)
				*k = SB_MISC;
		}
		return 0;
	}
	struct vslot *sl = vstack_slot(f, (int32_t)lo);
	if (size == 8 && (lo & 7) == 0 && val && acc == ACC_WRITE) {
		memset(sl->kind, SB_SPILL, 8);
		sl->spill = *val;
		slot_written(e, frameno, lo);
		return 0;
	}
	if (size == 8 && (lo & 7) == 0)
		slot_written(e, frameno, lo);
	/* Part of a spilled register is overwritten: what is left of a pointer
	 * must not be read as data, a scalar's bytes may. */
	for (int64_t o = lo; o < lo + size; o++)
		if (*stack_byte(f, (int32_t)o) == SB_SPILL)
			dissolve_spill(vstack_slot(f, (int32_t)o));
	if (val && acc == ACC_WRITE && (lo & 7) == 0 && fits(val, size)) {
		/* A narrow spill of a scalar that fits: read back at this width,
		 * it is the register again (the kernel does the same). */
		memset(sl->kind, SB_SPILL, size);
		sl->spill = *val;
		return 0;
	}
	bool zero = val && val->type == T_SCALAR && vs_is_const(&val->v) && val->v.t.value == 0 &&
		    acc == ACC_WRITE;
	for (int64_t o = lo; o < lo + size; o++)
		*stack_byte(f, (int32_t)o) = zero ? SB_ZERO : SB_MISC;
	return 0;
}

/* ---- packet, map values and other memory ----------------------------------------- */

static bool pkt_writable(uint32_t type)
{
	return type == VISOR_VM_PROG_XDP || type == VISOR_VM_PROG_SCHED_CLS;
}

static int pkt_access(struct venv *e, int regno, const struct vreg *r, int32_t insn_off,
		      uint64_t size, int acc)
{
	uint32_t pc = e->cur->pc;
	const char *what = r->type == T_PKT_META ? "metadata" : "packet";
	if (acc == ACC_ATOMIC)
		return vfail(e, -EACCES, pc, "atomic operations on %s memory are not allowed", what);
	if (acc == ACC_WRITE && !pkt_writable(e->type))
		return vfail(e, -EACCES, pc, "this program type may not write to the packet");
	if (r->v.smin < 0)
		return vfail(e, -EACCES, pc,
			     "the variable offset of %s may be negative (%" PRId64 "): use an unsigned index or check it is >= 0",
			     vregname(regno), r->v.smin);
	int64_t off = (int64_t)r->off + insn_off;
	if (r->v.umax > MAX_PACKET_OFF || off + (int64_t)r->v.umax + (int64_t)size > MAX_PACKET_OFF)
		return vfail(e, -EACCES, pc,
			     "the %s offset of %s may reach %" PRIu64 ", beyond the largest packet (%d bytes): bound it first",
			     what, vregname(regno), r->v.umax + (uint64_t)off, MAX_PACKET_OFF);
	if (off < 0 || off + (int64_t)size > (int64_t)r->range) {
		bool var = !(vs_is_const(&r->v) && r->v.t.value == 0);
		return vfail(e, -EACCES, pc,
			     "%s %" PRIu64 " bytes at %s offset %" PRId64 "%s, but only %u bytes are proven; compare against %s first",
			     acc_verb(acc), size, what, off, var ? " past a variable offset" : "",
			     r->range, r->type == T_PKT_META ? "data" : "data_end");
	}
	return 0;
}

static int region_access(struct venv *e, int regno, const struct vreg *r, int32_t insn_off,
			 uint64_t size, int acc)
{
	uint32_t pc = e->cur->pc;
	char what[96];
	uint32_t limit;
	struct vmapinfo mi;
	if (r->type == T_MAP_VALUE) {
		vmap_info(r, &mi);
		snprintf(what, sizeof(what), "the value of map '%s'", mi.name);
		limit = mi.value_size;
	} else {
		snprintf(what, sizeof(what), "the %s", r->ref ? "ring buffer record" : "memory");
		limit = r->mem_size;
	}
	if (r->maybe_null)
		return vfail(e, -EACCES, pc,
			     "%s may be NULL here: check the result of %s at insn %d against 0 before using it",
			     vregname(regno),
			     r->type == T_MAP_VALUE ? "bpf_map_lookup_elem" : "bpf_ringbuf_reserve", r->func);
	if (acc != ACC_READ && acc != ACC_READ_SX) {
		if (r->type == T_MAP_VALUE && (mi.flags & VISOR_F_RDONLY_PROG))
			return vfail(e, -EACCES, pc,
				     "map '%s' is read-only for programs (const data): it cannot be written",
				     mi.name);
		if (r->type == T_MEM && r->rdonly)
			return vfail(e, -EACCES, pc, "%s is read-only", what);
	}
	int64_t lo = 0, hi = 0;
	int err;
	if ((err = ptr_bounds(e, regno, r, insn_off, &lo, &hi)))
		return err;
	if (lo < 0 || hi + (int64_t)size > (int64_t)limit) {
		if (lo == hi)
			return vfail(e, -EACCES, pc,
				     "%s %" PRIu64 " bytes at offset %" PRId64 " is outside %s (%u bytes)",
				     acc_verb(acc), size, lo, what, limit);
		return vfail(e, -EACCES, pc,
			     "%s %" PRIu64 " bytes at offset %" PRId64 "..%" PRId64 " (a variable offset) may fall outside %s (%u bytes): bound the offset first",
			     acc_verb(acc), size, lo, hi, what, limit);
	}
	if (r->type == T_MAP_VALUE && mi.lock_off >= 0 && lo < mi.lock_off + 4 &&
	    hi + (int64_t)size > mi.lock_off)
		return vfail(e, -EACCES, pc,
			     "the bpf_spin_lock in the value of map '%s' (offset %d) may be used only through bpf_spin_lock / bpf_spin_unlock",
			     mi.name, mi.lock_off);
	return 0;
}

/* ---- one instruction ---------------------------------------------------------------- */

static int ctx_access(struct venv *e, int regno, const struct vreg *r, const struct visor_insn *in,
		      uint32_t size, int acc, struct vreg *out)
{
	uint32_t pc = e->cur->pc;
	if (r->off || !vs_is_const(&r->v) || r->v.t.value)
		return vfail(e, -EACCES, pc,
			     "%s is the context moved by %d bytes: access its fields with the offset in the load or store itself (the context pointer must not be modified)",
			     vregname(regno), r->off);
	static const int kinds[] = {VISOR_CTX_READ, VISOR_CTX_READ_SX, VISOR_CTX_WRITE, VISOR_CTX_ATOMIC};
	int kind = VISOR_CTX_SCALAR;
	char why[160] = "";
	if (visor_vm_ctx_access(e->type, in->off, (int)size, kinds[acc], &kind, why, sizeof(why)))
		return vfail(e, -EACCES, pc, "%s", why[0] ? why : "invalid context access");
	if (!out)
		return 0;
	memset(out, 0, sizeof(*out));
	vs_const(&out->v, 0);
	switch (kind) {
	case VISOR_CTX_PKT_DATA:
		out->type = T_PKT;
		break;
	case VISOR_CTX_PKT_END:
		out->type = T_PKT_END;
		break;
	case VISOR_CTX_PKT_META:
		out->type = T_PKT_META;
		break;
	default:
		vreg_scalar_unknown(out);
		vs_loaded(&out->v, size, acc == ACC_READ_SX);
	}
	return 0;
}

static int deref_fail(struct venv *e, int regno, const struct vreg *r)
{
	char d[120];
	vreg_describe(r, d, sizeof(d));
	if (r->type == T_SCALAR && r->stale) {
		const char *h = visor_vm_helper_linux_name((uint32_t)e->insns[r->stale - 1].imm);
		return vfail(e, -EACCES, e->cur->pc,
			     "%s held a packet pointer, but %s at insn %d may have moved or resized the packet: load data and data_end from the context again",
			     vregname(regno), h ? h : "the helper", r->stale - 1);
	}
	if (r->type == T_SCALAR)
		return vfail(e, -EACCES, e->cur->pc,
			     "%s is a number (%s), not a pointer: it cannot be dereferenced", vregname(regno), d);
	return vfail(e, -EACCES, e->cur->pc, "%s (%s) cannot be dereferenced", vregname(regno),
		     r->type == T_PKT_END ? "the packet end, data_end"
		     : r->type == T_MAP_PTR ? "a map pointer: use bpf_map_lookup_elem"
					    : d);
}

/* Loads, stores and atomics. */
int vcheck_mem_insn(struct venv *e, const struct visor_insn *in, uint32_t pc)
{
	uint8_t cls = VISOR_CLASS(in->code), mode = VISOR_MODE(in->code);
	uint32_t size = visor_size_bytes(in->code);
	int base = cls == VISOR_CLS_LDX ? in->src : in->dst;
	int acc, err;
	struct vreg val, *valp = NULL;

	if (cls == VISOR_CLS_LDX)
		acc = mode == VISOR_MODE_MEMSX ? ACC_READ_SX : ACC_READ;
	else if (cls == VISOR_CLS_STX && mode == VISOR_MODE_ATOMIC)
		acc = ACC_ATOMIC;
	else
		acc = ACC_WRITE;
	if ((err = vcheck_read(e, base)))
		return err;
	if (cls == VISOR_CLS_STX) {
		if ((err = vcheck_read(e, in->src)))
			return err;
		val = *vreg(e, in->src);
		valp = &val;
	} else if (cls == VISOR_CLS_ST) {
		vreg_scalar_const(&val, (uint64_t)(int64_t)in->imm);
		valp = &val;
	}
	if (acc == ACC_ATOMIC) {
		if (size != 4 && size != 8)
			return vfail(e, -EINVAL, pc, "atomic operations are 4 or 8 bytes wide");
		if (vreg_is_ptr(&val))
			return vfail(e, -EACCES, pc,
				     "the operand of an atomic operation must be a number, not a pointer (%s)",
				     vtype_name(val.type));
		if (in->imm == VISOR_ATOMIC_CMPXCHG) {
			if ((err = vcheck_read(e, 0)))
				return err;
			if (vreg_is_ptr(vreg(e, 0)))
				return vfail(e, -EACCES, pc, "r0, cmpxchg's expected value, holds a pointer");
		}
	} else if (valp && vreg_is_ptr(valp) && vreg(e, base)->type != T_STACK) {
		const struct vreg *b = vreg(e, base);
		return vfail(e, -EACCES, pc,
			     "storing a pointer (%s) into %s is not allowed: it would leak an address",
			     vtype_name(valp->type),
			     b->type == T_MAP_VALUE ? "a map value"
			     : b->type == T_CTX   ? "the context"
			     : b->type == T_PKT   ? "the packet"
						  : "this memory");
	}

	struct vreg *r = vreg(e, base);
	struct vreg out;
	bool loaded = false;
	if (acc == ACC_ATOMIC && (r->type == T_MAP_VALUE || r->type == T_MEM) &&
	    ((r->v.t.mask & (size - 1)) ||
	     ((r->v.t.value + (uint64_t)((int64_t)r->off + in->off)) & (size - 1))))
		return vfail(e, -EACCES, pc,
			     "misaligned atomic operation: %u bytes at offset %d%s of %s (atomics must be aligned to their size)",
			     size, r->off + in->off, vs_is_const(&r->v) ? "" : " plus a variable part",
			     vtype_name(r->type));
	switch (r->type) {
	case T_STACK: {
		struct vframe *f = e->cur->fr[r->frameno];
		int64_t lo = 0, hi = 0;
		if ((err = ptr_bounds(e, base, r, in->off, &lo, &hi)))
			return err;
		if (lo == hi ? (lo % (int64_t)size) != 0
			     : ((r->v.t.mask & (size - 1)) || ((r->v.t.value + (uint64_t)(r->off + in->off)) & (size - 1))))
			return vfail(e, -EACCES, pc,
				     "misaligned stack access: %u bytes at fp%+" PRId64 " (stack accesses must be aligned to their size)",
				     size, lo);
		if (acc == ACC_READ || acc == ACC_READ_SX) {
			if ((err = stack_read(e, f, r->frameno, lo, hi, size, acc == ACC_READ_SX, &out)))
				return err;
			loaded = true;
		} else if (acc == ACC_ATOMIC) {
			struct vreg tmp;
			if ((err = stack_read(e, f, r->frameno, lo, hi, size, false, &tmp)))
				return err;
			if (vreg_is_ptr(&tmp))
				return vfail(e, -EACCES, pc, "atomic operation on a spilled pointer at fp%+" PRId64, lo);
			if ((err = stack_write(e, f, r->frameno, lo, hi, size, NULL, acc)))
				return err;
		} else {
			if ((err = stack_write(e, f, r->frameno, lo, hi, size, valp, acc)))
				return err;
		}
		break;
	}
	case T_CTX:
		if ((err = ctx_access(e, base, r, in, size, acc, &out)))
			return err;
		loaded = acc == ACC_READ || acc == ACC_READ_SX;
		break;
	case T_PKT:
	case T_PKT_META:
		if ((err = pkt_access(e, base, r, in->off, size, acc)))
			return err;
		break;
	case T_MAP_VALUE:
	case T_MEM:
		if ((err = region_access(e, base, r, in->off, size, acc)))
			return err;
		break;
	default:
		return deref_fail(e, base, r);
	}
	if (acc == ACC_READ || acc == ACC_READ_SX) {
		if (!loaded) {
			vreg_scalar_unknown(&out);
			vs_loaded(&out.v, size, acc == ACC_READ_SX);
		}
		*vreg(e, in->dst) = out;
	} else if (acc == ACC_ATOMIC && (in->imm & VISOR_ATOMIC_FETCH)) {
		int dst = in->imm == VISOR_ATOMIC_CMPXCHG ? 0 : in->src;
		vreg_scalar_unknown(vreg(e, dst));
		vs_loaded(&vreg(e, dst)->v, size, false);
	}
	return 0;
}

/* ---- helper arguments ------------------------------------------------------------------ */

int vcheck_helper_mem(struct venv *e, int regno, uint64_t min_size, uint64_t max_size,
		      bool write, bool ptr_ok, const char *what)
{
	uint32_t pc = e->cur->pc;
	struct vreg *r = vreg(e, regno);
	int acc = write ? ACC_WRITE : ACC_READ;
	int err;
	if (max_size > MAX_VAR_OFF)
		return vfail(e, -EACCES, pc, "the size of %s may be %" PRIu64 " bytes: bound it first",
			     what, max_size);
	switch (r->type) {
	case T_STACK: {
		struct vframe *f = e->cur->fr[r->frameno];
		int64_t lo = 0, hi = 0;
		if ((err = ptr_bounds(e, regno, r, 0, &lo, &hi)))
			return err;
		if (!max_size)
			return 0;
		if ((err = stack_range(e, f, lo, hi, (uint32_t)max_size, acc)))
			return err;
		int cb = callback_frame(e->cur);
		slots_read(e, r->frameno, lo, hi + (int64_t)max_size);
		for (int64_t o = lo; o < hi + (int64_t)max_size; o++) {
			struct vslot *sl = vstack_slot(f, (int32_t)o);
			uint8_t k = *stack_byte(f, (int32_t)o);
			if (k == SB_SPILL && sl->spill.type != T_SCALAR && (write || !ptr_ok))
				return vfail(e, -EACCES, pc,
					     "%s (fp%+" PRId64 ", %" PRIu64 " bytes) covers the %s spilled at fp%d: a helper may not %s a pointer",
					     what, lo, max_size, vtype_name(sl->spill.type),
					     -8 * (int)((-o - 1) / 8 + 1), write ? "overwrite" : "read");
			if (!write && k == SB_INVALID)
				return vfail(e, -EACCES, pc,
					     "%s (fp%+" PRId64 ", %" PRIu64 " bytes) is not initialised: the byte at fp%+" PRId64 " was never written on this path",
					     what, lo, max_size, o);
			if (write && cb && r->frameno < cb && k == SB_SPILL && sl->spill.type != T_SCALAR)
				return vfail(e, -EACCES, pc, "a callback may not overwrite its caller's pointers");
		}
		if (write) {
			/* Bytes surely written become data; a variable size or offset
			 * writes only the bytes every case covers. */
			for (int64_t o = lo; o < hi + (int64_t)max_size; o++) {
				struct vslot *sl = vstack_slot(f, (int32_t)o);
				bool sure = lo == hi && o < lo + (int64_t)min_size;
				if (*stack_byte(f, (int32_t)o) == SB_SPILL)
					dissolve_spill(sl);
				uint8_t *k = stack_byte(f, (int32_t)o);
				if (sure || *k == SB_ZERO)
					*k = SB_MISC;
			}
		}
		return 0;
	}
	case T_PKT:
	case T_PKT_META:
		return max_size ? pkt_access(e, regno, r, 0, max_size, acc) : 0;
	case T_MAP_VALUE:
	case T_MEM:
		if (!max_size && !r->maybe_null)
			return 0;
		return region_access(e, regno, r, 0, max_size, acc);
	default: {
		char d[120];
		vreg_describe(r, d, sizeof(d));
		return vfail(e, -EACCES, pc,
			     "%s must point to memory (stack, map value, packet), but %s is %s", what,
			     vregname(regno), d);
	}
	}
}
