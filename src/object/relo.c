/* Relocations and linking. Each program becomes one instruction stream: its
 * own function, then every function it calls or takes the address of
 * (bpf_loop callbacks), transitively, each once, as libbpf does for the
 * kernel. Map references become lddw with src MAP_FD/MAP_VALUE and the map
 * index in imm; calls and function addresses get their relative offsets
 * re-computed for the new layout. */
#include <stdlib.h>
#include <string.h>

#include "object_internal.h"

static int cmp_rel(const void *a, const void *b)
{
	const struct obj_rel *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Reads the REL sections that patch code, sorted, every entry checked. */
int obj_collect_relocs(struct visor_obj *obj, struct obj_elf *e)
{
	for (size_t i = 1; i < e->nsecs; i++) {
		const struct obj_sec *rs = &e->secs[i];
		if (rs->sh.sh_type != SHT_REL && rs->sh.sh_type != SHT_RELA)
			continue;
		if (rs->sh.sh_info >= e->nsecs)
			return obj_err(obj, EINVAL, "relocation section '%s' targets section %u",
				       rs->name, rs->sh.sh_info);
		struct obj_sec *ts = &e->secs[rs->sh.sh_info];
		if (ts->kind != SEC_PROG && ts->kind != SEC_TEXT)
			continue; /* .BTF, .BTF.ext, debug info; .maps is read by maps.c */
		if (rs->sh.sh_type == SHT_RELA)
			return obj_err(obj, ENOTSUP, "RELA relocations in '%s' are not supported",
				       ts->name);
		if (rs->sh.sh_link != (uint32_t)e->symtab || rs->sh.sh_entsize != sizeof(Elf64_Rel))
			return obj_err(obj, EINVAL, "bad relocation section '%s'", rs->name);
		if (ts->rels)
			return obj_err(obj, EINVAL, "section '%s' has two relocation sections",
				       ts->name);
		Elf_Data *d = elf_getdata(elf_getscn(e->elf, i), NULL);
		if (!d)
			return obj_err(obj, EINVAL, "cannot read '%s': %s", rs->name, elf_errmsg(-1));
		size_t n = d->d_size / sizeof(Elf64_Rel);
		ts->rels = calloc(n ? n : 1, sizeof(*ts->rels));
		if (!ts->rels)
			return obj_err(obj, ENOMEM, "out of memory");
		for (size_t k = 0; k < n; k++) {
			GElf_Rel r;
			if (!gelf_getrel(d, (int)k, &r))
				return obj_err(obj, EINVAL, "bad relocation %zu in '%s'", k, rs->name);
			uint32_t type = (uint32_t)GELF_R_TYPE(r.r_info);
			uint64_t sym = GELF_R_SYM(r.r_info);
			if (type == R_BPF_NONE)
				continue;
			if (type != R_BPF_64_64 && type != R_BPF_64_32)
				return obj_err(obj, ENOTSUP,
					       "relocation type %u at %s+%llu is not supported", type,
					       ts->name, (unsigned long long)r.r_offset);
			if (r.r_offset % BPF_INSN_SZ || r.r_offset >= ts->size)
				return obj_err(obj, EINVAL, "relocation at %s+%llu is out of range",
					       ts->name, (unsigned long long)r.r_offset);
			if (sym == 0 || sym >= e->nsyms)
				return obj_err(obj, EINVAL,
					       "relocation at %s+%llu has bad symbol index %llu",
					       ts->name, (unsigned long long)r.r_offset,
					       (unsigned long long)sym);
			ts->rels[ts->nrels++] = (struct obj_rel){r.r_offset, type, (uint32_t)sym};
		}
		obj_sort(ts->rels, ts->nrels, sizeof(*ts->rels), cmp_rel);
		for (size_t k = 1; k < ts->nrels; k++)
			if (ts->rels[k].off == ts->rels[k - 1].off)
				return obj_err(obj, EINVAL, "overlapping relocations at %s+%llu",
					       ts->name, (unsigned long long)ts->rels[k].off);
	}
	return 0;
}

static const struct obj_rel *find_rel(const struct obj_sec *s, uint64_t off)
{
	size_t lo = 0, hi = s->nrels;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->rels[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nrels && s->rels[lo].off == off ? &s->rels[lo] : NULL;
}

/* The program being linked. */
struct link {
	struct visor_obj *obj;
	struct obj_elf *e;
	struct visor_obj_prog *prog;
	size_t insn_cap, reloc_cap, sub_cap;
	uint32_t *order;   /* functions in placement order */
	size_t norder, order_cap;
};

/* Appends function fi to the stream (once); returns its base or -errno. */
static int64_t place(struct link *l, size_t fi)
{
	struct obj_elf *e = l->e;
	struct visor_obj_prog *p = l->prog;
	if (e->placed[fi] >= 0)
		return e->placed[fi];
	const struct obj_func *f = &e->funcs[fi];
	size_t n = f->size / BPF_INSN_SZ;
	if (p->insn_count + n > OBJ_MAX_PROG_INSNS ||
	    l->obj->total_insns + n > OBJ_MAX_TOTAL_INSNS)
		return obj_err(l->obj, E2BIG, "program '%s' exceeds %u instructions with '%s'",
			       p->name, p->insn_count + n > OBJ_MAX_PROG_INSNS ?
						OBJ_MAX_PROG_INSNS : OBJ_MAX_TOTAL_INSNS,
			       f->name);
	if (p->insn_count + n > l->insn_cap) {
		size_t cap = l->insn_cap ? l->insn_cap : 64;
		while (cap < p->insn_count + n)
			cap *= 2;
		struct visor_insn *ni = realloc(p->insns, cap * sizeof(*ni));
		if (!ni)
			return obj_err(l->obj, ENOMEM, "out of memory");
		p->insns = ni;
		l->insn_cap = cap;
	}
	uint32_t *slot = obj_grow((void **)&l->order, &l->order_cap, l->norder, sizeof(*slot));
	struct visor_obj_subprog *sp = obj_grow((void **)&p->subprogs, &l->sub_cap, p->nsubprogs,
						sizeof(*sp));
	if (!slot || !sp)
		return obj_err(l->obj, ENOMEM, "out of memory");
	memcpy(p->insns + p->insn_count, e->secs[f->sec].data + f->off, f->size);
	uint32_t base = (uint32_t)p->insn_count;
	*slot = (uint32_t)fi;
	l->norder++;
	*sp = (struct visor_obj_subprog){
		.name = obj_strdup(l->obj, f->name),
		.start = base,
		.insn_count = (uint32_t)n,
		.btf_func_id = obj_func_btf_id(e, f),
		.global = f->global,
	};
	if (!sp->name)
		return obj_err(l->obj, ENOMEM, "out of memory");
	p->nsubprogs++;
	p->insn_count += n;
	l->obj->total_insns += n;
	e->placed[fi] = (int32_t)base;
	return base;
}

static int add_reloc(struct link *l, struct visor_obj_reloc r)
{
	struct visor_obj_reloc *o = obj_grow((void **)&l->prog->relocs, &l->reloc_cap,
					     l->prog->nrelocs, sizeof(*o));
	if (!o)
		return obj_err(l->obj, ENOMEM, "out of memory");
	if (r.sym && !(r.sym = obj_strdup(l->obj, r.sym)))
		return obj_err(l->obj, ENOMEM, "out of memory");
	*o = r;
	l->prog->nrelocs++;
	return 0;
}

/* A call or function address aimed at byte toff of section tsec: place the
 * function holding it and return the target's index in the stream. */
static int64_t code_target(struct link *l, const char *fname, uint32_t insn, uint32_t tsec,
			   int64_t toff)
{
	const struct obj_sec *ts = obj_elf_sec(l->e, tsec);
	const struct obj_func *g = NULL;
	if (ts && toff >= 0 && toff % BPF_INSN_SZ == 0)
		g = obj_elf_func_at(l->e, tsec, (uint64_t)toff);
	if (!g)
		return obj_err(l->obj, EINVAL,
			       "'%s' insn %u: call or address target %s+%lld is not a function",
			       fname, insn, ts ? ts->name : "?", (long long)toff);
	int64_t base = place(l, (size_t)(g - l->e->funcs));
	if (base < 0)
		return base;
	return base + (int64_t)(((uint64_t)toff - g->off) / BPF_INSN_SZ);
}

/* Section symbols have no name of their own: use the section's. */
static const char *sym_name(const struct obj_elf *e, const struct obj_sym *sym)
{
	const struct obj_sec *s = obj_elf_sec(e, sym->shndx);
	if (!sym->name[0] && sym->type == STT_SECTION && s)
		return s->name;
	return sym->name;
}

/* The function holding instruction t of the stream (for CALL/FUNC
 * records); subprograms are in stream order. */
static const char *callee_name(const struct link *l, int64_t t)
{
	const struct visor_obj_subprog *sp = l->prog->subprogs;
	size_t lo = 0, hi = l->prog->nsubprogs;
	while (lo < hi) { /* first subprogram starting after t */
		size_t mid = lo + (hi - lo) / 2;
		if (sp[mid].start <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? sp[lo - 1].name : NULL;
}

static int link_lddw(struct link *l, const struct obj_func *f, uint32_t idx,
		     const struct obj_rel *rel)
{
	struct obj_elf *e = l->e;
	struct visor_insn *in = &l->prog->insns[idx];
	const struct obj_sym *sym = &e->syms[rel->sym];
	struct visor_obj_reloc r = {.insn_idx = idx, .map_idx = -1, .extern_idx = -1,
				    .sym = sym_name(e, sym)};

	if (rel->type != R_BPF_64_64)
		return obj_err(l->obj, EINVAL, "'%s' insn %u: lddw with relocation type %u",
			       f->name, idx, rel->type);
	if (sym->shndx == SHN_UNDEF) {
		if (e->sym_ext[rel->sym] < 0)
			return obj_err(l->obj, EINVAL, "'%s' insn %u: lddw of undefined symbol '%s'",
				       f->name, idx, sym->name);
		r.kind = VISOR_OBJ_RELO_EXTERN;
		r.extern_idx = e->sym_ext[rel->sym];
		in[0].src = 0;
		in[0].imm = 0;
		in[1].imm = 0;
		return add_reloc(l, r);
	}
	const struct obj_sec *ts = obj_elf_sec(e, sym->shndx);
	if (!ts || sym->value > ts->size)
		return obj_err(l->obj, EINVAL, "'%s' insn %u: lddw of '%s' in a bad section",
			       f->name, idx, sym->name);
	int64_t off = (int64_t)sym->value + in[0].imm;
	switch (ts->kind) {
	case SEC_PROG:
	case SEC_TEXT: {
		int64_t t = code_target(l, f->name, idx, sym->shndx, off);
		if (t < 0)
			return (int)t;
		in = &l->prog->insns[idx]; /* place() may have moved the stream */
		r.kind = VISOR_OBJ_RELO_FUNC;
		r.offset = (uint32_t)t;
		r.sym = callee_name(l, t);
		in[0].src = VISOR_PSEUDO_FUNC;
		in[0].imm = (int32_t)(t - (int64_t)idx - 1);
		in[1].imm = 0;
		return add_reloc(l, r);
	}
	case SEC_MAPS:
	case SEC_LEGACY: {
		int m = obj_find_map_sym(e, sym->shndx, (uint64_t)(off < 0 ? 0 : off));
		if (off < 0 || m < 0)
			return obj_err(l->obj, EINVAL, "'%s' insn %u: '%s'%+d is not a map", f->name,
				       idx, sym->name, in[0].imm);
		r.kind = VISOR_OBJ_RELO_MAP_FD;
		r.map_idx = e->mapsyms[m].map_idx;
		in[0].src = VISOR_PSEUDO_MAP_FD;
		in[0].imm = r.map_idx;
		in[1].imm = 0;
		return add_reloc(l, r);
	}
	case SEC_DATA:
		if (off < 0 || (uint64_t)off > ts->size)
			return obj_err(l->obj, EINVAL,
				       "'%s' insn %u: offset %lld is outside '%s' (%zu bytes)",
				       f->name, idx, (long long)off, ts->name, ts->size);
		r.kind = VISOR_OBJ_RELO_MAP_VALUE;
		r.map_idx = ts->map_idx;
		r.offset = (uint32_t)off;
		in[0].src = VISOR_PSEUDO_MAP_VALUE;
		in[0].imm = r.map_idx;
		in[1].imm = (int32_t)off;
		return add_reloc(l, r);
	default:
		return obj_err(l->obj, ENOTSUP,
			       "'%s' insn %u: lddw of '%s' in section '%s', which is no map, data or code",
			       f->name, idx, sym->name, ts->name);
	}
}

static int link_call(struct link *l, const struct obj_func *f, uint32_t idx, uint64_t secoff,
		     const struct obj_rel *rel)
{
	struct obj_elf *e = l->e;
	struct visor_insn *in = &l->prog->insns[idx];
	struct visor_obj_reloc r = {.insn_idx = idx, .map_idx = -1, .extern_idx = -1};
	uint32_t tsec = f->sec;
	int64_t toff;

	if (rel) {
		const struct obj_sym *sym = &e->syms[rel->sym];
		r.sym = sym_name(e, sym);
		if (rel->type != R_BPF_64_32)
			return obj_err(l->obj, EINVAL, "'%s' insn %u: call with relocation type %u",
				       f->name, idx, rel->type);
		if (sym->shndx == SHN_UNDEF) {
			if (e->sym_ext[rel->sym] < 0)
				return obj_err(l->obj, EINVAL, "'%s' insn %u: call of undefined '%s'",
					       f->name, idx, sym->name);
			r.kind = VISOR_OBJ_RELO_KFUNC;
			r.extern_idx = e->sym_ext[rel->sym];
			in->src = VISOR_PSEUDO_KFUNC_CALL;
			in->imm = 0;
			return add_reloc(l, r);
		}
		const struct obj_sec *ts = obj_elf_sec(e, sym->shndx);
		if (!ts || (ts->kind != SEC_PROG && ts->kind != SEC_TEXT) || sym->value > ts->size)
			return obj_err(l->obj, EINVAL, "'%s' insn %u: call of '%s', which is not code",
				       f->name, idx, sym->name);
		/* global functions: imm -1 and the symbol is the callee; static
		 * ones: the section symbol and imm is the callee's offset - 1 */
		tsec = sym->shndx;
		toff = (int64_t)sym->value + ((int64_t)in->imm + 1) * BPF_INSN_SZ;
	} else {
		/* a static callee in the same section: no relocation, imm is
		 * already relative to the call */
		toff = (int64_t)secoff + ((int64_t)in->imm + 1) * BPF_INSN_SZ;
	}
	int64_t t = code_target(l, f->name, idx, tsec, toff);
	if (t < 0)
		return (int)t;
	in = &l->prog->insns[idx];
	r.kind = VISOR_OBJ_RELO_CALL;
	r.offset = (uint32_t)t;
	r.sym = callee_name(l, t);
	in->imm = (int32_t)(t - (int64_t)idx - 1);
	return add_reloc(l, r);
}

/* Walks one placed function (its base may be anywhere in the stream). */
static int link_func(struct link *l, size_t fi)
{
	struct obj_elf *e = l->e;
	const struct obj_func *f = &e->funcs[fi];
	const struct obj_sec *s = &e->secs[f->sec];
	uint32_t base = (uint32_t)e->placed[fi];
	size_t n = f->size / BPF_INSN_SZ;
	int err;

	for (size_t j = 0; j < n; j++) {
		uint32_t idx = base + (uint32_t)j;
		uint64_t secoff = f->off + j * BPF_INSN_SZ;
		const struct obj_rel *rel = find_rel(s, secoff);
		const struct visor_insn in = l->prog->insns[idx];

		if (in.code == OP_LDDW) {
			if (j + 1 >= n)
				return obj_err(l->obj, EINVAL, "'%s' insn %u: lddw cut off by the end",
					       f->name, idx);
			if (find_rel(s, secoff + BPF_INSN_SZ))
				return obj_err(l->obj, EINVAL,
					       "'%s' insn %u: relocation inside an lddw", f->name,
					       idx + 1);
			if (rel)
				err = link_lddw(l, f, idx, rel);
			else if (in.src != 0)
				err = obj_err(l->obj, EINVAL,
					      "'%s' insn %u: lddw with source %u and no relocation",
					      f->name, idx, in.src);
			else
				err = 0;
			if (err)
				return err;
			j++;
			continue;
		}
		if (in.code == OP_CALL && in.src == VISOR_PSEUDO_CALL) {
			if ((err = link_call(l, f, idx, secoff, rel)))
				return err;
			continue;
		}
		if (rel)
			return obj_err(l->obj, EINVAL,
				       "'%s' insn %u: relocation of '%s' on opcode 0x%02x (neither lddw nor call)",
				       f->name, idx, sym_name(e, &e->syms[rel->sym]), in.code);
	}
	return 0;
}

int obj_link_program(struct visor_obj *obj, struct obj_elf *e, struct visor_obj_prog *prog)
{
	struct link l = {.obj = obj, .e = e, .prog = prog};
	int err = 0;

	if (!e->placed) {
		e->placed = malloc((e->nfuncs ? e->nfuncs : 1) * sizeof(*e->placed));
		if (!e->placed)
			return obj_err(obj, ENOMEM, "out of memory");
		for (size_t i = 0; i < e->nfuncs; i++)
			e->placed[i] = -1;
	}
	int64_t b = place(&l, prog->func_idx);
	if (b < 0)
		err = (int)b;
	/* l.norder grows while we walk: appended functions get walked too */
	for (size_t k = 0; !err && k < l.norder; k++)
		err = link_func(&l, l.order[k]);
	for (size_t k = 0; !err && k < l.norder; k++) {
		const struct obj_func *f = &e->funcs[l.order[k]];
		err = obj_prog_attach_ext(obj, e, prog, f, (uint32_t)e->placed[l.order[k]]);
	}
	for (size_t k = 0; k < l.norder; k++)
		e->placed[l.order[k]] = -1;
	free(l.order);
	return err;
}
