/* The verifier's driver: a path-sensitive abstract interpreter in the
 * manner of the Linux verifier. Every path through the program is followed
 * from the entry with typed registers and stack (state.h), branches whose
 * outcome depends on unknown values are explored both ways, and a path
 * stops when it exits or reaches an instruction in a state covered by one
 * already explored there (pruning). Path-sensitivity rather than a
 * widening fixpoint (PREVAIL's choice): it proves what the kernel proves
 * (bounds learnt from a comparison hold on that path only; loops are
 * unrolled until their bound is reached), so programs written for the
 * kernel verify here unchanged, and its messages can name one concrete
 * path. The cost, exploring paths one by one, is kept down by pruning and
 * bounded by the kernel's budget of VISOR_VERIFY_INSN_LIMIT instructions.
 *
 * This file: the driver, pruning, ALU and jumps. cfg.c checks the
 * structure first; access.c checks memory accesses; call.c calls and
 * exits. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "verifier/verifier_internal.h"
#include "vm/vm_verifier.h"

#define LOG_CAP (16u << 20)  /* the failing path's log is cut beyond this */
#define MAX_STATES_PER_INSN 4096 /* stored states per instruction */

/* ---- messages ------------------------------------------------------------ */

void vlog(struct venv *e, unsigned level, const char *fmt, ...)
{
	if (!e->o || e->o->log_level < level || e->log_full)
		return;
	va_list ap;
	for (;;) {
		size_t room = e->logcap - e->loglen;
		va_start(ap, fmt);
		int n = vsnprintf(e->log ? e->log + e->loglen : NULL, e->log ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			e->loglen += (size_t)n;
			return;
		}
		size_t cap = e->logcap ? e->logcap * 2 : 65536;
		while (cap - e->loglen <= (size_t)n)
			cap *= 2;
		if (cap > LOG_CAP) {
			e->log_full = true;
			return;
		}
		char *l = realloc(e->log, cap);
		if (!l) {
			e->log_full = true;
			return;
		}
		e->log = l;
		e->logcap = cap;
	}
}

int vfail(struct venv *e, int err, int64_t insn, const char *fmt, ...)
{
	if (e->err)
		return e->err;
	e->err = err;
	e->err_insn = insn;
	char reason[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!e->o)
		return err;
	char *msg = e->o->errmsg;
	size_t len = sizeof(e->o->errmsg), used = 0;
	if (insn >= 0 && (size_t)insn < e->n) {
		char dis[96];
		visor_disasm_insn(e->insns, e->n, (size_t)insn, VISOR_SYNTAX_KERNEL, dis, sizeof(dis));
		used = (size_t)snprintf(msg, len, "insn %" PRId64 " (%s): ", insn, dis);
	}
	if (used < len)
		used += (size_t)snprintf(msg + used, len - used, "%s", reason);
	const char *file = NULL, *text = NULL;
	unsigned line = 0;
	if (used < len && insn >= 0 && e->o->line_of &&
	    !e->o->line_of(e->o->line_ctx, (size_t)insn, &file, &line, &text) && line) {
		const char *base = file ? strrchr(file, '/') : NULL;
		base = base ? base + 1 : file;
		while (text && (*text == ' ' || *text == '\t'))
			text++;
		snprintf(msg + used, len - used, " [%s:%u%s%s]", base ? base : "?", line,
			 text && *text ? ": " : "", text ? text : "");
	}
	e->o->err_insn = insn;
	vlog(e, 0, "error: %s\n", msg);
	return err;
}

const char *vregname(int r)
{
	static const char *names[] = {"r0", "r1", "r2", "r3", "r4", "r5",
				      "r6", "r7", "r8", "r9", "r10"};
	return r >= 0 && r <= 10 ? names[r] : "r?";
}

uint32_t vnew_id(struct venv *e)
{
	return ++e->next_id;
}

void vmark_read(struct venv *e, int f, bool slot, int idx)
{
	struct vframe *fr = e->cur->fr[f];
	uint64_t bit = 1ull << idx;
	if (slot ? (fr->wslots & bit) : (fr->wregs & bit))
		return;
	for (struct vckpt *c = e->cur->parent; c && c->st->curframe >= f; c = c->parent) {
		if (slot) {
			if (c->rslots[f] & bit)
				break;
			c->rslots[f] |= bit;
			if (c->st->fr[f]->wslots & bit)
				break;
		} else {
			if (c->rregs[f] & bit)
				break;
			c->rregs[f] |= (uint16_t)bit;
			if (c->st->fr[f]->wregs & bit)
				break;
		}
	}
}

int vcheck_read(struct venv *e, int r)
{
	vmark_read(e, e->cur->curframe, false, r);
	const struct vreg *v = vreg(e, r);
	if (v->type == T_NOT_INIT && v->stale)
		return vfail(e, -EACCES, e->cur->pc,
			     "%s held a ring buffer record that insn %d submitted or discarded: it may not be used after that",
			     vregname(r), v->stale - 1);
	if (v->type == T_NOT_INIT)
		return vfail(e, -EACCES, e->cur->pc,
			     "%s is read before anything was written to it on this path%s", vregname(r),
			     r >= 1 && r <= 5 ? " (calls clobber r1-r5)" : "");
	return 0;
}

/* ---- the search ------------------------------------------------------------ */

int vpush(struct venv *e, uint32_t pc, struct vstate **copy)
{
	if (e->stack.n == e->stack.cap) {
		size_t cap = e->stack.cap ? e->stack.cap * 2 : 64;
		struct vstate **s = realloc(e->stack.st, cap * sizeof(*s));
		if (!s)
			return vfail(e, -ENOMEM, pc, "out of memory");
		e->stack.st = s;
		e->stack.cap = cap;
	}
	if (e->stack.n >= 8192)
		return vfail(e, -E2BIG, e->cur->pc,
			     "more than 8192 branches are pending on one path: the program is too complex");
	struct vstate *s = vstate_dup(e->cur);
	if (!s)
		return vfail(e, -ENOMEM, pc, "out of memory");
	s->pc = pc;
	s->loglen = e->loglen;
	s->jumps = 0;
	if (s->parent)
		s->parent->branches++;
	e->stack.st[e->stack.n++] = s;
	if (e->stack.n > e->peak_pending)
		e->peak_pending = (uint32_t)e->stack.n;
	*copy = s;
	return 0;
}

/* A path ended: the checkpoints it passed lose a branch. */
static void end_path(struct venv *e)
{
	for (struct vckpt *p = e->cur->parent; p && --p->branches == 0;)
		p = p->parent;
}

/* Scalar links (equal copies) held by one register only mean nothing. */
struct link_count {
	uint32_t ids[64];
	int cnt[64], n;
	bool clear;
};

static void count_link(struct vreg *r, struct vslot *slot, void *arg)
{
	struct link_count *lc = arg;
	(void)slot;
	if (r->type != T_SCALAR || !r->id)
		return;
	int k = 0;
	while (k < lc->n && lc->ids[k] != r->id)
		k++;
	if (lc->clear) {
		if (k == lc->n || lc->cnt[k] == 1)
			r->id = 0;
		return;
	}
	if (k == lc->n && lc->n < 64) {
		lc->ids[lc->n] = r->id;
		lc->cnt[lc->n++] = 0;
	}
	if (k < lc->n)
		lc->cnt[k]++;
}

static void clear_single_links(struct vstate *s)
{
	struct link_count lc;
	lc.n = 0;
	lc.clear = false;
	vstate_each_reg(s, count_link, &lc);
	lc.clear = true;
	vstate_each_reg(s, count_link, &lc);
}

/* At a prune point: 1 if an explored state covers the current one (the
 * path stops), 0 after storing the current state, or an error. */
static int visit(struct venv *e, uint32_t pc)
{
	int n = 0;
	clear_single_links(e->cur);
	uint64_t hash = 0; /* of the current state, computed when first needed */
	for (struct vckpt **pp = &e->explored[pc], *c; (c = *pp); n++) {
		if (c->branches == 0 && c->misses > c->hits * 3 + 3) {
			/* It rarely covers anything: stop comparing with it (the
			 * kernel's rule). It stays in the arena: it may be a parent. */
			*pp = c->next;
			continue;
		}
		pp = &c->next;
		if (c->branches == 0) {
			if (vstate_covers(c, e->cur, &e->demand[pc])) {
				/* What the explored paths read, this one would read too. */
				for (int f = 0; f <= e->cur->curframe; f++) {
					for (int r = 0; r < 11; r++)
						if ((c->rregs[f] >> r) & 1)
							vmark_read(e, f, false, r);
					for (int i = 0; i < 64; i++)
						if ((c->rslots[f] >> i) & 1)
							vmark_read(e, f, true, i);
				}
				c->hits++;
				if (e->o)
					e->o->states_pruned++;
				return 1;
			}
			c->misses++;
		} else if (c->hash == (hash ? hash : (hash = vstate_hash(e->cur) | 1)) &&
			   vstate_same(c->st, e->cur)) {
			return vfail(e, -EACCES, pc,
				     "infinite loop: the program comes back to insn %u in exactly the same state, so it never ends",
				     pc);
		}
	}
	/* Store a state only every few instructions (as the kernel's
	 * heuristic, tuned on tests/progs/rw_*: storing everywhere costs time in
	 * comparisons, storing rarely re-explores), but always at loop heads:
	 * that is where loops converge. */
	bool loop = e->flags[pc] & IF_LOOP;
	if (n >= MAX_STATES_PER_INSN || (!loop && (e->cur->jumps < 1 || e->cur->insns < 4)))
		return 0;
	e->cur->jumps = 0;
	e->cur->insns = 0;
	struct vckpt *c = varena_alloc(&e->arena, sizeof(*c));
	if (!c || !(c->st = vstate_dup_arena(e->cur, &e->arena)))
		return vfail(e, -ENOMEM, pc, "out of memory");
	c->hash = hash ? hash : vstate_hash(e->cur) | 1;
	c->parent = e->cur->parent;
	c->branches = 1;
	c->next = e->explored[pc];
	e->explored[pc] = c;
	e->cur->parent = c;
	/* A new segment of the path starts: nothing written in it yet. */
	for (int f = 0; f <= e->cur->curframe; f++) {
		e->cur->fr[f]->wregs = 0;
		e->cur->fr[f]->wslots = 0;
	}
	e->nstates++;
	return 0;
}

/* ---- logging of states ------------------------------------------------------ */

static void log_state(struct venv *e)
{
	struct vstate *s = e->cur;
	char buf[200];
	for (int f = 0; f <= s->curframe; f++) {
		struct vframe *fr = s->fr[f];
		vlog(e, 2, "    %s", s->curframe ? "" : "");
		if (s->curframe)
			vlog(e, 2, "frame %d: ", f);
		for (int r = 0; r < 10; r++) {
			if (fr->r[r].type == T_NOT_INIT)
				continue;
			vreg_describe(&fr->r[r], buf, sizeof(buf));
			vlog(e, 2, "%s=%s ", vregname(r), buf);
		}
		for (int i = 0; i < fr->nslots; i++) {
			struct vslot *sl = &fr->slots[i];
			if (sl->kind[0] == SB_SPILL) {
				vreg_describe(&sl->spill, buf, sizeof(buf));
				vlog(e, 2, "fp-%d=%s ", 8 * (i + 1), buf);
				continue;
			}
			char k[9];
			bool any = false;
			for (int j = 0; j < 8; j++) {
				k[j] = "?mz s"[sl->kind[j]];
				any |= sl->kind[j] != SB_INVALID;
			}
			k[8] = 0;
			if (any)
				vlog(e, 2, "fp-%d=%s ", 8 * (i + 1), k);
		}
		vlog(e, 2, "\n");
	}
}

/* ---- ALU --------------------------------------------------------------------- */

static const char *alu_name(uint8_t op)
{
	static const char *n[16] = {"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=",
				    "neg", "%=", "^=", "=", "s>>=", "endian", "?", "?"};
	return n[op >> 4];
}

/* Packet data, end and metadata: one family, comparable and subtractable. */
static int pkt_family(const struct vreg *r)
{
	return r->type == T_PKT || r->type == T_PKT_END || r->type == T_PKT_META ? 1 : 0;
}

static bool ptr_arith_ok(const struct vreg *r)
{
	return r->type == T_STACK || r->type == T_PKT || r->type == T_PKT_META ||
	       r->type == T_MAP_VALUE || r->type == T_MEM || r->type == T_CTX;
}

static void scalar_reset_id(struct vreg *r)
{
	r->id = 0;
}

/* dst = ptr +/- scalar (or scalar + ptr), 64-bit. */
static int ptr_alu(struct venv *e, const struct visor_insn *in, struct vreg *dst,
		   const struct vreg *src)
{
	uint32_t pc = e->cur->pc;
	uint8_t op = VISOR_OP(in->code);
	bool dptr = vreg_is_ptr(dst), sptr = vreg_is_ptr(src);

	if (VISOR_CLASS(in->code) != VISOR_CLS_ALU64) {
		/* The kernel's answer for privileged programs: a 32-bit difference
		 * (data_end - data computed in w registers) is a number. */
		if (op == VISOR_ALU_SUB && (!dptr || !sptr || pkt_family(dst) == pkt_family(src)) &&
		    !(dptr && dst->maybe_null) && !(sptr && src->maybe_null)) {
			vreg_scalar_unknown(dst);
			vs_zext32(&dst->v);
			vs_urange(&dst->v, 0, UINT32_MAX);
			return 0;
		}
		return vfail(e, -EACCES, pc, "32-bit %s on a pointer (%s) is not allowed",
			     op == VISOR_ALU_SUB ? "subtraction between different kinds of pointers" : "arithmetic",
			     vtype_name(dptr ? dst->type : src->type));
	}
	if (dptr && sptr) {
		if (op != VISOR_ALU_SUB)
			return vfail(e, -EACCES, pc,
				     "%s between two pointers is not allowed (only subtracting pointers of the same kind)",
				     alu_name(op));
		bool same = !dst->maybe_null && !src->maybe_null &&
			    ((pkt_family(dst) && pkt_family(src)) ||
			     (dst->type == T_STACK && src->type == T_STACK &&
			      dst->frameno == src->frameno) ||
			     (dst->type == T_MAP_VALUE && src->type == T_MAP_VALUE &&
			      dst->map == src->map));
		if (!same) {
			return vfail(e, -EACCES, pc,
				     "subtracting pointers of different kinds (%s minus %s) is not allowed",
				     vtype_name(dst->type), vtype_name(src->type));
		}
		bool consts = dst->type == src->type && dst->type != T_PKT_END &&
			      vs_is_const(&dst->v) && vs_is_const(&src->v) &&
			      (dst->type == T_STACK || dst->id == src->id);
		int64_t diff = (int64_t)dst->off - src->off;
		if (consts)
			diff += (int64_t)(dst->v.t.value - src->v.t.value);
		if (consts)
			vreg_scalar_const(dst, (uint64_t)diff);
		else
			vreg_scalar_unknown(dst);
		return 0;
	}
	const struct vreg *p = dptr ? dst : src, *s = dptr ? src : dst;
	if (op != VISOR_ALU_ADD && !(op == VISOR_ALU_SUB && dptr))
		return vfail(e, -EACCES, pc,
			     "%s on a pointer (%s) is not allowed: pointers may only have scalars added or subtracted",
			     alu_name(op), vtype_name(p->type));
	if (!ptr_arith_ok(p))
		return vfail(e, -EACCES, pc, "arithmetic on %s is not allowed",
			     p->type == T_PKT_END ? "the packet end pointer (data_end)"
			     : p->type == T_MAP_PTR ? "a map pointer"
			     : p->type == T_FUNC    ? "a callback pointer"
						    : vtype_name(p->type));
	if (p->maybe_null)
		return vfail(e, -EACCES, pc,
			     "arithmetic on a pointer that may be NULL (%s): check it against 0 first",
			     vtype_name(p->type));
	struct vreg res = *p;
	if (vs_is_const(&s->v)) {
		int64_t c = (int64_t)s->v.t.value;
		int64_t off = op == VISOR_ALU_SUB ? (int64_t)p->off - c : (int64_t)p->off + c;
		if (off <= -(1 << 29) || off >= (1 << 29))
			return vfail(e, -EACCES, pc, "the pointer's offset %lld is out of range",
				     (long long)off);
		res.off = (int32_t)off;
	} else {
		if (p->type == T_CTX)
			return vfail(e, -EACCES, pc,
				     "a variable offset on the context pointer is not allowed");
		struct visor_insn alu = {.code = (uint8_t)(VISOR_CLS_ALU64 | op | VISOR_SRC_X)};
		vs_alu(&res.v, &s->v, &alu);
		if (p->type == T_PKT || p->type == T_PKT_META) {
			/* A new variable part: what was proven for the old one is not. */
			res.id = vnew_id(e);
			res.range = 0;
		}
	}
	*dst = res;
	return 0;
}

static int check_alu(struct venv *e, const struct visor_insn *in)
{
	uint8_t op = VISOR_OP(in->code);
	bool is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	bool x = VISOR_SRC(in->code) == VISOR_SRC_X;
	struct vreg *dst = vreg(e, in->dst);
	uint32_t pc = e->cur->pc;
	int err;

	if (op == VISOR_ALU_END || op == VISOR_ALU_NEG) {
		if ((err = vcheck_read(e, in->dst)))
			return err;
		if (vreg_is_ptr(dst))
			return vfail(e, -EACCES, pc, "%s of a pointer (%s) is not allowed",
				     op == VISOR_ALU_NEG ? "negation" : "byte swap", vtype_name(dst->type));
		vs_alu(&dst->v, &dst->v, in);
		scalar_reset_id(dst);
		return 0;
	}
	struct vreg src;
	if (x) {
		if ((err = vcheck_read(e, in->src)))
			return err;
		src = *vreg(e, in->src);
	} else {
		vreg_scalar_const(&src, is64 ? (uint64_t)(int64_t)in->imm : (uint64_t)(uint32_t)in->imm);
	}
	if (op == VISOR_ALU_MOV) {
		if (x && is64 && !in->off) {
			if (src.type == T_SCALAR && !vs_is_const(&src.v)) {
				/* Link the copies: a bound learnt on one holds for both. */
				if (!src.id)
					src.id = vreg(e, in->src)->id = vnew_id(e);
			} else if (src.type == T_SCALAR) {
				src.id = 0;
			}
			*dst = src;
			return 0;
		}
		if (vreg_is_ptr(&src) && (in->off || src.maybe_null))
			return vfail(e, -EACCES, pc, "%s of a pointer (%s) is not allowed",
				     in->off ? "a sign-extending move" : "a 32-bit move of a pointer that may be NULL",
				     vtype_name(src.type));
		if (vreg_is_ptr(&src)) {
			/* The low half of an address is a number (the kernel's answer
			 * for privileged programs: w2 = w1 before w2 -= w3). */
			vreg_scalar_unknown(dst);
			vs_zext32(&dst->v);
			vs_urange(&dst->v, 0, UINT32_MAX);
			return 0;
		}
		struct vreg r;
		vreg_scalar_unknown(&r);
		vs_alu(&r.v, &src.v, in);
		*dst = r;
		return 0;
	}
	if ((err = vcheck_read(e, in->dst)))
		return err;
	if ((op == VISOR_ALU_DIV || op == VISOR_ALU_MOD) && !x && in->imm == 0)
		return vfail(e, -EINVAL, pc, "division by the constant 0");
	if (vreg_is_ptr(dst) || vreg_is_ptr(&src))
		return ptr_alu(e, in, dst, &src);
	vs_alu(&dst->v, &src.v, in);
	scalar_reset_id(dst);
	return 0;
}

/* ---- conditional jumps --------------------------------------------------------- */

/* Applies a NULL check's outcome to every copy of the pointer. */
struct null_check {
	uint32_t id, ref;
	bool is_null;
};

static void apply_null(struct vreg *r, struct vslot *slot, void *arg)
{
	struct null_check *nc = arg;
	(void)slot;
	if (!vreg_is_ptr(r) || !r->maybe_null || r->id != nc->id)
		return;
	if (nc->is_null) {
		if (r->ref)
			nc->ref = r->ref;
		vreg_scalar_const(r, 0);
	} else {
		r->maybe_null = false;
	}
}

static void mark_null(struct vstate *s, uint32_t id, bool is_null)
{
	struct null_check nc = {.id = id, .is_null = is_null};
	vstate_each_reg(s, apply_null, &nc);
	if (nc.ref) { /* a NULL record holds nothing to release */
		for (int i = 0; i < s->nrefs; i++) {
			if (s->refs[i] == nc.ref) {
				s->refs[i] = s->refs[s->nrefs - 1];
				s->ref_insn[i] = s->ref_insn[s->nrefs - 1];
				s->nrefs--;
				break;
			}
		}
	}
}

/* Bytes [0, range) of packet pointers with this id are proven readable. */
struct pkt_range {
	uint8_t type;
	uint32_t id, range;
};

static void apply_range(struct vreg *r, struct vslot *slot, void *arg)
{
	const struct pkt_range *pr = arg;
	(void)slot;
	if (r->type == pr->type && r->id == pr->id && r->range < pr->range)
		r->range = pr->range;
}

static void mark_pkt_range(struct vstate *s, uint8_t type, uint32_t id, int32_t range)
{
	struct pkt_range pr = {.type = type, .id = id, .range = (uint32_t)range};
	if (range > 0)
		vstate_each_reg(s, apply_range, &pr);
}

/* Copies a refined scalar to its linked copies. */
static void copy_linked(struct vreg *r, struct vslot *slot, void *arg)
{
	const struct vreg *src = arg;
	(void)slot;
	if (r != src && r->type == T_SCALAR && r->id == src->id)
		r->v = src->v;
}

static void propagate_scalar(struct vstate *s, const struct vreg *src)
{
	if (src->id)
		vstate_each_reg(s, copy_linked, (void *)src);
}

static uint8_t flip(uint8_t op)
{
	switch (op) {
	case VISOR_JMP_JGT: return VISOR_JMP_JLT;
	case VISOR_JMP_JLT: return VISOR_JMP_JGT;
	case VISOR_JMP_JGE: return VISOR_JMP_JLE;
	case VISOR_JMP_JLE: return VISOR_JMP_JGE;
	case VISOR_JMP_JSGT: return VISOR_JMP_JSLT;
	case VISOR_JMP_JSLT: return VISOR_JMP_JSGT;
	case VISOR_JMP_JSGE: return VISOR_JMP_JSLE;
	case VISOR_JMP_JSLE: return VISOR_JMP_JSGE;
	}
	return op;
}

/* "ptr op end" (ptr on the left): which edge proves ptr <= end, and can
 * the outcome already be told from what is proven? edge: 1 taken, 0 fall
 * through, -1 none. */
static int pkt_edge(uint8_t op)
{
	switch (op) {
	case VISOR_JMP_JGT: return 0; /* !(ptr > end) */
	case VISOR_JMP_JGE: return 0; /* ptr < end */
	case VISOR_JMP_JLT: return 1;
	case VISOR_JMP_JLE: return 1;
	}
	return -1;
}

static int check_cond_jmp(struct venv *e, const struct visor_insn *in, uint32_t *next)
{
	uint32_t pc = e->cur->pc;
	uint8_t op = VISOR_OP(in->code), cls = VISOR_CLASS(in->code);
	bool x = VISOR_SRC(in->code) == VISOR_SRC_X;
	uint32_t target = (uint32_t)((int64_t)pc + 1 + in->off);
	int err;

	if ((err = vcheck_read(e, in->dst)) || (x && (err = vcheck_read(e, in->src))))
		return err;
	struct vreg *a = vreg(e, in->dst);
	struct vreg kb, *b = &kb;
	if (x)
		b = vreg(e, in->src);
	else
		vreg_scalar_const(&kb, (uint64_t)(int64_t)in->imm);
	bool aptr = vreg_is_ptr(a), bptr = vreg_is_ptr(b);
	int taken = -1;

	if (!aptr && !bptr) {
		taken = vs_branch(&a->v, &b->v, in->code);
		if (taken < 0) {
			struct vstate *t;
			if ((err = vpush(e, target, &t)))
				return err;
			struct vframe *tf = t->fr[t->curframe];
			struct vreg *ta = &tf->r[in->dst], tkb = kb, *tb = x ? &tf->r[in->src] : &tkb;
			bool ok_t = vs_refine(&ta->v, &tb->v, in->code, true);
			bool ok_f = vs_refine(&a->v, &b->v, in->code, false);
			if (ok_t) {
				propagate_scalar(t, ta);
				if (x)
					propagate_scalar(t, tb);
			}
			if (ok_f) {
				propagate_scalar(e->cur, a);
				if (x)
					propagate_scalar(e->cur, b);
			}
			if (!ok_t && !ok_f)
				return vfail(e, -EFAULT, pc, "internal error: neither edge of the branch is possible");
			if (!ok_t || !ok_f) {
				/* One edge is impossible: drop its state. */
				e->stack.n--;
				if (t->parent)
					t->parent->branches--;
				if (!ok_t) {
					vstate_free(t);
				} else {
					vstate_free(e->cur);
					e->cur = t;
					*next = target;
					return 0;
				}
			}
			*next = pc + 1;
			return 0;
		}
		*next = taken ? target : pc + 1;
		return 0;
	}

	/* NULL checks. */
	bool is64 = cls == VISOR_CLS_JMP;
	const struct vreg *p = aptr ? a : b, *s = aptr ? b : a;
	if (aptr != bptr && s->type == T_SCALAR && vs_is_const(&s->v) && s->v.t.value == 0 && is64 &&
	    (op == VISOR_JMP_JEQ || op == VISOR_JMP_JNE)) {
		if (p->maybe_null) {
			uint32_t id = p->id;
			struct vstate *t;
			if ((err = vpush(e, target, &t)))
				return err;
			/* JEQ: taken when NULL. */
			mark_null(t, id, op == VISOR_JMP_JEQ);
			mark_null(e->cur, id, op != VISOR_JMP_JEQ);
			*next = pc + 1;
			return 0;
		}
		/* A pointer that cannot be NULL. */
		*next = op == VISOR_JMP_JNE ? target : pc + 1;
		return 0;
	}
	if (aptr && bptr) {
		/* Packet bounds: pkt vs pkt_end, pkt_meta vs pkt. */
		const struct vreg *ptr = NULL;
		uint8_t pop = op;
		bool pkt_end_pair = false;
		if ((a->type == T_PKT && b->type == T_PKT_END) ||
		    (a->type == T_PKT_META && b->type == T_PKT && b->off == 0 && vs_is_const(&b->v) &&
		     b->v.t.value == 0 && !b->id)) {
			ptr = a;
			pkt_end_pair = true;
		} else if ((b->type == T_PKT && a->type == T_PKT_END) ||
			   (b->type == T_PKT_META && a->type == T_PKT && a->off == 0 &&
			    vs_is_const(&a->v) && a->v.t.value == 0 && !a->id)) {
			ptr = b;
			pop = flip(op);
			pkt_end_pair = true;
		}
		if (pkt_end_pair) {
			if (!is64)
				return vfail(e, -EACCES, pc,
					     "packet pointers are compared with 32-bit instructions; use 64-bit compares");
			int edge = pkt_edge(pop);
			if (edge < 0 || ptr->off < 0 || ptr->v.umax > 0xffff) {
				/* Nothing learnt: explore both. */
				struct vstate *t;
				if ((err = vpush(e, target, &t)))
					return err;
				*next = pc + 1;
				return 0;
			}
			/* Already proven: the outcome is known. */
			if ((uint32_t)ptr->off <= ptr->range && (pop == VISOR_JMP_JGT || pop == VISOR_JMP_JLE)) {
				*next = pop == VISOR_JMP_JLE ? target : pc + 1;
				return 0;
			}
			uint8_t type = ptr->type;
			uint32_t id = ptr->id;
			int32_t range = ptr->off;
			struct vstate *t;
			if ((err = vpush(e, target, &t)))
				return err;
			mark_pkt_range(edge ? t : e->cur, type, id, range);
			*next = pc + 1;
			return 0;
		}
		bool same = a->type == b->type ||
			    ((a->type == T_PKT || a->type == T_PKT_END || a->type == T_PKT_META) &&
			     (b->type == T_PKT || b->type == T_PKT_END || b->type == T_PKT_META));
		if (!same)
			return vfail(e, -EACCES, pc,
				     "comparing pointers of different kinds (%s with %s) is not allowed",
				     vtype_name(a->type), vtype_name(b->type));
	}
	/* Pointer against pointer of its kind, or against a number: both ways. */
	struct vstate *t;
	if ((err = vpush(e, target, &t)))
		return err;
	*next = pc + 1;
	return 0;
}

/* ---- lddw ------------------------------------------------------------------------ */

static int check_lddw(struct venv *e, const struct visor_insn *in, uint32_t pc)
{
	struct vreg r;
	memset(&r, 0, sizeof(r));
	vs_const(&r.v, 0);
	switch (in->src) {
	case VISOR_LDDW_IMM:
		vreg_scalar_const(&r, (uint64_t)(uint32_t)in->imm | ((uint64_t)(uint32_t)e->insns[pc + 1].imm << 32));
		break;
	case VISOR_LDDW_MAP_FD:
	case VISOR_LDDW_MAP_IDX:
		r.type = T_MAP_PTR;
		r.map = e->maps[in->imm];
		break;
	case VISOR_LDDW_MAP_VALUE:
	case VISOR_LDDW_MAP_IDX_VALUE: {
		struct visor_map *m = e->maps[in->imm];
		uint32_t off = (uint32_t)e->insns[pc + 1].imm;
		if (visor_map_type(m) != VISOR_MAP_TYPE_ARRAY)
			return vfail(e, -EACCES, pc,
				     "direct value access needs an array map; map '%s' is a %s map",
				     visor_map_name(m), visor_map_type_name(visor_map_type(m)));
		if (off >= visor_map_value_size(m))
			return vfail(e, -EACCES, pc, "offset %u is past the value of map '%s' (%u bytes)",
				     off, visor_map_name(m), visor_map_value_size(m));
		r.type = T_MAP_VALUE;
		r.map = m;
		r.off = (int32_t)off;
		break;
	}
	case VISOR_LDDW_FUNC:
		r.type = T_FUNC;
		r.func = (int32_t)((int64_t)pc + 1 + in->imm);
		break;
	default:
		return vfail(e, -EINVAL, pc, "lddw with source %u is not supported", in->src);
	}
	*vreg(e, in->dst) = r;
	return 0;
}

/* ---- the main loop ------------------------------------------------------------------ */

static int init_state(struct venv *e)
{
	struct vstate *s = vstate_new();
	if (!s)
		return vfail(e, -ENOMEM, -1, "out of memory");
	e->cur = s;
	struct vframe *f = s->fr[0];
	f->subprog = 0;
	struct vreg *r1 = &f->r[1];
	memset(r1, 0, sizeof(*r1));
	vs_const(&r1->v, 0);
	if (e->type) {
		r1->type = T_CTX;
	} else if (e->o->ctx_size) {
		/* r1: the memory; r2: its length (visor_vm_exec gives an
		 * unchecked run exactly this much). */
		r1->type = T_MEM;
		r1->mem_size = e->o->ctx_size;
		vreg_scalar_const(&f->r[2], e->o->ctx_size);
	} else {
		/* No memory: r1 and r2 are whatever the caller passes. */
		vreg_scalar_unknown(r1);
		vreg_scalar_unknown(&f->r[2]);
	}
	struct vreg *fp = &f->r[10];
	memset(fp, 0, sizeof(*fp));
	fp->type = T_STACK;
	vs_const(&fp->v, 0);
	return 0;
}

/* Registers an instruction writes, for liveness (after it ran). */
static void mark_writes(struct venv *e, const struct visor_insn *in, uint8_t frame_before)
{
	uint8_t cls = VISOR_CLASS(in->code), op = VISOR_OP(in->code);
	switch (cls) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
	case VISOR_CLS_LDX:
		vmark_written_reg(e, in->dst);
		return;
	case VISOR_CLS_LD:
		if (in->code == VISOR_OPCODE_LDDW)
			vmark_written_reg(e, in->dst);
		else
			vcur_frame(e)->wregs |= 0x3f;
		return;
	case VISOR_CLS_STX:
		if (VISOR_MODE(in->code) == VISOR_MODE_ATOMIC && (in->imm & VISOR_ATOMIC_FETCH))
			vmark_written_reg(e, in->imm == VISOR_ATOMIC_CMPXCHG ? 0 : in->src);
		return;
	case VISOR_CLS_JMP:
	case VISOR_CLS_JMP32:
		/* A helper call writes r0-r5; a return writes the caller's. A new
		 * frame starts all written (vframe_new). */
		if (op == VISOR_JMP_CALL)
			e->cur->fr[frame_before]->wregs |= 0x3f;
		else if (op == VISOR_JMP_EXIT && e->cur->curframe < frame_before)
			vcur_frame(e)->wregs |= 0x3f;
		return;
	}
}

static int step_insn(struct venv *e, uint32_t *next, bool *done);

/* "; if (ip->protocol == 6) [parser.c:42]" when the source line changes. */
static void log_source(struct venv *e, uint32_t pc)
{
	const char *file = NULL, *text = NULL;
	unsigned line = 0;
	if (!e->o->line_of || e->o->line_of(e->o->line_ctx, pc, &file, &line, &text) || !line ||
	    (line == e->log_line && file == e->log_file))
		return;
	e->log_line = line;
	e->log_file = file;
	const char *base = file ? strrchr(file, '/') : NULL;
	while (text && (*text == ' ' || *text == '\t'))
		text++;
	vlog(e, 1, "; %s [%s:%u]\n", text ? text : "", base ? base + 1 : file ? file : "?", line);
}

static int step(struct venv *e, uint32_t *next, bool *done)
{
	uint8_t frame_before = e->cur->curframe;
	const struct visor_insn *in = &e->insns[e->cur->pc];
	int err = step_insn(e, next, done);
	if (!err && !*done)
		mark_writes(e, in, frame_before);
	return err;
}

static int step_insn(struct venv *e, uint32_t *next, bool *done)
{
	uint32_t pc = e->cur->pc;
	const struct visor_insn *in = &e->insns[pc];
	uint8_t cls = VISOR_CLASS(in->code), op = VISOR_OP(in->code);

	*next = pc + 1;
	switch (cls) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
		return check_alu(e, in);
	case VISOR_CLS_LDX:
	case VISOR_CLS_ST:
	case VISOR_CLS_STX:
		return vcheck_mem_insn(e, in, pc);
	case VISOR_CLS_LD:
		if (in->code == VISOR_OPCODE_LDDW) {
			*next = pc + 2;
			return check_lddw(e, in, pc);
		}
		return vcheck_ld_abs(e, in, pc);
	case VISOR_CLS_JMP:
	case VISOR_CLS_JMP32:
		if (op == VISOR_JMP_JA) {
			*next = (uint32_t)((int64_t)pc + 1 + (cls == VISOR_CLS_JMP32 ? in->imm : in->off));
			return 0;
		}
		if (op == VISOR_JMP_CALL) {
			*next = pc;
			return vcheck_call(e, in, next);
		}
		if (op == VISOR_JMP_EXIT)
			return vcheck_exit(e, next, done);
		return check_cond_jmp(e, in, next);
	}
	return vfail(e, -EINVAL, pc, "unknown instruction class");
}

static int run(struct venv *e)
{
	int err;
	char dis[96];
	for (;;) {
		struct vstate *st = e->cur;
		uint32_t pc = st->pc;
		bool done = false;
		if (++e->processed > VISOR_VERIFY_INSN_LIMIT)
			return vfail(e, -E2BIG, pc,
				     "the program is too complex: %d instructions were processed without covering every path (is there a loop whose bound is not proven?)",
				     VISOR_VERIFY_INSN_LIMIT);
		e->flags[pc] |= IF_SEEN;
		st->insns++;
		if (e->flags[pc] & IF_PRUNE) {
			st->jumps++;
			int r = visit(e, pc);
			if (r < 0)
				return r;
			if (r == 1) {
				vlog(e, 1, "%u: safe: an explored state covers this one\n", pc);
				done = true;
			}
		}
		if (!done) {
			if (e->o->log_level >= 1) {
				log_source(e, pc);
				visor_disasm_insn(e->insns, e->n, pc, VISOR_SYNTAX_KERNEL, dis, sizeof(dis));
				vlog(e, 1, "%u: %s\n", pc, dis);
			}
			uint32_t next;
			if ((err = step(e, &next, &done)))
				return err;
			if (!done) {
				e->cur->pc = next;
				if (e->o->log_level >= 2)
					log_state(e);
				continue;
			}
		}
		end_path(e);
		vstate_free(e->cur);
		e->cur = NULL;
		if (!e->stack.n)
			return 0;
		e->cur = e->stack.st[--e->stack.n];
		e->loglen = e->cur->loglen;
		e->log_full = false;
		e->log_line = 0;
		vlog(e, 1, "from the branch: continuing at insn %u\n", e->cur->pc);
		if (e->o->log_level >= 2)
			log_state(e);
	}
}

static void env_free(struct venv *e)
{
	free(e->explored);
	varena_free_all(&e->arena);
	for (size_t i = 0; i < e->stack.n; i++)
		vstate_free(e->stack.st[i]);
	free(e->stack.st);
	vstate_free(e->cur);
	free(e->flags);
	free(e->demand);
	free(e->subs);
	free(e->log);
}

int visor_verify(const struct visor_insn *insns, size_t count, struct visor_verify_opts *opts)
{
	struct visor_verify_opts dummy = {.sz = sizeof(dummy)};
	if (!opts)
		opts = &dummy;
	if (opts->sz < offsetof(struct visor_verify_opts, verify_ns) + sizeof(opts->verify_ns))
		return -EINVAL;
	uint64_t t0 = visor_vm_now_ns();
	opts->errmsg[0] = 0;
	opts->err_insn = -1;
	opts->insns_processed = 0;
	opts->states_stored = opts->states_pruned = 0;
	opts->max_stack = 0;
	if (opts->log_buf && opts->log_size)
		opts->log_buf[0] = 0;

	struct venv e = {
		.insns = insns,
		.n = count,
		.o = opts,
		.type = opts->prog_type,
		.maps = opts->maps,
		.nmaps = opts->maps ? opts->nmaps : 0,
		.err_insn = -1,
	};
	int err;
	if (!insns && count)
		return vfail(&e, -EINVAL, -1, "no instructions");
	if (e.type && !visor_vm_prog_type_supported(e.type)) {
		err = vfail(&e, -EINVAL, -1, "program type %u has no context in the visor engine",
			    e.type);
		goto out;
	}
	if (!(e.flags = calloc(count ? count : 1, 1)) ||
	    !(e.explored = calloc(count ? count : 1, sizeof(*e.explored)))) {
		err = vfail(&e, -ENOMEM, -1, "out of memory");
		goto out;
	}
	if ((err = vcfg_check(&e)))
		goto out;
	/* Passes: each prunes with the jumps the earlier ones saw decided;
	 * the result stands once a pass finds no new one. An error found by
	 * any pass is real (pruning only ever skips paths). */
	if ((err = vdemand_compute(&e)) || (err = init_state(&e)))
		goto out;
	if (opts->log_level >= 2)
		log_state(&e);
	err = run(&e);
	if (!err)
		err = vcfg_check_stack(&e);
out:
	opts->insns_processed = e.processed;
	opts->states_stored = e.nstates;
	opts->verify_ns = visor_vm_now_ns() - t0;
	if (!err)
		vlog(&e, 1, "accepted: %" PRIu64 " instructions processed, %u states stored, %u pruned, stack %u bytes\n",
		     e.processed, e.nstates, opts->states_pruned, opts->max_stack);
	if (opts->log_buf && opts->log_size && e.log) {
		size_t n = e.loglen < opts->log_size - 1 ? e.loglen : opts->log_size - 1;
		/* Keep the end of a long log: the error is there. */
		memcpy(opts->log_buf, e.log + (e.loglen - n), n);
		opts->log_buf[n] = 0;
	} else if (opts->log_buf && opts->log_size && err) {
		snprintf(opts->log_buf, opts->log_size, "%s\n", opts->errmsg);
	}
	env_free(&e);
	vstate_cache_flush();
	return err;
}

int visor_verify_vm(struct visor_vm *vm, struct visor_verify_opts *opts)
{
	struct visor_verify_opts dummy = {.sz = sizeof(dummy)};
	if (!vm)
		return -EINVAL;
	if (!opts)
		opts = &dummy;
	size_t count, nmaps;
	const struct visor_insn *insns = visor_vm__program(vm, &count);
	if (!insns) {
		snprintf(opts->errmsg, sizeof(opts->errmsg), "no program is loaded");
		return -EINVAL;
	}
	struct visor_map *const *maps = visor_vm__maps(vm, &nmaps);
	struct visor_verify_opts o = *opts;
	o.prog_type = visor_vm__prog_type(vm);
	o.maps = maps;
	o.nmaps = nmaps;
	int err = visor_verify(insns, count, &o);
	o.prog_type = opts->prog_type;
	o.maps = opts->maps;
	o.nmaps = opts->nmaps;
	*opts = o;
	visor_vm__set_verified(vm, err == 0, o.ctx_size);
	return err;
}
