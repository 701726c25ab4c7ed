/* BTF: the types are read with libbpf's BTF API; .BTF.ext (func info, line
 * info, CO-RE relocations) has no public iterator in libbpf 1.1, so its
 * simple record layout is walked here, every count checked against the
 * bytes present. Records keep byte offsets until a program places the
 * function they belong to; then they become instruction indexes. */
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "object_internal.h"

#define BTF_EXT_MAGIC 0xeB9F

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

int obj_load_btf(struct visor_obj *obj, struct obj_elf *e)
{
	if (e->btf_sec < 0)
		return 0;
	const struct obj_sec *s = &e->secs[e->btf_sec];
	if (s->size > UINT32_MAX)
		return obj_err(obj, E2BIG, ".BTF is too large");
	errno = 0;
	obj->btf = btf__new(s->data, (uint32_t)s->size);
	if (!obj->btf) {
		int err = errno == ENOMEM ? ENOMEM : EINVAL;
		/* as libbpf: BTF is optional unless maps are defined with it;
		 * without it there is just no line info */
		if (e->maps_sec < 0 && err != ENOMEM)
			return 0;
		return obj_err(obj, err, "bad .BTF section (%zu bytes)", s->size);
	}
	return 0;
}

struct sec_name {
	const char *name;
	int idx;
};

static int cmp_sec_name(const void *a, const void *b)
{
	const struct sec_name *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The executable section a .BTF.ext record group names (the first of that
 * name), or -1; the index keeps a file of many groups and many sections
 * from costing their product. */
static int exec_sec_by_name(const struct sec_name *idx, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(idx[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(idx[lo].name, name) == 0 ? idx[lo].idx : -1;
}

enum ext_kind { EXT_FUNC, EXT_LINE, EXT_CORE };

/* One of the three info blocks: rec_size, then groups of
 * {sec_name_off, num_info, records[num_info]}. */
static int parse_block(struct visor_obj *obj, struct obj_elf *e, const struct sec_name *secs,
		       size_t nsecs, const uint8_t *p, size_t len, enum ext_kind kind)
{
	static const uint32_t min_rec[] = {8, 16, 16};
	static const char *const what[] = {"func info", "line info", "CO-RE relocation"};

	if (len == 0)
		return 0;
	if (len < 4)
		return obj_err(obj, EINVAL, ".BTF.ext %s block is truncated", what[kind]);
	uint32_t rec = rd32(p);
	if (rec < min_rec[kind] || rec % 4 || rec > len)
		return obj_err(obj, EINVAL, ".BTF.ext %s record size %u is bad", what[kind], rec);
	/* bound the array by what the bytes can hold */
	size_t max = (len - 4) / rec;
	void *arr = calloc(max ? max : 1, kind == EXT_FUNC ? sizeof(struct ext_func) :
				 kind == EXT_LINE ? sizeof(struct ext_line) :
						    sizeof(struct ext_core));
	if (!arr)
		return obj_err(obj, ENOMEM, "out of memory");
	size_t n = 0;
	size_t pos = 4;
	while (pos < len) {
		if (len - pos < 8) {
			free(arr);
			return obj_err(obj, EINVAL, ".BTF.ext %s group header is truncated",
				       what[kind]);
		}
		uint32_t name_off = rd32(p + pos), num = rd32(p + pos + 4);
		pos += 8;
		if (num > (len - pos) / rec) {
			free(arr);
			return obj_err(obj, EINVAL, ".BTF.ext %s group claims %u records", what[kind],
				       num);
		}
		const char *name = btf__name_by_offset(obj->btf, name_off);
		int sec = name ? exec_sec_by_name(secs, nsecs, name) : -1;
		if (!name) {
			free(arr);
			return obj_err(obj, EINVAL, ".BTF.ext %s names a bad section", what[kind]);
		}
		for (uint32_t i = 0; i < num; i++, pos += rec) {
			const uint8_t *r = p + pos;
			uint32_t off = rd32(r);
			if (sec < 0)
				continue; /* a section we do not load */
			if (off % BPF_INSN_SZ || off >= e->secs[sec].size) {
				free(arr);
				return obj_err(obj, EINVAL, ".BTF.ext %s offset %u is bad in '%s'",
					       what[kind], off, name);
			}
			if (kind == EXT_FUNC) {
				struct ext_func *f = (struct ext_func *)arr + n++;
				f->sec = (uint32_t)sec;
				f->insn_off = off;
				f->type_id = rd32(r + 4);
			} else if (kind == EXT_LINE) {
				struct ext_line *l = (struct ext_line *)arr + n++;
				l->sec = (uint32_t)sec;
				l->insn_off = off;
				l->file_off = rd32(r + 4);
				l->line_off = rd32(r + 8);
				l->line_col = rd32(r + 12);
				if (!btf__name_by_offset(obj->btf, l->file_off) ||
				    !btf__name_by_offset(obj->btf, l->line_off)) {
					free(arr);
					return obj_err(obj, EINVAL,
						       ".BTF.ext line info has a bad string offset");
				}
			} else {
				struct ext_core *c = (struct ext_core *)arr + n++;
				c->sec = (uint32_t)sec;
				c->insn_off = off;
				c->type_id = rd32(r + 4);
				c->access_off = rd32(r + 8);
				c->kind = rd32(r + 12);
				if (!btf__name_by_offset(obj->btf, c->access_off)) {
					free(arr);
					return obj_err(obj, EINVAL,
						       ".BTF.ext CO-RE relocation has a bad access string");
				}
			}
		}
	}
	if (kind == EXT_FUNC) {
		e->finfo = arr;
		e->nfinfo = n;
	} else if (kind == EXT_LINE) {
		e->lines = arr;
		e->nlines = n;
	} else {
		e->cores = arr;
		e->ncores = n;
	}
	return 0;
}

/* Sort keys: (section, offset); stable enough since groups are in order. */
static int cmp_line(const void *a, const void *b)
{
	const struct ext_line *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->insn_off < y->insn_off ? -1 : x->insn_off > y->insn_off;
}

static int cmp_func(const void *a, const void *b)
{
	const struct ext_func *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->insn_off < y->insn_off ? -1 : x->insn_off > y->insn_off;
}

static int cmp_core(const void *a, const void *b)
{
	const struct ext_core *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->insn_off < y->insn_off ? -1 : x->insn_off > y->insn_off;
}

int obj_parse_btf_ext(struct visor_obj *obj, struct obj_elf *e)
{
	if (e->btf_ext_sec < 0 || !obj->btf)
		return 0;
	const struct obj_sec *s = &e->secs[e->btf_ext_sec];
	const uint8_t *p = s->data;
	size_t size = s->size;
	if (size < 8)
		return obj_err(obj, EINVAL, ".BTF.ext is truncated (%zu bytes)", size);
	uint16_t magic;
	memcpy(&magic, p, 2);
	if (magic != BTF_EXT_MAGIC)
		return obj_err(obj, magic == 0x9FeB ? ENOTSUP : EINVAL,
			       ".BTF.ext has bad magic 0x%04x", magic);
	if (p[2] != 1)
		return obj_err(obj, ENOTSUP, ".BTF.ext version %u is not supported", p[2]);
	uint32_t hdr_len = rd32(p + 4);
	if (hdr_len < 24 || hdr_len > size)
		return obj_err(obj, EINVAL, ".BTF.ext header length %u is bad", hdr_len);
	/* offsets are relative to the end of the header */
	size_t body = size - hdr_len;
	const uint8_t *b = p + hdr_len;
	struct {
		uint32_t off, len;
	} blk[3] = {{rd32(p + 8), rd32(p + 12)}, {rd32(p + 16), rd32(p + 20)}, {0, 0}};
	if (hdr_len >= 32)
		blk[2].off = rd32(p + 24), blk[2].len = rd32(p + 28);
	struct sec_name *secs = calloc(e->nsecs, sizeof(*secs));
	size_t nsecs = 0;
	if (!secs)
		return obj_err(obj, ENOMEM, "out of memory");
	for (size_t i = 1; i < e->nsecs; i++)
		if (e->secs[i].kind == SEC_PROG || e->secs[i].kind == SEC_TEXT)
			secs[nsecs++] = (struct sec_name){e->secs[i].name, (int)i};
	obj_sort(secs, nsecs, sizeof(*secs), cmp_sec_name);
	int err = 0;
	for (int k = 0; k < 3 && !err; k++) {
		if (blk[k].off > body || blk[k].len > body - blk[k].off)
			err = obj_err(obj, EINVAL, ".BTF.ext block %d lies outside the section", k);
		else
			err = parse_block(obj, e, secs, nsecs, b + blk[k].off, blk[k].len,
					  (enum ext_kind)k);
	}
	free(secs);
	if (err)
		return err;
	obj_sort(e->finfo, e->nfinfo, sizeof(*e->finfo), cmp_func);
	obj_sort(e->lines, e->nlines, sizeof(*e->lines), cmp_line);
	obj_sort(e->cores, e->ncores, sizeof(*e->cores), cmp_core);
	return 0;
}

/* First record of section sec at or after byte offset off (lower bound). */
#define LOWER_BOUND(arr, n, sec_, off_)                                                 \
	({                                                                              \
		size_t lo_ = 0, hi_ = (n);                                              \
		while (lo_ < hi_) {                                                     \
			size_t mid_ = lo_ + (hi_ - lo_) / 2;                            \
			if ((arr)[mid_].sec < (sec_) ||                                 \
			    ((arr)[mid_].sec == (sec_) && (arr)[mid_].insn_off < (off_))) \
				lo_ = mid_ + 1;                                         \
			else                                                            \
				hi_ = mid_;                                             \
		}                                                                       \
		lo_;                                                                    \
	})

/* Copies the records of function f, placed at instruction base, into prog. */
int obj_prog_attach_ext(struct visor_obj *obj, struct obj_elf *e, struct visor_obj_prog *prog,
			const struct obj_func *f, uint32_t base)
{
	uint64_t end = f->off + f->size;
	size_t cap;

	/* line info */
	cap = prog->nlines;
	for (size_t i = LOWER_BOUND(e->lines, e->nlines, f->sec, f->off);
	     i < e->nlines && e->lines[i].sec == f->sec && e->lines[i].insn_off < end; i++) {
		const struct ext_line *l = &e->lines[i];
		uint32_t idx = base + (uint32_t)((l->insn_off - f->off) / BPF_INSN_SZ);
		/* one record per instruction keeps the copy bounded by the code */
		if (prog->nlines && prog->lines[prog->nlines - 1].insn_idx == idx)
			continue;
		struct obj_line *o = obj_grow((void **)&prog->lines, &cap, prog->nlines,
					      sizeof(*o));
		if (!o)
			return obj_err(obj, ENOMEM, "out of memory");
		o->insn_idx = idx;
		o->file = btf__name_by_offset(obj->btf, l->file_off);
		o->text = btf__name_by_offset(obj->btf, l->line_off);
		o->line = l->line_col >> 10;
		o->col = l->line_col & 0x3ff;
		prog->nlines++;
	}

	/* CO-RE relocations */
	cap = prog->ncores;
	for (size_t i = LOWER_BOUND(e->cores, e->ncores, f->sec, f->off);
	     i < e->ncores && e->cores[i].sec == f->sec && e->cores[i].insn_off < end; i++) {
		const struct ext_core *c = &e->cores[i];
		uint32_t idx = base + (uint32_t)((c->insn_off - f->off) / BPF_INSN_SZ);
		if (prog->ncores && prog->cores[prog->ncores - 1].insn_idx == idx)
			continue;
		struct visor_obj_core_relo *o = obj_grow((void **)&prog->cores, &cap, prog->ncores,
							 sizeof(*o));
		if (!o)
			return obj_err(obj, ENOMEM, "out of memory");
		o->insn_idx = idx;
		o->kind = c->kind;
		o->type_id = c->type_id;
		o->access = btf__name_by_offset(obj->btf, c->access_off);
		prog->ncores++;
	}
	return 0;
}

/* The BTF FUNC id of the function starting at f, from func info. */
uint32_t obj_func_btf_id(const struct obj_elf *e, const struct obj_func *f)
{
	size_t i = LOWER_BOUND(e->finfo, e->nfinfo, f->sec, f->off);
	if (i < e->nfinfo && e->finfo[i].sec == f->sec && e->finfo[i].insn_off == f->off)
		return e->finfo[i].type_id;
	return 0;
}

/* ---- Externs ------------------------------------------------------------ */

struct ext_decl {
	const char *name;
	uint32_t kind;
};

static int cmp_decl(const void *a, const void *b)
{
	return strcmp(((const struct ext_decl *)a)->name, ((const struct ext_decl *)b)->name);
}

/* Every variable and function the .kconfig and .ksyms DATASECs declare,
 * sorted by name (one pass over the types, whatever the extern count). */
static int extern_decls(const struct btf *btf, struct ext_decl **out, size_t *count)
{
	size_t n = 0, cap = 0;
	struct ext_decl *d = NULL;
	uint32_t ntypes = btf ? btf__type_cnt(btf) : 0;

	for (uint32_t id = 1; id < ntypes; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!t || !btf_is_datasec(t))
			continue;
		const char *sec = btf__name_by_offset(btf, t->name_off);
		bool kconfig = sec && strcmp(sec, ".kconfig") == 0;
		if (!kconfig && !(sec && strcmp(sec, ".ksyms") == 0))
			continue;
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++) {
			const struct btf_type *v = btf__type_by_id(btf, vs[i].type);
			const char *vn = v ? btf__name_by_offset(btf, v->name_off) : NULL;
			if (!vn)
				continue;
			struct ext_decl *x = obj_grow((void **)&d, &cap, n, sizeof(*x));
			if (!x) {
				free(d);
				return -ENOMEM;
			}
			x->name = vn;
			x->kind = kconfig ? VISOR_OBJ_EXTERN_KCONFIG :
			          btf_is_func(v) ? VISOR_OBJ_EXTERN_KFUNC : VISOR_OBJ_EXTERN_KSYM;
			n++;
		}
	}
	if (n)
		obj_sort(d, n, sizeof(*d), cmp_decl);
	*out = d;
	*count = n;
	return 0;
}

int obj_collect_externs(struct visor_obj *obj, struct obj_elf *e)
{
	size_t cap = 0, ndecl = 0;
	struct ext_decl *decl = NULL;

	e->sym_ext = calloc(e->nsyms ? e->nsyms : 1, sizeof(*e->sym_ext));
	if (!e->sym_ext || extern_decls(obj->btf, &decl, &ndecl))
		return obj_err(obj, ENOMEM, "out of memory");
	for (size_t i = 0; i < e->nsyms; i++) {
		const struct obj_sym *s = &e->syms[i];
		e->sym_ext[i] = -1;
		if (i == 0 || s->shndx != SHN_UNDEF || !s->name[0] ||
		    (s->bind != STB_GLOBAL && s->bind != STB_WEAK))
			continue;
		struct visor_obj_extern *x = obj_grow((void **)&obj->externs, &cap, obj->nexterns,
						      sizeof(*x));
		if (!x || !(x->name = obj_strdup(obj, s->name))) {
			free(decl);
			return obj_err(obj, ENOMEM, "out of memory");
		}
		struct ext_decl key = {.name = s->name};
		const struct ext_decl *d = ndecl ? bsearch(&key, decl, ndecl, sizeof(*decl),
							   cmp_decl) : NULL;
		x->kind = d ? d->kind : VISOR_OBJ_EXTERN_UNKNOWN;
		x->weak = s->bind == STB_WEAK;
		e->sym_ext[i] = (int32_t)obj->nexterns++;
	}
	free(decl);
	return 0;
}
