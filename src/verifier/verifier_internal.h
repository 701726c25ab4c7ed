/* Internals shared by the verifier's files: the driver (verifier.c), the
 * structure checks (cfg.c), memory accesses (access.c) and calls (call.c). */
#ifndef VISOR_VERIFIER_INTERNAL_H
#define VISOR_VERIFIER_INTERNAL_H

#include <visor/runtime.h>
#include <visor/verifier.h>

#include "verifier/helper_protos.h"
#include "verifier/state.h"

/* Records the error (first one wins): errmsg gets "insn N (disassembly):
 * reason", plus the source line when known. Returns err. */
int vfail(struct venv *e, int err, int64_t insn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Appends to the log (log_level >= level). */
void vlog(struct venv *e, unsigned level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline struct vframe *vcur_frame(struct venv *e)
{
	return e->cur->fr[e->cur->curframe];
}
static inline struct vreg *vreg(struct venv *e, int r)
{
	return &vcur_frame(e)->r[r];
}

/* What a map pointer or map value register refers to (the inner map's
 * description for map-in-map). */
struct vmapinfo {
	uint32_t type, key_size, value_size, flags;
	int32_t lock_off; /* -1: no bpf_spin_lock */
	const char *name;
};
void vmap_info(const struct vreg *r, struct vmapinfo *mi);

/* demand.c: e->demand for every instruction. */
int vdemand_compute(struct venv *e);

/* cfg.c */
int vcfg_check(struct venv *e);
int vcfg_check_stack(struct venv *e);
size_t vsub_of(const struct venv *e, size_t pc);
void vsub_name(const struct venv *e, size_t sub, char *buf, size_t len);

/* verifier.c */
uint32_t vnew_id(struct venv *e);
/* Queues a copy of the current state to continue at pc later. */
int vpush(struct venv *e, uint32_t pc, struct vstate **copy);
/* Liveness: frame f's register r / stack slot i is read; the checkpoints
 * whose value it is learn that it matters. */
void vmark_read(struct venv *e, int f, bool slot, int idx);
static inline void vmark_written_reg(struct venv *e, int r)
{
	vcur_frame(e)->wregs |= (uint16_t)(1u << r);
}
/* Reads register r as an operand: it must be initialised. */
int vcheck_read(struct venv *e, int r);
/* "r3", or "r3 (the key argument of bpf_map_lookup_elem)" */
const char *vregname(int r);

/* access.c: a load, store or atomic through insn at pc. */
int vcheck_mem_insn(struct venv *e, const struct visor_insn *in, uint32_t pc);
/* Helper memory arguments: [reg, reg + size) must be accessible
 * (initialised when reading; holding spilled pointers only if ptr_ok:
 * bpf_snprintf's %s arguments); stack bytes written become initialised.
 * what names the argument in messages. */
int vcheck_helper_mem(struct venv *e, int regno, uint64_t min_size, uint64_t max_size,
		      bool write, bool ptr_ok, const char *what);
/* Stack bytes of frame f: type of byte at fp+off (off < 0). */
struct vslot *vstack_slot(struct vframe *f, int32_t off);
/* Marks every register and spilled copy matching pred invalid: as unknown
 * numbers (as_scalar: what they held may still be computed with, not
 * dereferenced) or unusable. */
void vinvalidate(struct venv *e, bool (*pred)(const struct vreg *r, const void *arg), const void *arg,
		 bool as_scalar);

/* call.c */
int vcheck_call(struct venv *e, const struct visor_insn *in, uint32_t *pc);
int vcheck_exit(struct venv *e, uint32_t *pc, bool *path_done);
int vcheck_ld_abs(struct venv *e, const struct visor_insn *in, uint32_t pc);

#endif
