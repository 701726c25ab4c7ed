/* Calls and exits: helper calls checked against their prototypes
 * (helper_protos.c) and the program type's allowlist, local calls into a
 * new frame, callbacks of bpf_loop / bpf_for_each_map_elem, references
 * (ring buffer records) that must be released on every path, the
 * bpf_spin_lock discipline, and what may be returned. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "verifier/verifier_internal.h"
#include "vm/format.h"

#define HELPER_TAIL_CALL 12
#define HELPER_FOR_EACH_MAP_ELEM 164
#define HELPER_LOOP 181
#define HELPER_SPIN_LOCK 93
#define HELPER_SPIN_UNLOCK 94
#define HELPER_RINGBUF_SUBMIT 132
#define HELPER_RINGBUF_DISCARD 133
#define HELPER_SNPRINTF 165

static const char *helper_name(uint32_t id)
{
	const char *n = visor_vm_helper_linux_name(id);
	return n ? n : "an unknown helper";
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case VISOR_VM_PROG_SOCKET_FILTER: return "socket filter";
	case VISOR_VM_PROG_SCHED_CLS: return "tc";
	case VISOR_VM_PROG_XDP: return "XDP";
	case VISOR_VM_PROG_KPROBE: return "kprobe";
	case VISOR_VM_PROG_TRACEPOINT: return "tracepoint";
	case VISOR_VM_PROG_RAW_TRACEPOINT: return "raw tracepoint";
	case VISOR_VM_PROG_TRACING: return "tracing";
	case VISOR_VM_PROG_SYSCALL: return "syscall";
	}
	return "untyped";
}

/* Which helpers work on which maps (the kernel's check_map_func_compatibility). */
static bool map_func_ok(uint32_t map_type, uint32_t id, const char **why)
{
	static const struct {
		uint32_t map;
		uint32_t ids[6];
	} only[] = {
		{VISOR_MAP_TYPE_PROG_ARRAY, {HELPER_TAIL_CALL}},
		{VISOR_MAP_TYPE_PERF_EVENT_ARRAY, {25, 22, 55}},
		{VISOR_MAP_TYPE_RINGBUF, {130, 131, 134}},
		{VISOR_MAP_TYPE_DEVMAP, {51, 1}},
		{VISOR_MAP_TYPE_DEVMAP_HASH, {51, 1}},
		{VISOR_MAP_TYPE_ARRAY_OF_MAPS, {1}},
		{VISOR_MAP_TYPE_HASH_OF_MAPS, {1}},
		{VISOR_MAP_TYPE_QUEUE, {87, 88, 89}},
		{VISOR_MAP_TYPE_STACK, {87, 88, 89}},
	};
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (only[i].map != map_type)
			continue;
		for (int j = 0; j < 6 && only[i].ids[j]; j++)
			if (only[i].ids[j] == id)
				return true;
		*why = "this helper does not work on this kind of map";
		return false;
	}
	/* Helpers that need a particular kind of map. */
	switch (id) {
	case HELPER_TAIL_CALL:
		*why = "bpf_tail_call needs a prog array";
		return false;
	case 25: case 22: case 55:
		*why = "this helper needs a perf event array";
		return false;
	case 130: case 131: case 134:
		*why = "this helper needs a ring buffer map";
		return false;
	case 51:
		*why = "bpf_redirect_map needs a devmap";
		return false;
	case 87: case 88: case 89:
		*why = "push / pop / peek need a queue or stack map";
		return false;
	case HELPER_FOR_EACH_MAP_ELEM:
		if (map_type != VISOR_MAP_TYPE_HASH && map_type != VISOR_MAP_TYPE_ARRAY &&
		    map_type != VISOR_MAP_TYPE_PERCPU_HASH && map_type != VISOR_MAP_TYPE_PERCPU_ARRAY &&
		    map_type != VISOR_MAP_TYPE_LRU_HASH && map_type != VISOR_MAP_TYPE_LRU_PERCPU_HASH) {
			*why = "bpf_for_each_map_elem iterates hash and array maps only";
			return false;
		}
	}
	return true;
}

static bool pred_ref(const struct vreg *r, const void *arg)
{
	return r->ref && r->ref == *(const uint32_t *)arg;
}

static bool pred_pkt(const struct vreg *r, const void *arg)
{
	(void)arg;
	return r->type == T_PKT || r->type == T_PKT_END || r->type == T_PKT_META;
}

static bool in_callback(const struct vstate *s)
{
	for (int f = s->curframe; f > 0; f--)
		if (s->fr[f]->cb_helper >= 0)
			return true;
	return false;
}

/* Reads a size argument: a bounded scalar. */
static int size_arg(struct venv *e, int regno, bool zero_ok, const char *hname, uint64_t *min,
		    uint64_t *max)
{
	int err;
	if ((err = vcheck_read(e, regno)))
		return err;
	struct vreg *r = vreg(e, regno);
	uint32_t pc = e->cur->pc;
	if (r->type != T_SCALAR)
		return vfail(e, -EACCES, pc, "%s, the size argument of %s, must be a number, not %s",
			     vregname(regno), hname, vtype_name(r->type));
	if (r->v.smin < 0 && r->v.umax > (1u << 29))
		return vfail(e, -EACCES, pc,
			     "%s, the size argument of %s, may be negative: bound it (if (size > N) ...) first",
			     vregname(regno), hname);
	if (r->v.umax > (1u << 29))
		return vfail(e, -EACCES, pc,
			     "%s, the size argument of %s, is not bounded (up to %" PRIu64 "): bound it (size &= N or if (size > N)) first",
			     vregname(regno), hname, r->v.umax);
	if (!zero_ok && r->v.umin == 0)
		return vfail(e, -EACCES, pc, "%s, the size argument of %s, may be 0: it must be at least 1",
			     vregname(regno), hname);
	*min = r->v.umin;
	*max = r->v.umax;
	return 0;
}

static bool is_const_zero(const struct vreg *r)
{
	return r->type == T_SCALAR && vs_is_const(&r->v) && r->v.t.value == 0;
}

static bool unmoved(const struct vreg *r)
{
	return r->off == 0 && vs_is_const(&r->v) && r->v.t.value == 0;
}

/* Frames 0..cur as a callback's caller will continue with them: data on
 * the stack may have been changed by the callback, any number of times. */
static void widen_frame(struct vframe *f)
{
	for (int i = 0; i < f->nslots; i++) {
		struct vslot *sl = &f->slots[i];
		if (sl->kind[0] == SB_SPILL) {
			if (sl->spill.type == T_SCALAR) {
				vreg_scalar_unknown(&sl->spill);
			}
			continue;
		}
		for (int j = 0; j < 8; j++)
			if (sl->kind[j] == SB_ZERO)
				sl->kind[j] = SB_MISC;
	}
}

static int start_callback(struct venv *e, uint32_t id, const struct vreg *func, struct visor_map *map,
			  bool map_inner, const struct vreg *cb_ctx, uint32_t *next)
{
	struct vstate *s = e->cur;
	uint32_t pc = s->pc;
	size_t sub = vsub_of(e, (size_t)func->func);
	if (!e->subs[sub].callback || e->subs[sub].start != (uint32_t)func->func)
		return vfail(e, -EACCES, pc, "the callback of %s is not a function", helper_name(id));
	if (s->curframe + 1 >= VISOR_MAX_CALL_DEPTH)
		return vfail(e, -EACCES, pc, "the callback would be frame %d; at most %d frames may be active",
			     s->curframe + 2, VISOR_MAX_CALL_DEPTH);
	struct vframe *nf = vframe_new();
	if (!nf)
		return vfail(e, -ENOMEM, pc, "out of memory");
	for (int f = 0; f <= s->curframe; f++) {
		/* The frames below come back from these copies: all of them counts. */
		for (int r = 0; r < 11; r++)
			vmark_read(e, f, false, r);
		for (int i = 0; i < s->fr[f]->nslots; i++)
			vmark_read(e, f, true, i);
		widen_frame(s->fr[f]);
		if (!(nf->saved[f] = vframe_dup(s->fr[f]))) {
			vframe_free(nf);
			return vfail(e, -ENOMEM, pc, "out of memory");
		}
	}
	nf->callsite = (int32_t)pc;
	nf->cb_helper = (int32_t)id;
	nf->subprog = (uint32_t)sub;
	struct vreg *r = nf->r;
	if (id == HELPER_LOOP) {
		vreg_scalar_unknown(&r[1]);
		vs_urange(&r[1].v, 0, UINT32_MAX);
		r[2] = *cb_ctx;
	} else { /* bpf_for_each_map_elem(map, cb, ctx, flags): cb(map, key, value, ctx) */
		struct vreg m = {.type = T_MAP_PTR, .map = map, .inner = map_inner};
		vs_const(&m.v, 0);
		struct vmapinfo mi;
		vmap_info(&m, &mi);
		r[1] = m;
		memset(&r[2], 0, sizeof(r[2]));
		r[2].type = T_MEM;
		r[2].rdonly = true;
		r[2].mem_size = mi.key_size;
		vs_const(&r[2].v, 0);
		r[3] = m;
		r[3].type = T_MAP_VALUE;
		r[4] = *cb_ctx;
	}
	memset(&r[10], 0, sizeof(r[10]));
	r[10].type = T_STACK;
	r[10].frameno = (uint8_t)(s->curframe + 1);
	vs_const(&r[10].v, 0);
	nf->nrefs_at_entry = s->nrefs;
	s->fr[++s->curframe] = nf;
	*next = (uint32_t)func->func;
	return 0;
}

static int check_helper(struct venv *e, const struct visor_insn *in, uint32_t *next)
{
	struct vstate *s = e->cur;
	uint32_t pc = s->pc, id = (uint32_t)in->imm;
	const char *hname = helper_name(id);
	int err;

	if (e->type && !visor_vm_helper_allowed(e->type, id))
		return vfail(e, -EACCES, pc, "%s programs may not call %s (helper %u)",
			     type_name(e->type), hname, id);
	const struct visor_helper_proto *p = visor_verifier_helper(id);
	if (!p)
		return vfail(e, -EACCES, pc, "helper %u (%s) is not implemented by the visor engine", id,
			     hname);
	hname = p->name;
	if (s->lock_id && id != HELPER_SPIN_UNLOCK)
		return vfail(e, -EACCES, pc,
			     "%s is called while the bpf_spin_lock taken at insn %d is held; only bpf_spin_unlock may be",
			     hname, s->lock_insn);
	if (in_callback(s) && (p->changes_packet || id == HELPER_TAIL_CALL))
		return vfail(e, -EACCES, pc, "a callback may not call %s", hname);
	if (id == HELPER_TAIL_CALL && s->curframe > 0)
		return vfail(e, -EACCES, pc,
			     "bpf_tail_call from a function other than the main program is not supported by the visor engine");
	if (id == HELPER_TAIL_CALL && s->nrefs)
		return vfail(e, -EACCES, pc,
			     "bpf_tail_call with the ring buffer record reserved at insn %u still held would leak it",
			     s->ref_insn[0]);

	struct visor_map *map = NULL;
	bool map_inner = false;
	struct vmapinfo mi = {0};
	struct vreg func = {0}, cb_ctx = {0};
	uint32_t release = 0;
	uint64_t alloc_size = 0;
	char what[96];

	for (int i = 0; i < 5 && p->args[i] != VARG_NONE; i++) {
		int regno = i + 1;
		uint8_t kind = p->args[i];
		snprintf(what, sizeof(what), "%s (argument %d of %s)", vregname(regno), regno, hname);
		if (kind == VARG_SIZE || kind == VARG_SIZE_OR_ZERO)
			continue; /* checked with the memory before it */
		if ((err = vcheck_read(e, regno)))
			return err;
		struct vreg *r = vreg(e, regno);
		char d[120];
		vreg_describe(r, d, sizeof(d));
		switch (kind) {
		case VARG_ANYTHING:
			break;
		case VARG_MAP_PTR: {
			if (r->type != T_MAP_PTR)
				return vfail(e, -EACCES, pc, "%s must be a map, but it is %s", what, d);
			if (r->maybe_null)
				return vfail(e, -EACCES, pc,
					     "%s may be NULL (an inner map from bpf_map_lookup_elem): check it first",
					     what);
			map = r->map;
			map_inner = r->inner;
			vmap_info(r, &mi);
			const char *why = NULL;
			if (!map_func_ok(mi.type, id, &why))
				return vfail(e, -EACCES, pc, "%s cannot be used on map '%s' (a %s map): %s",
					     hname, mi.name, visor_map_type_name(mi.type), why);
			break;
		}
		case VARG_MAP_KEY:
		case VARG_MAP_VALUE:
		case VARG_MAP_VALUE_UNINIT: {
			if (!map)
				return vfail(e, -EFAULT, pc, "internal error: %s without a map argument", what);
			uint32_t size = kind == VARG_MAP_KEY ? mi.key_size : mi.value_size;
			snprintf(what, sizeof(what), "%s (the %s of %s, %u bytes of map '%s')", vregname(regno),
				 kind == VARG_MAP_KEY ? "key" : "value", hname, size, mi.name);
			if ((err = vcheck_helper_mem(e, regno, size, size, kind == VARG_MAP_VALUE_UNINIT,
						     false, what)))
				return err;
			break;
		}
		case VARG_MEM:
		case VARG_MEM_OR_NULL:
		case VARG_UNINIT_MEM: {
			uint64_t min = 0, max = 0;
			bool zero_ok = i + 1 < 5 && p->args[i + 1] == VARG_SIZE_OR_ZERO;
			if (i + 1 >= 5 || (p->args[i + 1] != VARG_SIZE && p->args[i + 1] != VARG_SIZE_OR_ZERO))
				return vfail(e, -EFAULT, pc, "internal error: %s has no size argument", what);
			if ((err = size_arg(e, regno + 1, zero_ok, hname, &min, &max)))
				return err;
			if (kind == VARG_MEM_OR_NULL && is_const_zero(r)) {
				if (max)
					return vfail(e, -EACCES, pc, "%s is NULL but its size may be %" PRIu64,
						     what, max);
				break;
			}
			bool ptr_ok = id == 165 || id == 177; /* snprintf, trace_vprintk: %s, %p */
			if ((err = vcheck_helper_mem(e, regno, min, max, kind == VARG_UNINIT_MEM, ptr_ok,
						     what)))
				return err;
			break;
		}
		case VARG_CTX:
			if (!(r->type == T_CTX || (!e->type && r->type == T_MEM)) || !unmoved(r))
				return vfail(e, -EACCES, pc,
					     "%s must be the context pointer the program got in r1, unmodified, but it is %s",
					     what, d);
			break;
		case VARG_FUNC:
			if (r->type != T_FUNC)
				return vfail(e, -EACCES, pc, "%s must be a callback function, but it is %s", what, d);
			func = *r;
			break;
		case VARG_STACK_OR_NULL:
			if (!is_const_zero(r) && r->type != T_STACK)
				return vfail(e, -EACCES, pc, "%s must point to the stack or be NULL, but it is %s",
					     what, d);
			cb_ctx = *r;
			break;
		case VARG_RINGBUF_RECORD:
			if (r->type != T_MEM || !r->ref)
				return vfail(e, -EACCES, pc,
					     "%s must be a record from bpf_ringbuf_reserve, but it is %s", what, d);
			if (r->maybe_null)
				return vfail(e, -EACCES, pc,
					     "%s may be NULL: check the result of bpf_ringbuf_reserve at insn %d against 0 first",
					     what, r->func);
			if (!unmoved(r))
				return vfail(e, -EACCES, pc,
					     "%s must be the pointer bpf_ringbuf_reserve returned, unmodified (it is moved by %d bytes)",
					     what, r->off);
			release = r->ref;
			break;
		case VARG_ALLOC_SIZE:
			if (r->type != T_SCALAR || !vs_is_const(&r->v))
				return vfail(e, -EACCES, pc, "%s must be a constant, but it is %s", what, d);
			alloc_size = r->v.t.value;
			if (alloc_size > (1u << 29))
				return vfail(e, -EACCES, pc, "%s is too large (%" PRIu64 " bytes)", what, alloc_size);
			break;
		case VARG_SPIN_LOCK: {
			if (r->type != T_MAP_VALUE || r->maybe_null)
				return vfail(e, -EACCES, pc,
					     "%s must point to the bpf_spin_lock of a map value, but it is %s", what, d);
			struct vmapinfo li;
			vmap_info(r, &li);
			if (li.lock_off < 0)
				return vfail(e, -EACCES, pc, "map '%s' has no bpf_spin_lock in its value", li.name);
			if (!vs_is_const(&r->v) || r->off + (int64_t)r->v.t.value != li.lock_off)
				return vfail(e, -EACCES, pc,
					     "%s must point to the bpf_spin_lock at offset %d of the value of '%s'",
					     what, li.lock_off, li.name);
			if (id == HELPER_SPIN_LOCK) {
				if (s->lock_id)
					return vfail(e, -EACCES, pc, "a bpf_spin_lock is already held (taken at insn %d)",
						     s->lock_insn);
				if (!r->id)
					r->id = vnew_id(e);
				s->lock_id = r->id;
				s->lock_map = r->map;
				s->lock_insn = (int32_t)pc;
			} else {
				if (!s->lock_id)
					return vfail(e, -EACCES, pc, "bpf_spin_unlock without a lock held");
				if (s->lock_id != r->id || s->lock_map != r->map)
					return vfail(e, -EACCES, pc,
						     "bpf_spin_unlock of a lock other than the one taken at insn %d",
						     s->lock_insn);
				s->lock_id = 0;
				s->lock_map = NULL;
				s->lock_insn = 0;
			}
			break;
		}
		case VARG_CONST_STR: {
			if (r->type != T_MAP_VALUE || r->maybe_null || !vs_is_const(&r->v))
				return vfail(e, -EACCES, pc,
					     "%s must be a constant string in read-only data, but it is %s", what, d);
			struct vmapinfo si;
			vmap_info(r, &si);
			uint64_t off = (uint64_t)r->off + r->v.t.value;
			uint32_t key = 0;
			const char *val = r->inner ? NULL : visor_map_lookup_ptr(r->map, &key);
			if (!(si.flags & VISOR_F_RDONLY_PROG) || !val || off >= si.value_size)
				return vfail(e, -EACCES, pc,
					     "%s must be a constant string in read-only data (.rodata), but it is %s",
					     what, d);
			if (!memchr(val + off, 0, si.value_size - off))
				return vfail(e, -EACCES, pc, "%s is not NUL-terminated inside map '%s'", what,
					     si.name);
			if (id == HELPER_SNPRINTF) {
				/* The format is checked now, as the kernel's
				 * check_bpf_snprintf_call: data_len / 8 arguments. */
				const struct vreg *len = vreg(e, 5);
				if (len->type != T_SCALAR || !vs_is_const(&len->v))
					return vfail(e, -EACCES, pc,
						     "r5, the data length of bpf_snprintf, must be a constant");
				uint64_t args[VISOR_BPRINTF_MAX_ARGS] = {0};
				uint64_t nargs = len->v.t.value / 8;
				char fwhy[160] = "";
				if (nargs > VISOR_BPRINTF_MAX_ARGS ||
				    visor_bprintf(val + off, si.value_size - off, args, (uint32_t)nargs, NULL,
						  0, fwhy, sizeof(fwhy)) < 0)
					return vfail(e, -EACCES, pc, "invalid format string for bpf_snprintf: %s",
						     fwhy[0] ? fwhy : "too many arguments");
			}
			break;
		}
		case VARG_FIXED_MEM:
			if ((err = vcheck_helper_mem(e, regno, p->fixed[i], p->fixed[i], true, false, what)))
				return err;
			break;
		default:
			return vfail(e, -EFAULT, pc, "internal error: argument kind %u of %s", kind, hname);
		}
	}

	if (release) {
		int k = 0;
		while (k < s->nrefs && s->refs[k] != release)
			k++;
		if (k == s->nrefs)
			return vfail(e, -EACCES, pc, "the ring buffer record was already submitted or discarded");
		s->refs[k] = s->refs[s->nrefs - 1];
		s->ref_insn[k] = s->ref_insn[s->nrefs - 1];
		s->nrefs--;
		vinvalidate(e, pred_ref, &release, false);
	}
	if (p->changes_packet)
		vinvalidate(e, pred_pkt, NULL, true);

	if (func.type == T_FUNC) {
		if (cb_ctx.type == T_NOT_INIT)
			vreg_scalar_const(&cb_ctx, 0);
		/* The caller's r1-r5 are gone once the helper returns; the callback
		 * exit (vcheck_exit) sets r0. */
		for (int r = 1; r <= 5; r++)
			vreg_not_init(vreg(e, r));
		return start_callback(e, id, &func, map, map_inner, &cb_ctx, next);
	}

	for (int r = 1; r <= 5; r++)
		vreg_not_init(vreg(e, r));
	struct vreg *r0 = vreg(e, 0);
	switch (p->ret) {
	case VRET_VOID:
		vreg_not_init(r0);
		break;
	case VRET_MAP_VALUE_OR_NULL:
		memset(r0, 0, sizeof(*r0));
		vs_const(&r0->v, 0);
		r0->maybe_null = true;
		r0->id = vnew_id(e);
		r0->func = (int32_t)pc;
		r0->map = map;
		if (mi.type == VISOR_MAP_TYPE_ARRAY_OF_MAPS || mi.type == VISOR_MAP_TYPE_HASH_OF_MAPS) {
			r0->type = T_MAP_PTR;
			r0->inner = true;
		} else {
			r0->type = T_MAP_VALUE;
			r0->inner = map_inner;
		}
		break;
	case VRET_RINGBUF_RECORD_OR_NULL:
		if (s->nrefs == VMAX_REFS)
			return vfail(e, -EACCES, pc, "more than %d ring buffer records are held at once", VMAX_REFS);
		memset(r0, 0, sizeof(*r0));
		vs_const(&r0->v, 0);
		r0->type = T_MEM;
		r0->maybe_null = true;
		r0->mem_size = (uint32_t)alloc_size;
		r0->id = vnew_id(e);
		r0->ref = vnew_id(e);
		r0->func = (int32_t)pc;
		s->refs[s->nrefs] = r0->ref;
		s->ref_insn[s->nrefs++] = pc;
		break;
	default:
		vreg_scalar_unknown(r0);
	}
	*next = pc + 1;
	return 0;
}

int vcheck_call(struct venv *e, const struct visor_insn *in, uint32_t *next)
{
	struct vstate *s = e->cur;
	uint32_t pc = s->pc;
	if (in->src != VISOR_CALL_LOCAL)
		return check_helper(e, in, next);
	if (s->lock_id)
		return vfail(e, -EACCES, pc, "function calls are not allowed while the bpf_spin_lock taken at insn %d is held",
			     s->lock_insn);
	if (s->curframe + 1 >= VISOR_MAX_CALL_DEPTH)
		return vfail(e, -EACCES, pc, "the call would make frame %d; at most %d frames may be active",
			     s->curframe + 2, VISOR_MAX_CALL_DEPTH);
	uint32_t target = (uint32_t)((int64_t)pc + 1 + in->imm);
	struct vframe *nf = vframe_new();
	if (!nf)
		return vfail(e, -ENOMEM, pc, "out of memory");
	struct vframe *caller = vcur_frame(e);
	for (int r = 1; r <= 5; r++) {
		vmark_read(e, s->curframe, false, r);
		nf->r[r] = caller->r[r];
	}
	nf->r[10].type = T_STACK;
	nf->r[10].frameno = (uint8_t)(s->curframe + 1);
	vs_const(&nf->r[10].v, 0);
	nf->callsite = (int32_t)pc;
	nf->subprog = (uint32_t)vsub_of(e, target);
	nf->nrefs_at_entry = s->nrefs;
	s->fr[++s->curframe] = nf;
	*next = target;
	return 0;
}

int vcheck_exit(struct venv *e, uint32_t *next, bool *done)
{
	struct vstate *s = e->cur;
	uint32_t pc = s->pc;
	struct vframe *f = vcur_frame(e);
	struct vreg *r0 = &f->r[0];
	char d[120];

	vmark_read(e, s->curframe, false, 0);
	if (r0->type == T_NOT_INIT)
		return vfail(e, -EACCES, pc, "%s exits without setting r0, its return value",
			     s->curframe ? "the function" : "the program");
	vreg_describe(r0, d, sizeof(d));
	if (s->lock_id)
		return vfail(e, -EACCES, pc, "%s exits with the bpf_spin_lock taken at insn %d still held",
			     s->curframe ? "the function" : "the program", s->lock_insn);
	if (s->curframe == 0) {
		if (r0->type != T_SCALAR)
			return vfail(e, -EACCES, pc, "the program returns a pointer (%s): that would leak an address", d);
		if (s->nrefs)
			return vfail(e, -EACCES, pc,
				     "the ring buffer record reserved at insn %u is neither submitted nor discarded on this path",
				     s->ref_insn[0]);
		*done = true;
		return 0;
	}
	if (s->nrefs > f->nrefs_at_entry)
		return vfail(e, -EACCES, pc,
			     "the %s returns holding the ring buffer record reserved at insn %u: submit or discard it first",
			     f->cb_helper >= 0 ? "callback" : "function", s->ref_insn[s->nrefs - 1]);
	struct vframe *caller = s->fr[s->curframe - 1];
	if (f->cb_helper >= 0) {
		if (r0->type != T_SCALAR || r0->v.umax > 1)
			return vfail(e, -EACCES, pc,
				     "the callback of %s must return 0 (go on) or 1 (stop), but r0 is %s",
				     helper_name((uint32_t)f->cb_helper), d);
		/* The frames below continue as they were when the callback started
		 * (their stack data widened): it may run any number of times. */
		for (int i = 0; i < s->curframe; i++) {
			if (f->saved[i]) {
				vframe_free(s->fr[i]);
				s->fr[i] = f->saved[i];
				f->saved[i] = NULL;
				s->fr[i]->wregs = 0x7ff;
				s->fr[i]->wslots = ~0ull;
			}
		}
		caller = s->fr[s->curframe - 1];
		vreg_scalar_unknown(&caller->r[0]);
	} else {
		if (r0->type == T_STACK && r0->frameno == s->curframe)
			return vfail(e, -EACCES, pc,
				     "the function returns a pointer to its own stack (%s), which ends with it", d);
		caller->r[0] = *r0;
	}
	for (int r = 1; r <= 5; r++)
		vreg_not_init(&caller->r[r]);
	*next = (uint32_t)f->callsite + 1;
	vframe_free(f);
	s->fr[s->curframe--] = NULL;
	return 0;
}

int vcheck_ld_abs(struct venv *e, const struct visor_insn *in, uint32_t pc)
{
	struct vstate *s = e->cur;
	int err;
	if (e->type != VISOR_VM_PROG_SOCKET_FILTER && e->type != VISOR_VM_PROG_SCHED_CLS)
		return vfail(e, -EACCES, pc,
			     "legacy packet loads (LD_ABS / LD_IND) are for socket filter and tc programs only");
	if ((err = vcheck_read(e, 6)))
		return err;
	if (vreg(e, 6)->type != T_CTX || !unmoved(vreg(e, 6)))
		return vfail(e, -EACCES, pc,
			     "LD_ABS / LD_IND read the packet of the context in r6, but r6 is not the context");
	if (VISOR_MODE(in->code) == VISOR_MODE_IND) {
		if ((err = vcheck_read(e, in->src)))
			return err;
		if (vreg(e, in->src)->type != T_SCALAR)
			return vfail(e, -EACCES, pc, "the offset register of LD_IND must hold a number");
	}
	if (s->nrefs)
		return vfail(e, -EACCES, pc,
			     "LD_ABS / LD_IND may end the program, which would leak the ring buffer record reserved at insn %u",
			     s->ref_insn[0]);
	if (s->lock_id)
		return vfail(e, -EACCES, pc, "LD_ABS / LD_IND while a bpf_spin_lock is held");
	for (int r = 1; r <= 5; r++)
		vreg_not_init(vreg(e, r));
	vreg_scalar_unknown(vreg(e, 0));
	vs_loaded(&vreg(e, 0)->v, visor_size_bytes(in->code), false);
	return 0;
}
