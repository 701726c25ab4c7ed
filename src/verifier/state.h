/* The verifier's abstract machine state: typed registers, stack slots, call
 * frames, held references, and the environment of one verification. */
#ifndef VISOR_VERIFIER_STATE_H
#define VISOR_VERIFIER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/verifier.h>

#include "verifier/scalar.h"

/* What a register holds. */
enum vtype {
	T_NOT_INIT = 0, /* never written (or clobbered by a call) */
	T_SCALAR,       /* a number: v is its value */
	T_CTX,          /* the context: off is the fixed offset */
	T_STACK,        /* frame `frameno`'s frame pointer + off (+ v) */
	T_PKT,          /* packet data + off + v; range bytes proven from off 0 of this id */
	T_PKT_END,      /* data_end */
	T_PKT_META,     /* data_meta + off + v; range proven against data */
	T_MAP_PTR,      /* a map */
	T_MAP_VALUE,    /* a value of map + off + v */
	T_MEM,          /* mem_size bytes + off + v: ring buffer record, map key, untyped context */
	T_FUNC,         /* a callback: func is its first instruction */
};

struct vreg {
	uint8_t type;
	uint8_t frameno;     /* T_STACK */
	bool maybe_null;     /* T_MAP_VALUE, T_MEM, T_MAP_PTR: a NULL check is due */
	bool rdonly;         /* T_MEM: no stores */
	bool inner;          /* T_MAP_PTR, T_MAP_VALUE: of an inner map of map (map-in-map) */
	int32_t off;         /* pointers: the fixed part of the offset */
	uint32_t id;         /* null-check group; packet pointers sharing a variable part */
	uint32_t ref;        /* a reference to release (ring buffer record), 0 if none */
	uint32_t range;      /* T_PKT / T_PKT_META: bytes proven readable */
	uint32_t mem_size;   /* T_MEM */
	int32_t func;        /* T_FUNC; or-NULL pointers: the call that returned it */
	int32_t stale;       /* invalidated by the instruction stale - 1 (messages only) */
	struct visor_map *map; /* T_MAP_PTR, T_MAP_VALUE */
	struct vscalar v;    /* T_SCALAR: the value; pointers: the variable offset */
};

/* One stack byte. */
enum { SB_INVALID = 0, SB_MISC, SB_ZERO, SB_SPILL };

/* Eight bytes of stack: slot i covers fp-8*(i+1) .. fp-8*i-1. */
struct vslot {
	uint8_t kind[8]; /* byte j is at fp - 8*(i+1) + j */
	/* SB_SPILL: the register stored there: a whole 8-byte spill (any
	 * register), or a narrower one of a scalar that fits in its bytes,
	 * kind[0 .. n) (as the kernel, spilled at the start of the slot). */
	struct vreg spill;
};

/* How many bytes of the slot a spill covers (8: whole, 0: none). */
static inline int vslot_spill_len(const struct vslot *s)
{
	int n = 0;
	while (n < 8 && s->kind[n] == SB_SPILL)
		n++;
	return n;
}

#define VSTACK_SLOTS (VISOR_STACK_FRAME / 8)

struct vframe {
	struct vreg r[11];
	int32_t callsite;    /* the call instruction in the caller, -1 for the main frame */
	uint32_t subprog;    /* index into env->subs */
	int32_t cb_helper;   /* a callback of this helper (bpf_loop ...), -1 for local calls */
	uint32_t depth;      /* stack bytes used (deepest access) */
	uint8_t nrefs_at_entry; /* references held when the function was entered */
	/* Liveness: registers and slots written since the last checkpoint. */
	uint16_t wregs;
	uint64_t wslots;
	uint16_t nslots;
	uint16_t cap;        /* slots allocated (a size class of state.c's cache) */
	struct vslot *slots;
	/* A callback frame keeps the frames below it as they were (widened)
	 * when it started: restored when it returns (verifier.c, callbacks). */
	struct vframe *saved[VISOR_MAX_CALL_DEPTH];
};

#define VMAX_REFS 16

struct vstate {
	uint8_t curframe;
	struct vframe *fr[VISOR_MAX_CALL_DEPTH];
	uint8_t nrefs;
	uint32_t refs[VMAX_REFS];     /* ids of references held */
	uint32_t ref_insn[VMAX_REFS]; /* where each was acquired */
	uint32_t lock_id;             /* the register id of the held spin lock, 0 if none */
	struct visor_map *lock_map;
	int32_t lock_insn;
	uint32_t pc;
	/* Exploration bookkeeping. */
	struct vckpt *parent;    /* the checkpoint this path last passed */
	size_t loglen;           /* the log's length when this path split off */
	uint32_t jumps;          /* jumps since the last checkpoint */
	uint32_t insns;          /* instructions since the last checkpoint */
};

/* A state stored at an instruction for pruning: paths reaching the
 * instruction in a state it covers stop there. branches counts the paths
 * below it still being explored; at 0 it is complete. */
struct vckpt {
	struct vstate *st;
	struct vckpt *parent;
	struct vckpt *next; /* same instruction */
	uint32_t branches;
	uint32_t hits, misses;
	uint64_t hash;           /* vstate_hash of st */
	/* Liveness: registers and slots the paths after it read before
	 * writing; only those decide whether it covers another state. */
	uint16_t rregs[VISOR_MAX_CALL_DEPTH];
	uint64_t rslots[VISOR_MAX_CALL_DEPTH];
};

/* Stored checkpoints live until the verification ends: they are carved
 * from big chunks and freed all at once. */
struct varena {
	struct varena_chunk *head;
	char *p, *end;
};
void *varena_alloc(struct varena *a, size_t size); /* zeroed */
void varena_free_all(struct varena *a);
struct vstate *vstate_dup_arena(const struct vstate *s, struct varena *a);

/* What is demanded before an instruction (demand.c). */
struct vdemand {
	uint16_t regs;
	bool all_slots;
	uint64_t bytes[VSTACK_SLOTS / 8]; /* bit k of bytes[i]: slot 8 * i + k / 8, byte k % 8 */
};

struct vsubprog {
	uint32_t start, end; /* [start, end) */
	uint32_t depth;      /* deepest stack use seen, bytes */
	bool callback;       /* target of lddw src 4 */
	bool called;         /* target of a local call */
};

/* Per-instruction flags. */
enum {
	IF_PRUNE = 1,     /* a state is stored here */
	IF_LDDW_HI = 2,   /* second half of lddw */
	IF_REACHED = 4,   /* reached by the structure walk */
	IF_SEEN = 8,      /* processed by the abstract interpreter */
	IF_LOOP = 16,     /* target of a backward jump: a state is always stored */
};

struct venv {
	const struct visor_insn *insns;
	size_t n;
	struct visor_verify_opts *o;
	uint32_t type;
	struct visor_map *const *maps;
	size_t nmaps;
	uint8_t *flags;
	struct vdemand *demand; /* per instruction */
	struct vsubprog *subs;
	size_t nsubs;
	struct vckpt **explored; /* per instruction */
	struct varena arena;     /* the checkpoints and their states */
	struct vstate *cur;
	struct {
		struct vstate **st;
		size_t n, cap;
	} stack;
	uint32_t next_id;
	uint64_t processed;
	uint32_t nstates, peak_pending;
	/* log (grows; the failing path is what remains) */
	char *log;
	size_t loglen, logcap;
	bool log_full;
	unsigned log_line;       /* the source line last shown */
	const char *log_file;
	/* error */
	int err;
	int64_t err_insn;
};

/* state.c. States are copied at every branch and stored at checkpoints:
 * they come from per-thread caches, emptied by vstate_cache_flush at the
 * end of each verification. */
void vstate_cache_flush(void);

struct vframe *vframe_new(void);
void vframe_free(struct vframe *f);
struct vframe *vframe_dup(const struct vframe *f);
int vframe_grow(struct vframe *f, uint32_t slots);
struct vstate *vstate_new(void);
void vstate_free(struct vstate *s);
struct vstate *vstate_dup(const struct vstate *s);
/* Does old cover cur (every concrete state of cur is one of old's)? */
bool vstate_covers(const struct vckpt *old, const struct vstate *cur, const struct vdemand *d);
/* Are they the same (an infinite loop when old is an ancestor)? */
bool vstate_same(const struct vstate *a, const struct vstate *b);
/* Equal for states vstate_same finds the same: a cheap first test. */
uint64_t vstate_hash(const struct vstate *s);

/* Calls fn on every register (slot NULL) and every spilled register (its
 * slot) of every frame of s. */
void vstate_each_reg(struct vstate *s, void (*fn)(struct vreg *r, struct vslot *slot, void *arg),
		     void *arg);

void vreg_scalar_unknown(struct vreg *r);
void vreg_scalar_const(struct vreg *r, uint64_t v);
void vreg_not_init(struct vreg *r);
bool vreg_is_ptr(const struct vreg *r);
/* "scalar [0, 255]", "pkt(off=14, proven 34)", "map_value(counts, off=4) or NULL" */
int vreg_describe(const struct vreg *r, char *buf, size_t len);
const char *vtype_name(uint8_t type);

#endif
