/* Verifier states: allocation, copies, and the comparisons that prune the
 * search (an explored state that covers the current one) and find infinite
 * loops (an identical state on the current path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <visor/maps.h>

#include "verifier/state.h"

const char *vtype_name(uint8_t type)
{
	static const char *names[] = {
		[T_NOT_INIT] = "uninitialised", [T_SCALAR] = "scalar",	  [T_CTX] = "ctx",
		[T_STACK] = "fp",		[T_PKT] = "pkt",	  [T_PKT_END] = "pkt_end",
		[T_PKT_META] = "pkt_meta",	[T_MAP_PTR] = "map_ptr",  [T_MAP_VALUE] = "map_value",
		[T_MEM] = "mem",		[T_FUNC] = "func",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

void vreg_not_init(struct vreg *r)
{
	memset(r, 0, sizeof(*r));
}

void vreg_scalar_unknown(struct vreg *r)
{
	memset(r, 0, sizeof(*r));
	r->type = T_SCALAR;
	vs_unknown(&r->v);
}

void vreg_scalar_const(struct vreg *r, uint64_t v)
{
	memset(r, 0, sizeof(*r));
	r->type = T_SCALAR;
	vs_const(&r->v, v);
}

bool vreg_is_ptr(const struct vreg *r)
{
	return r->type != T_NOT_INIT && r->type != T_SCALAR;
}

int vreg_describe(const struct vreg *r, char *buf, size_t len)
{
	char v[96];
	vs_format(&r->v, v, sizeof(v));
	bool var = !(vs_is_const(&r->v) && r->v.t.value == 0);
	const char *null = r->maybe_null ? " or NULL" : "";
	switch (r->type) {
	case T_NOT_INIT:
		return snprintf(buf, len, "uninitialised");
	case T_SCALAR: {
		struct vscalar any;
		vs_unknown(&any);
		if (vs_equal(&r->v, &any))
			return snprintf(buf, len, "scalar (any)");
		return snprintf(buf, len, "scalar %s", v);
	}
	case T_STACK:
		if (r->frameno)
			return snprintf(buf, len, "fp%d%+d%s%s (frame %u)", 0, r->off, var ? " + " : "",
					var ? v : "", r->frameno);
		return snprintf(buf, len, "fp%+d%s%s", r->off, var ? " + " : "", var ? v : "");
	case T_PKT:
	case T_PKT_META:
		return snprintf(buf, len, "%s(off=%d%s%s, %u bytes proven)", vtype_name(r->type), r->off,
				var ? ", var " : "", var ? v : "", r->range);
	case T_MAP_PTR:
		return snprintf(buf, len, "map_ptr(%s)%s", r->map ? visor_map_name(r->map) : "?", null);
	case T_MAP_VALUE:
		return snprintf(buf, len, "map_value(%s, off=%d%s%s)%s",
				r->map ? visor_map_name(r->map) : "?", r->off, var ? ", var " : "",
				var ? v : "", null);
	case T_MEM:
		return snprintf(buf, len, "mem(%u bytes%s, off=%d%s%s)%s", r->mem_size,
				r->rdonly ? ", read-only" : "", r->off, var ? ", var " : "",
				var ? v : "", null);
	case T_FUNC:
		return snprintf(buf, len, "func(insn %d)", r->func);
	default:
		return snprintf(buf, len, "%s", vtype_name(r->type));
	}
}

/* ---- allocation --------------------------------------------------------- */

/* Free lists: frames, states, and slot arrays of 8, 16, 32 and 64 slots. */
#define CACHE_MAX 4096
#define NCLASSES 4
struct free_item {
	struct free_item *next;
};
struct cache {
	struct free_item *head;
	unsigned n;
};
static __thread struct cache frames, states, slot_arrays[NCLASSES];

static void *cache_get(struct cache *c, size_t size)
{
	struct free_item *it = c->head;
	if (!it)
		return malloc(size);
	c->head = it->next;
	c->n--;
	return it;
}

static void cache_put(struct cache *c, void *p)
{
	if (!p)
		return;
	if (c->n >= CACHE_MAX) {
		free(p);
		return;
	}
	struct free_item *it = p;
	it->next = c->head;
	c->head = it;
	c->n++;
}

static void cache_drain(struct cache *c)
{
	for (struct free_item *it = c->head, *nx; it; it = nx) {
		nx = it->next;
		free(it);
	}
	c->head = NULL;
	c->n = 0;
}

void vstate_cache_flush(void)
{
	cache_drain(&frames);
	cache_drain(&states);
	for (int i = 0; i < NCLASSES; i++)
		cache_drain(&slot_arrays[i]);
}

static int slot_class(uint32_t slots, uint16_t *cap)
{
	int k = 0;
	uint32_t c = 8;
	while (c < slots) {
		c *= 2;
		k++;
	}
	*cap = (uint16_t)c;
	return k;
}

static struct vslot *slots_alloc(uint32_t slots, uint16_t *cap)
{
	int k = slot_class(slots, cap);
	return cache_get(&slot_arrays[k], *cap * sizeof(struct vslot));
}

static void slots_free(struct vslot *s, uint16_t cap)
{
	uint16_t c;
	if (s)
		cache_put(&slot_arrays[slot_class(cap, &c)], s);
}

struct vframe *vframe_new(void)
{
	struct vframe *f = cache_get(&frames, sizeof(*f));
	if (f)
		memset(f, 0, sizeof(*f));
	if (f) {
		f->callsite = -1;
		f->cb_helper = -1;
		f->wregs = 0x7ff; /* a new frame: nothing in it comes from before */
		f->wslots = ~0ull;
	}
	return f;
}

void vframe_free(struct vframe *f)
{
	if (!f)
		return;
	for (int i = 0; i < VISOR_MAX_CALL_DEPTH; i++)
		vframe_free(f->saved[i]);
	slots_free(f->slots, f->cap);
	cache_put(&frames, f);
}

int vframe_grow(struct vframe *f, uint32_t slots)
{
	if (slots <= f->nslots)
		return 0;
	if (slots > f->cap) {
		uint16_t cap;
		struct vslot *s = slots_alloc(slots, &cap);
		if (!s)
			return -1;
		if (f->nslots)
			memcpy(s, f->slots, f->nslots * sizeof(*s));
		slots_free(f->slots, f->cap);
		f->slots = s;
		f->cap = cap;
	}
	memset(f->slots + f->nslots, 0, (slots - f->nslots) * sizeof(*f->slots));
	f->nslots = (uint16_t)slots;
	return 0;
}

struct vframe *vframe_dup(const struct vframe *f)
{
	struct vframe *d = cache_get(&frames, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d, f, sizeof(*d));
	d->slots = NULL;
	d->cap = 0;
	memset(d->saved, 0, sizeof(d->saved));
	if (f->nslots) {
		d->slots = slots_alloc(f->nslots, &d->cap);
		if (!d->slots) {
			cache_put(&frames, d);
			return NULL;
		}
		memcpy(d->slots, f->slots, f->nslots * sizeof(*d->slots));
	}
	for (int i = 0; i < VISOR_MAX_CALL_DEPTH; i++) {
		if (f->saved[i] && !(d->saved[i] = vframe_dup(f->saved[i]))) {
			vframe_free(d);
			return NULL;
		}
	}
	return d;
}

struct varena_chunk {
	struct varena_chunk *next;
	size_t size;
};
#define ARENA_CHUNK (64u << 10) /* the first; each next one twice as big */
#define ARENA_MMAP (2u << 20)   /* from here on, chunks come from mmap */

/* Chunks are zeroed (nothing is reused inside one, so nothing needs
 * clearing) and grow; the large ones come from mmap, populated in one call
 * (first-touch page faults were half the verification time of large
 * programs on a paravirtualised kernel). */
void *varena_alloc(struct varena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if ((size_t)(a->end - a->p) < size) {
		size_t want = a->head ? a->head->size * 2 : ARENA_CHUNK;
		if (want > (64u << 20))
			want = 64u << 20;
		if (want < size + 64)
			want = size + 64;
		void *m;
		if (want < ARENA_MMAP) {
			if (!(m = calloc(1, want)))
				return NULL;
		} else {
			m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				return NULL;
			/* Huge pages where the kernel offers them, faulted in at once. */
			madvise(m, want, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
			madvise(m, want, MADV_POPULATE_WRITE);
#endif
		}
		struct varena_chunk *c = m;
		c->next = a->head;
		c->size = want;
		a->head = c;
		a->p = (char *)c + ((sizeof(*c) + 15) & ~(size_t)15);
		a->end = (char *)c + want;
	}
	void *r = a->p;
	a->p += size;
	return r;
}

void varena_free_all(struct varena *a)
{
	for (struct varena_chunk *c = a->head, *nx; c; c = nx) {
		nx = c->next;
		if (c->size < ARENA_MMAP)
			free(c);
		else
			munmap(c, c->size);
	}
	a->head = NULL;
	a->p = a->end = NULL;
}

static struct vframe *frame_dup_arena(const struct vframe *f, struct varena *a)
{
	struct vframe *d = varena_alloc(a, sizeof(*d) + f->nslots * sizeof(struct vslot));
	if (!d)
		return NULL;
	memcpy(d, f, sizeof(*d));
	d->slots = (struct vslot *)(d + 1);
	d->cap = f->nslots;
	if (f->nslots)
		memcpy(d->slots, f->slots, f->nslots * sizeof(struct vslot));
	for (int i = 0; i < VISOR_MAX_CALL_DEPTH; i++)
		if (f->saved[i] && !(d->saved[i] = frame_dup_arena(f->saved[i], a)))
			return NULL;
	return d;
}

struct vstate *vstate_dup_arena(const struct vstate *s, struct varena *a)
{
	struct vstate *d = varena_alloc(a, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d, s, sizeof(*d));
	for (int i = 0; i <= s->curframe; i++)
		if (!(d->fr[i] = frame_dup_arena(s->fr[i], a)))
			return NULL;
	return d;
}

struct vstate *vstate_new(void)
{
	struct vstate *s = cache_get(&states, sizeof(*s));
	if (s)
		memset(s, 0, sizeof(*s));
	if (s && !(s->fr[0] = vframe_new())) {
		cache_put(&states, s);
		return NULL;
	}
	return s;
}

void vstate_free(struct vstate *s)
{
	if (!s)
		return;
	for (int i = 0; i <= s->curframe; i++)
		vframe_free(s->fr[i]);
	cache_put(&states, s);
}

struct vstate *vstate_dup(const struct vstate *s)
{
	struct vstate *d = cache_get(&states, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d, s, sizeof(*d));
	memset(d->fr, 0, sizeof(d->fr));
	for (int i = 0; i <= s->curframe; i++) {
		if (!(d->fr[i] = vframe_dup(s->fr[i]))) {
			d->curframe = (uint8_t)(i ? i - 1 : 0);
			if (i)
				vstate_free(d);
			else
				cache_put(&states, d);
			return NULL;
		}
	}
	return d;
}

void vstate_each_reg(struct vstate *s, void (*fn)(struct vreg *r, struct vslot *slot, void *arg),
		     void *arg)
{
	for (int f = 0; f <= s->curframe; f++) {
		struct vframe *fr = s->fr[f];
		for (int r = 0; r < 11; r++)
			fn(&fr->r[r], NULL, arg);
		for (int i = 0; i < fr->nslots; i++)
			if (fr->slots[i].kind[0] == SB_SPILL)
				fn(&fr->slots[i].spill, &fr->slots[i], arg);
	}
}

/* ---- comparison --------------------------------------------------------- */

/* Ids of old mapped to ids of cur, consistently in both directions. */
#define IDMAP_LEN 64
struct idmap {
	uint32_t old[IDMAP_LEN], cur[IDMAP_LEN];
	int n;
};

static bool id_match(struct idmap *m, uint32_t old, uint32_t cur)
{
	if (!old && !cur)
		return true;
	if (!old || !cur)
		return false;
	for (int i = 0; i < m->n; i++) {
		if (m->old[i] == old)
			return m->cur[i] == cur;
		if (m->cur[i] == cur)
			return false;
	}
	if (m->n == IDMAP_LEN)
		return false;
	m->old[m->n] = old;
	m->cur[m->n++] = cur;
	return true;
}

static bool reg_covers(const struct vreg *old, const struct vreg *cur, struct idmap *m, bool exact,
		       bool precise)
{
	if (exact) {
		/* Ids are names: the same up to renaming (a loop that looks a map
		 * up gets a new id each time round and is still the same state). */
		uint32_t ns = old->type == T_SCALAR ? 0x40000000u : 0;
		return old->type == cur->type && old->frameno == cur->frameno &&
		       old->maybe_null == cur->maybe_null && old->rdonly == cur->rdonly &&
		       old->inner == cur->inner && old->off == cur->off &&
		       old->range == cur->range && old->mem_size == cur->mem_size &&
		       old->func == cur->func && old->map == cur->map &&
		       id_match(m, old->id ? old->id | ns : 0, cur->id ? cur->id | ns : 0) &&
		       id_match(m, old->ref ? old->ref | 0x80000000u : 0,
				cur->ref ? cur->ref | 0x80000000u : 0) &&
		       (old->type == T_NOT_INIT || vs_equal(&old->v, &cur->v));
	}
	if (old->type == T_NOT_INIT)
		return true; /* the explored path never read it */
	if (old->type != cur->type)
		return false;
	switch (old->type) {
	case T_SCALAR:
		if (!precise)
			return true; /* no decision depends on its value */
		/* Linked scalars (copies refined together) must be linked alike. */
		if (old->id && !id_match(m, old->id | 0x40000000u, cur->id ? cur->id | 0x40000000u : 0))
			return false;
		return vs_within(&old->v, &cur->v);
	case T_PKT_END:
		return true;
	case T_FUNC:
		return old->func == cur->func;
	case T_CTX:
		return old->off == cur->off && vs_within(&old->v, &cur->v);
	case T_MAP_PTR:
		return old->map == cur->map && old->inner == cur->inner &&
		       old->maybe_null == cur->maybe_null &&
		       (!old->maybe_null || id_match(m, old->id, cur->id));
	default:
		break;
	}
	/* Pointers with an offset. */
	if (old->off != cur->off || old->frameno != cur->frameno || old->map != cur->map ||
	    old->inner != cur->inner ||
	    old->maybe_null != cur->maybe_null || old->rdonly != cur->rdonly ||
	    old->mem_size != cur->mem_size)
		return false;
	if (!vs_within(&old->v, &cur->v))
		return false;
	if ((old->type == T_PKT || old->type == T_PKT_META) && old->range > cur->range)
		return false;
	if (old->id || cur->id)
		if (!id_match(m, old->id, cur->id))
			return false;
	if (old->ref || cur->ref)
		if (!id_match(m, old->ref | 0x80000000u, cur->ref | 0x80000000u))
			return false;
	return true;
}

static bool stack_covers(const struct vframe *old, const struct vframe *cur, struct idmap *m,
			 bool exact, uint64_t rslots, const uint64_t *dbytes)
{
	if (exact && old->nslots != cur->nslots)
		return false;
	for (uint32_t i = 0; i < old->nslots; i++) {
		if (!((rslots >> i) & 1))
			continue; /* never read after: its contents do not matter */
		const struct vslot *o = &old->slots[i];
		static const struct vslot invalid;
		const struct vslot *c = i < cur->nslots ? &cur->slots[i] : &invalid;
		if (exact) {
			if (memcmp(o->kind, c->kind, 8))
				return false;
			if (o->kind[0] == SB_SPILL && !reg_covers(&o->spill, &c->spill, m, true, true))
				return false;
			continue;
		}
		/* Demanded bytes of this slot (all of them without demand info). */
		uint8_t dmask = dbytes ? (uint8_t)(dbytes[i / 8] >> ((i % 8) * 8)) : 0xff;
		bool precise = dmask != 0;
		int on = vslot_spill_len(o), cn = vslot_spill_len(c);
		bool c_data = cn == 0 || c->spill.type == T_SCALAR;
		if (on && o->spill.type != T_SCALAR) {
			/* A spilled pointer: the same pointer, or one it covers. */
			if (cn != 8 || !reg_covers(&o->spill, &c->spill, m, false, precise))
				return false;
			continue;
		}
		if (on && precise) {
			/* A spilled scalar whose value matters: the same width of
			 * spill holding values it covers, or data bytes (which read
			 * back as any value of that width) if it covers those. */
			if (cn == on && c->spill.type == T_SCALAR) {
				if (!reg_covers(&o->spill, &c->spill, m, false, true))
					return false;
			} else {
				struct vscalar any;
				vs_loaded(&any, (unsigned)on, false);
				if (!vs_within(&o->spill.v, &any))
					return false;
			}
		}
		for (int j = 0; j < 8; j++) {
			uint8_t ok = o->kind[j], ck = c->kind[j];
			if (ok == SB_INVALID)
				continue;
			if (ck == SB_INVALID || !c_data)
				return false;
			/* Data byte against data byte: whether it is zero matters
			 * only if the byte is demanded (a spill's bytes were
			 * compared as a value above). */
			if (ok == SB_SPILL || ok == SB_MISC || ok == ck || !((dmask >> j) & 1))
				continue;
			/* old: a zero byte; cur must be zero too. */
			if (ck == SB_SPILL && vs_is_const(&c->spill.v) && c->spill.v.t.value == 0)
				continue;
			return false;
		}
	}
	return true;
}

static bool frame_covers(const struct vframe *old, const struct vframe *cur, struct idmap *m,
			 bool exact, uint16_t rregs, uint64_t rslots, uint16_t dregs,
			 const uint64_t *dbytes)
{
	if (old->callsite != cur->callsite || old->cb_helper != cur->cb_helper)
		return false;
	for (int r = 0; r < 11; r++)
		if (((rregs >> r) & 1) &&
		    !reg_covers(&old->r[r], &cur->r[r], m, exact, (dregs >> r) & 1))
			return false;
	if (!stack_covers(old, cur, m, exact, rslots, dbytes))
		return false;
	for (int i = 0; i < VISOR_MAX_CALL_DEPTH; i++) {
		if (!old->saved[i] != !cur->saved[i])
			return false;
		/* What a callback restores must match exactly: it is the state
		 * the caller continues from. */
		if (old->saved[i] &&
		    !frame_covers(old->saved[i], cur->saved[i], m, true, 0x7ff, ~0ull, 0x7ff, NULL))
			return false;
	}
	return true;
}

static bool state_cmp(const struct vstate *old, const struct vstate *cur, bool exact,
		      const uint16_t *rregs, const uint64_t *rslots, const struct vdemand *d)
{
	struct idmap m;
	m.n = 0;
	if (old->curframe != cur->curframe || old->nrefs != cur->nrefs ||
	    !old->lock_id != !cur->lock_id || old->lock_map != cur->lock_map)
		return false;
	if (old->lock_id && !id_match(&m, old->lock_id, cur->lock_id))
		return false;
	for (int i = 0; i < old->nrefs; i++)
		if (!id_match(&m, old->refs[i] | 0x80000000u, cur->refs[i] | 0x80000000u))
			return false;
	for (int i = 0; i <= old->curframe; i++)
		if (!frame_covers(old->fr[i], cur->fr[i], &m, exact, rregs ? rregs[i] : 0x7ff,
				  rslots ? rslots[i] : ~0ull,
				  d && i == old->curframe ? d->regs : 0x7ff,
				  d && i == old->curframe && !d->all_slots ? d->bytes : NULL))
			return false;
	return true;
}

bool vstate_covers(const struct vckpt *old, const struct vstate *cur, const struct vdemand *d)
{
	return state_cmp(old->st, cur, false, old->rregs, old->rslots, d);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

uint64_t vstate_hash(const struct vstate *s)
{
	uint64_t h = s->curframe;
	for (int f = 0; f <= s->curframe; f++) {
		const struct vframe *fr = s->fr[f];
		h = mix(h, (uint64_t)(uint32_t)fr->callsite);
		for (int r = 0; r < 11; r++) {
			const struct vreg *x = &fr->r[r];
			h = mix(h, x->type | (uint64_t)(uint32_t)x->off << 8);
			if (x->type != T_NOT_INIT)
				h = mix(h, x->v.umin ^ (x->v.umax << 1) ^ x->v.t.value ^ (x->v.t.mask << 3));
		}
		h = mix(h, fr->nslots);
		for (int i = 0; i < fr->nslots; i++) {
			uint64_t k;
			memcpy(&k, fr->slots[i].kind, 8);
			h = mix(h, k);
		}
	}
	return h;
}

bool vstate_same(const struct vstate *a, const struct vstate *b)
{
	return state_cmp(a, b, true, NULL, NULL, NULL);
}
