/* Map definitions: BTF-defined maps in .maps (read from the BTF struct of
 * each variable, libbpf's __uint/__type/__array encoding), legacy
 * struct bpf_map_def records in "maps", and each global data section as a
 * one-entry array with its initial bytes. Order as libbpf: legacy, BTF,
 * then data maps in section order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "object_internal.h"

#define MAP_TYPE_ARRAY 2
#define MAP_TYPE_PROG_ARRAY 3
#define MAP_TYPE_ARRAY_OF_MAPS 12
#define MAP_TYPE_HASH_OF_MAPS 13
#define MAP_F_RDONLY_PROG (1U << 7)
#define MAX_MODS 32

static struct visor_obj_map_def *new_map(struct visor_obj *obj, size_t *cap)
{
	struct visor_obj_map_def *d = obj_grow((void **)&obj->maps, cap, obj->nmaps, sizeof(*d));
	if (d) {
		memset(d, 0, sizeof(*d));
		obj->nmaps++;
	}
	return d;
}

/* Skips typedef, const, volatile, restrict and type tags (bounded). */
static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	for (int i = 0; t && i < MAX_MODS; i++) {
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			t = btf__type_by_id(btf, id);
			continue;
		default:
			return t;
		}
	}
	return NULL;
}

/* __uint(name, val) is `int (*name)[val]`: the value is the array length.
 * Newer bpf_helpers.h spell 64-bit ones __ulong(name, val), an enum with
 * one enumerator of that value. */
static int int_field64(struct visor_obj *obj, const char *map, const char *field,
		       uint32_t type_id, uint64_t *out)
{
	const struct btf_type *t = skip_mods(obj->btf, type_id);
	if (t && btf_is_any_enum(t) && btf_vlen(t) == 1) {
		*out = btf_is_enum(t) ? (uint32_t)btf_enum(t)->val : btf_enum64_value(btf_enum64(t));
		return 0;
	}
	const struct btf_type *a = t && btf_is_ptr(t) ? skip_mods(obj->btf, t->type) : NULL;
	if (!a || !btf_is_array(a))
		return obj_err(obj, EINVAL, "map '%s': field '%s' is not an __uint()", map, field);
	*out = btf_array(a)->nelems;
	return 0;
}

static int int_field(struct visor_obj *obj, const char *map, const char *field, uint32_t type_id,
		     uint32_t *out)
{
	uint64_t v;
	int err = int_field64(obj, map, field, type_id, &v);
	if (!err && v > UINT32_MAX)
		return obj_err(obj, EINVAL, "map '%s': %s %llu does not fit 32 bits", map, field,
			       (unsigned long long)v);
	*out = (uint32_t)v;
	return err;
}

/* __type(key, T) is `T *key`: the size is T's. */
static int type_field(struct visor_obj *obj, const char *map, const char *field, uint32_t type_id,
		      uint32_t *size, uint32_t *tid)
{
	const struct btf_type *t = skip_mods(obj->btf, type_id);
	if (!t || !btf_is_ptr(t))
		return obj_err(obj, EINVAL, "map '%s': field '%s' is not a __type()", map, field);
	long long sz = btf__resolve_size(obj->btf, t->type);
	if (sz < 0 || sz > UINT32_MAX)
		return obj_err(obj, EINVAL, "map '%s': the size of '%s' cannot be resolved", map,
			       field);
	if (*size && *size != (uint32_t)sz)
		return obj_err(obj, EINVAL, "map '%s': %s size %u conflicts with its type (%lld)",
			       map, field, *size, sz);
	*size = (uint32_t)sz;
	*tid = t->type;
	return 0;
}

struct values_info {
	bool present;
	bool funcs;        /* prog array: pointers to functions */
	uint64_t off;      /* byte offset of the values array in the definition */
};

static int parse_def(struct visor_obj *obj, const char *name, const struct btf_type *st,
		     struct visor_obj_map_def *d, bool inner, struct values_info *vi);

static int values_field(struct visor_obj *obj, struct visor_obj_map_def *d, const char *name,
			const struct btf_member *m, uint64_t bit_off, bool inner,
			struct values_info *vi)
{
	if (inner)
		return obj_err(obj, ENOTSUP, "map '%s': nested map-in-map definitions", name);
	const struct btf_type *a = skip_mods(obj->btf, m->type);
	if (!a || !btf_is_array(a) || btf_array(a)->nelems != 0 || bit_off % 8)
		return obj_err(obj, EINVAL, "map '%s': 'values' is not an __array()", name);
	const struct btf_type *p = skip_mods(obj->btf, btf_array(a)->type);
	const struct btf_type *v = p && btf_is_ptr(p) ? skip_mods(obj->btf, p->type) : NULL;
	if (!v || (!btf_is_struct(v) && !btf_is_func_proto(v)))
		return obj_err(obj, EINVAL,
			       "map '%s': 'values' must point to a map definition or a function",
			       name);
	vi->present = true;
	vi->off = bit_off / 8;
	vi->funcs = btf_is_func_proto(v);
	if (vi->funcs)
		return 0;
	struct visor_obj_map_def *in = calloc(1, sizeof(*in));
	if (!in)
		return obj_err(obj, ENOMEM, "out of memory");
	d->inner = in;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s.inner", name);
	in->name = obj_strdup(obj, buf);
	in->origin = VISOR_OBJ_MAP_INNER;
	if (!in->name)
		return obj_err(obj, ENOMEM, "out of memory");
	return parse_def(obj, in->name, v, in, true, NULL);
}

static int parse_def(struct visor_obj *obj, const char *name, const struct btf_type *st,
		     struct visor_obj_map_def *d, bool inner, struct values_info *vi)
{
	const struct btf_member *m = btf_members(st);
	uint32_t v;
	int err = 0;

	for (uint16_t i = 0; i < btf_vlen(st) && !err; i++, m++) {
		const char *f = btf__name_by_offset(obj->btf, m->name_off);
		if (!f)
			return obj_err(obj, EINVAL, "map '%s': member %u has a bad name", name, i);
		if (strcmp(f, "type") == 0) {
			err = int_field(obj, name, f, m->type, &d->type);
		} else if (strcmp(f, "max_entries") == 0) {
			err = int_field(obj, name, f, m->type, &d->max_entries);
		} else if (strcmp(f, "map_flags") == 0) {
			err = int_field(obj, name, f, m->type, &d->map_flags);
		} else if (strcmp(f, "numa_node") == 0) {
			err = int_field(obj, name, f, m->type, &d->numa_node);
		} else if (strcmp(f, "map_extra") == 0) {
			err = int_field64(obj, name, f, m->type, &d->map_extra);
		} else if (strcmp(f, "pinning") == 0) {
			err = int_field(obj, name, f, m->type, &d->pinning);
			if (!err && d->pinning > 1)
				return obj_err(obj, ENOTSUP, "map '%s': pinning %u is not supported",
					       name, d->pinning);
		} else if (strcmp(f, "key_size") == 0 || strcmp(f, "value_size") == 0) {
			uint32_t *sz = f[0] == 'k' ? &d->key_size : &d->value_size;
			err = int_field(obj, name, f, m->type, &v);
			if (!err && *sz && *sz != v)
				return obj_err(obj, EINVAL, "map '%s': %s %u conflicts with its type (%u)",
					       name, f, v, *sz);
			*sz = v;
		} else if (strcmp(f, "key") == 0) {
			err = type_field(obj, name, f, m->type, &d->key_size, &d->btf_key_type_id);
		} else if (strcmp(f, "value") == 0) {
			err = type_field(obj, name, f, m->type, &d->value_size, &d->btf_value_type_id);
		} else if (strcmp(f, "values") == 0) {
			struct values_info dummy;
			err = values_field(obj, d, name, m, btf_member_bit_offset(st, i), inner,
					   vi ? vi : &dummy);
		} else {
			return obj_err(obj, ENOTSUP, "map '%s': unknown field '%s'", name, f);
		}
	}
	if (err)
		return err;
	if (vi && vi->present) {
		bool mim = d->type == MAP_TYPE_ARRAY_OF_MAPS || d->type == MAP_TYPE_HASH_OF_MAPS;
		if (vi->funcs ? d->type != MAP_TYPE_PROG_ARRAY : !mim)
			return obj_err(obj, EINVAL, "map '%s': 'values' does not fit map type %u", name,
				       d->type);
		if (d->value_size && d->value_size != 4)
			return obj_err(obj, EINVAL, "map '%s': value size must be 4, not %u", name,
				       d->value_size);
		d->value_size = 4;
	}
	return 0;
}

static int cmp_mapsym(const void *a, const void *b)
{
	const struct obj_mapsym *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static struct obj_mapsym *add_mapsym(struct visor_obj *obj, struct obj_elf *e, size_t *cap)
{
	struct obj_mapsym *ms = obj_grow((void **)&e->mapsyms, cap, e->nmapsyms, sizeof(*ms));
	if (!ms) {
		obj_err(obj, ENOMEM, "out of memory");
		return NULL;
	}
	memset(ms, 0, sizeof(*ms));
	e->nmapsyms++;
	return ms;
}

/* Symbols of one section, sorted by name, for the BTF variable lookup. */
static int cmp_symname(const void *a, const void *b)
{
	return strcmp((*(const struct obj_sym *const *)a)->name,
		      (*(const struct obj_sym *const *)b)->name);
}

static int btf_maps(struct visor_obj *obj, struct obj_elf *e, size_t *cap, size_t *mscap)
{
	const struct obj_sec *sec = &e->secs[e->maps_sec];
	if (!obj->btf)
		return obj_err(obj, EINVAL, "section .maps needs BTF, and the object has none");
	int ds = btf__find_by_name_kind(obj->btf, ".maps", BTF_KIND_DATASEC);
	if (ds <= 0)
		return obj_err(obj, EINVAL, "section .maps has no BTF description");
	const struct btf_type *t = btf__type_by_id(obj->btf, (uint32_t)ds);

	size_t nsyms = 0;
	for (size_t i = 0; i < e->nsyms; i++)
		if (e->syms[i].shndx == (uint32_t)e->maps_sec && e->syms[i].type != STT_SECTION)
			nsyms++;
	const struct obj_sym **byname = calloc(nsyms ? nsyms : 1, sizeof(*byname));
	if (!byname)
		return obj_err(obj, ENOMEM, "out of memory");
	nsyms = 0;
	for (size_t i = 0; i < e->nsyms; i++)
		if (e->syms[i].shndx == (uint32_t)e->maps_sec && e->syms[i].type != STT_SECTION)
			byname[nsyms++] = &e->syms[i];
	obj_sort(byname, nsyms, sizeof(*byname), cmp_symname);

	int err = 0;
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (uint16_t i = 0; i < btf_vlen(t) && !err; i++) {
		const struct btf_type *var = btf__type_by_id(obj->btf, vs[i].type);
		const char *name = var ? btf__name_by_offset(obj->btf, var->name_off) : NULL;
		if (!var || !btf_is_var(var) || !name || !*name) {
			err = obj_err(obj, EINVAL, ".maps entry %u is not a named variable", i);
			break;
		}
		const struct btf_type *st = skip_mods(obj->btf, var->type);
		if (!st || !btf_is_struct(st)) {
			err = obj_err(obj, EINVAL, "map '%s' is not a struct", name);
			break;
		}
		struct obj_sym key = {.name = name};
		const struct obj_sym *kp = &key;
		const struct obj_sym **sp = nsyms ? bsearch(&kp, byname, nsyms, sizeof(*byname),
							    cmp_symname) : NULL;
		if (!sp) {
			err = obj_err(obj, EINVAL, "map '%s' has no symbol in .maps", name);
			break;
		}
		const struct obj_sym *sym = *sp;
		if (sym->value > sec->size || sym->size > sec->size - sym->value) {
			err = obj_err(obj, EINVAL, "map '%s' lies outside .maps", name);
			break;
		}
		struct visor_obj_map_def *d = new_map(obj, cap);
		if (!d || !(d->name = obj_strdup(obj, name))) {
			err = obj_err(obj, ENOMEM, "out of memory");
			break;
		}
		d->origin = VISOR_OBJ_MAP_BTF;
		struct values_info vi = {0};
		err = parse_def(obj, name, st, d, false, &vi);
		if (err)
			break;
		struct obj_mapsym *ms = add_mapsym(obj, e, mscap);
		if (!ms) {
			err = -ENOMEM;
			break;
		}
		ms->sec = (uint32_t)e->maps_sec;
		ms->off = sym->value;
		ms->size = sym->size;
		ms->map_idx = (int)obj->nmaps - 1;
		ms->has_values = vi.present;
		ms->values_off = vi.off;
	}
	free(byname);
	return err;
}

static int legacy_maps(struct visor_obj *obj, struct obj_elf *e, size_t *cap, size_t *mscap)
{
	const struct obj_sec *sec = &e->secs[e->legacy_sec];
	size_t nr = 0;
	for (size_t i = 0; i < e->nsyms; i++)
		if (e->syms[i].shndx == (uint32_t)e->legacy_sec && e->syms[i].type != STT_SECTION &&
		    e->syms[i].name[0])
			nr++;
	if (!nr)
		return 0;
	if (sec->size % nr || sec->size / nr < 16 || (sec->size / nr) % 4)
		return obj_err(obj, EINVAL,
			       "legacy maps section: %zu bytes do not divide into %zu definitions",
			       sec->size, nr);
	size_t def_sz = sec->size / nr;
	size_t first = e->nmapsyms;
	for (size_t i = 0; i < e->nsyms; i++) {
		const struct obj_sym *s = &e->syms[i];
		if (s->shndx != (uint32_t)e->legacy_sec || s->type == STT_SECTION || !s->name[0])
			continue;
		if (s->value > sec->size || def_sz > sec->size - s->value)
			return obj_err(obj, EINVAL, "legacy map '%s' lies outside section maps",
				       s->name);
		const uint8_t *p = sec->data + s->value;
		uint32_t f[5] = {0};
		memcpy(f, p, def_sz < sizeof(f) ? def_sz : sizeof(f));
		for (size_t k = sizeof(f); k < def_sz; k++)
			if (p[k])
				return obj_err(obj, ENOTSUP,
					       "legacy map '%s' has fields beyond struct bpf_map_def",
					       s->name);
		struct obj_mapsym *ms = add_mapsym(obj, e, mscap);
		if (!ms)
			return -ENOMEM;
		ms->sec = (uint32_t)e->legacy_sec;
		ms->off = s->value;
		ms->size = def_sz;
		ms->map_idx = (int)i; /* the symbol until the maps are made, in offset order */
	}
	obj_sort(e->mapsyms + first, e->nmapsyms - first, sizeof(*e->mapsyms), cmp_mapsym);
	for (size_t k = first; k < e->nmapsyms; k++) {
		struct obj_mapsym *ms = &e->mapsyms[k];
		const struct obj_sym *s = &e->syms[ms->map_idx];
		struct visor_obj_map_def *d = new_map(obj, cap);
		if (!d || !(d->name = obj_strdup(obj, s->name)))
			return obj_err(obj, ENOMEM, "out of memory");
		uint32_t f[5] = {0};
		memcpy(f, sec->data + s->value, def_sz < sizeof(f) ? def_sz : sizeof(f));
		d->origin = VISOR_OBJ_MAP_LEGACY;
		d->type = f[0];
		d->key_size = f[1];
		d->value_size = f[2];
		d->max_entries = f[3];
		d->map_flags = f[4];
		ms->map_idx = (int)obj->nmaps - 1;
	}
	return 0;
}

struct named_id {
	const char *name;
	uint32_t id;
};

static int cmp_named_id(const void *a, const void *b)
{
	return strcmp(((const struct named_id *)a)->name, ((const struct named_id *)b)->name);
}

static uint32_t datasec_id(const struct named_id *ds, size_t n, const char *name)
{
	struct named_id key = {.name = name};
	const struct named_id *f = n ? bsearch(&key, ds, n, sizeof(*ds), cmp_named_id) : NULL;
	return f ? f->id : 0;
}

/* Every DATASEC of the BTF by name (one pass, whatever the section count). */
static int datasecs(const struct btf *btf, struct named_id **out, size_t *count)
{
	size_t n = 0, cap = 0;
	uint32_t nt = btf ? btf__type_cnt(btf) : 0;
	*out = NULL;
	for (uint32_t id = 1; id < nt; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *nm = t && btf_is_datasec(t) ? btf__name_by_offset(btf, t->name_off) : NULL;
		if (!nm)
			continue;
		struct named_id *x = obj_grow((void **)out, &cap, n, sizeof(*x));
		if (!x)
			return -ENOMEM;
		*x = (struct named_id){nm, id};
		n++;
	}
	obj_sort(*out, n, sizeof(**out), cmp_named_id);
	*count = n;
	return 0;
}

static int data_maps(struct visor_obj *obj, struct obj_elf *e, size_t *cap)
{
	struct named_id *ds;
	size_t nds = 0;
	if (datasecs(obj->btf, &ds, &nds)) {
		free(ds);
		return obj_err(obj, ENOMEM, "out of memory");
	}
	for (size_t i = 1; i < e->nsecs; i++) {
		struct obj_sec *s = &e->secs[i];
		if (s->kind != SEC_DATA)
			continue;
		struct visor_obj_map_def *d = new_map(obj, cap);
		if (!d || !(d->name = obj_strdup(obj, s->name))) {
			free(ds);
			return obj_err(obj, ENOMEM, "out of memory");
		}
		d->origin = VISOR_OBJ_MAP_DATA;
		d->type = MAP_TYPE_ARRAY;
		d->key_size = 4;
		d->value_size = (uint32_t)s->size;
		d->max_entries = 1;
		if (strncmp(s->name, ".rodata", 7) == 0) {
			d->read_only = true;
			d->map_flags = MAP_F_RDONLY_PROG;
		}
		if (s->data) {
			void *init = malloc(s->size);
			if (!init) {
				free(ds);
				return obj_err(obj, ENOMEM, "out of memory");
			}
			memcpy(init, s->data, s->size);
			d->init_data = init;
		}
		d->btf_value_type_id = datasec_id(ds, nds, s->name);
		s->map_idx = (int)obj->nmaps - 1;
	}
	free(ds);
	return 0;
}

/* Where a struct bpf_spin_lock lies in a value of BTF type id (structs,
 * nested structs and global data sections), as the kernel's
 * btf_parse_fields finds it: 0 and *off, -ENOENT if there is none, -EEXIST
 * if there are several. */
static int spin_lock_in(const struct btf *btf, uint32_t id, uint32_t base, int depth,
			uint32_t *off, bool *found)
{
	const struct btf_type *t = skip_mods(btf, id);
	if (!t || depth > MAX_MODS)
		return 0;
	if (btf_is_struct(t)) {
		const char *nm = btf__name_by_offset(btf, t->name_off);
		if (nm && strcmp(nm, "bpf_spin_lock") == 0) {
			if (*found)
				return -EEXIST;
			*found = true;
			*off = base;
			return 0;
		}
		const struct btf_member *m = btf_members(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
			if (btf_member_bit_offset(t, i) % 8)
				continue;
			int err = spin_lock_in(btf, m->type, base + btf_member_bit_offset(t, i) / 8,
					       depth + 1, off, found);
			if (err)
				return err;
		}
	} else if (btf_is_datasec(t)) {
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);
			if (!v || !btf_is_var(v))
				continue;
			int err = spin_lock_in(btf, v->type, base + vs->offset, depth + 1, off, found);
			if (err)
				return err;
		}
	}
	return 0;
}

static int find_spin_lock(struct visor_obj *obj, struct visor_obj_map_def *d)
{
	if (!obj->btf || !d->btf_value_type_id)
		return 0;
	uint32_t off = 0;
	bool found = false;
	if (spin_lock_in(obj->btf, d->btf_value_type_id, 0, 0, &off, &found))
		return obj_err(obj, EINVAL, "map '%s': more than one bpf_spin_lock in the value",
			       d->name);
	d->has_spin_lock = found;
	d->spin_lock_off = off;
	return 0;
}

int obj_collect_maps(struct visor_obj *obj, struct obj_elf *e)
{
	size_t cap = 0, mscap = 0;
	int err = 0;

	if (e->legacy_sec >= 0)
		err = legacy_maps(obj, e, &cap, &mscap);
	if (!err && e->maps_sec >= 0)
		err = btf_maps(obj, e, &cap, &mscap);
	if (!err)
		err = data_maps(obj, e, &cap);
	for (size_t i = 0; i < obj->nmaps && !err; i++) {
		err = find_spin_lock(obj, &obj->maps[i]);
		if (!err && obj->maps[i].inner)
			err = find_spin_lock(obj, (struct visor_obj_map_def *)obj->maps[i].inner);
	}
	if (err)
		return err;
	obj_sort(e->mapsyms, e->nmapsyms, sizeof(*e->mapsyms), cmp_mapsym);
	for (size_t k = 1; k < e->nmapsyms; k++)
		if (e->mapsyms[k].sec == e->mapsyms[k - 1].sec &&
		    e->mapsyms[k].off == e->mapsyms[k - 1].off)
			return obj_err(obj, EINVAL, "maps '%s' and '%s' share a definition",
				       obj->maps[e->mapsyms[k - 1].map_idx].name,
				       obj->maps[e->mapsyms[k].map_idx].name);
	return 0;
}

/* The map whose definition starts at (sec, off), or -1. */
int obj_find_map_sym(const struct obj_elf *e, uint32_t sec, uint64_t off)
{
	size_t lo = 0, hi = e->nmapsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct obj_mapsym *m = &e->mapsyms[mid];
		if (m->sec < sec || (m->sec == sec && m->off < off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < e->nmapsyms && e->mapsyms[lo].sec == sec && e->mapsyms[lo].off == off)
		return (int)lo;
	return -1;
}

/* The map definition containing byte off of .maps, or NULL. */
static const struct obj_mapsym *mapsym_containing(const struct obj_elf *e, uint64_t off)
{
	uint32_t sec = (uint32_t)e->maps_sec;
	size_t lo = 0, hi = e->nmapsyms;
	while (lo < hi) { /* first entry after (sec, off) */
		size_t mid = lo + (hi - lo) / 2;
		const struct obj_mapsym *m = &e->mapsyms[mid];
		if (m->sec < sec || (m->sec == sec && m->off <= off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct obj_mapsym *m = &e->mapsyms[lo - 1];
	return m->sec == sec && off - m->off < m->size ? m : NULL;
}

struct slot_rec {
	int map;
	struct visor_obj_map_slot v;
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot_rec *x = a, *y = b;
	if (x->map != y->map)
		return x->map < y->map ? -1 : 1;
	return x->v.slot < y->v.slot ? -1 : x->v.slot > y->v.slot;
}

/* One relocation of .rel.maps into a slot record. */
static int slot_of(struct visor_obj *obj, struct obj_elf *e, const GElf_Rel *r,
		   struct slot_rec *out)
{
	const struct obj_sec *msec = &e->secs[e->maps_sec];
	const struct obj_sym *sym = obj_elf_sym(e, GELF_R_SYM(r->r_info));
	if (!sym || GELF_R_SYM(r->r_info) == 0)
		return obj_err(obj, EINVAL, "relocation at .maps+%llu has a bad symbol",
			       (unsigned long long)r->r_offset);
	const struct obj_mapsym *ms = mapsym_containing(e, r->r_offset);
	if (r->r_offset >= msec->size || !ms || !ms->has_values ||
	    r->r_offset < ms->off + ms->values_off || (r->r_offset - ms->off - ms->values_off) % 8)
		return obj_err(obj, EINVAL, "relocation at .maps+%llu is not a 'values' slot",
			       (unsigned long long)r->r_offset);
	const struct visor_obj_map_def *md = &obj->maps[ms->map_idx];
	uint64_t slot = (r->r_offset - ms->off - ms->values_off) / 8;
	if (slot >= md->max_entries)
		return obj_err(obj, EINVAL, "map '%s': slot %llu is beyond max_entries %u", md->name,
			       (unsigned long long)slot, md->max_entries);
	out->map = ms->map_idx;
	out->v = (struct visor_obj_map_slot){.slot = (uint32_t)slot, .prog_idx = -1, .map_idx = -1};
	if (md->type == MAP_TYPE_PROG_ARRAY) {
		const struct obj_func *f = sym->shndx < e->nsecs ?
						   obj_elf_func_at(e, sym->shndx, sym->value) : NULL;
		if (!f || f->off != sym->value || f->prog_idx < 0)
			return obj_err(obj, EINVAL, "map '%s': slot %u does not name a program",
				       md->name, out->v.slot);
		out->v.prog_idx = f->prog_idx;
		return 0;
	}
	int m = sym->shndx == (uint32_t)e->maps_sec ? obj_find_map_sym(e, sym->shndx, sym->value)
						    : -1;
	if (m < 0)
		return obj_err(obj, EINVAL, "map '%s': slot %u does not name a map", md->name,
			       out->v.slot);
	out->v.map_idx = e->mapsyms[m].map_idx;
	return 0;
}

/* .rel.maps: `.values = { [i] = &prog_or_map }` initialisers. */
int obj_map_slots(struct visor_obj *obj, struct obj_elf *e)
{
	struct slot_rec *recs = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	if (e->maps_sec < 0)
		return 0;
	for (size_t i = 1; i < e->nsecs && !err; i++) {
		const struct obj_sec *rs = &e->secs[i];
		if (rs->sh.sh_type != SHT_REL || rs->sh.sh_info != (uint32_t)e->maps_sec)
			continue;
		Elf_Data *d = elf_getdata(elf_getscn(e->elf, i), NULL);
		if (rs->sh.sh_link != (uint32_t)e->symtab ||
		    rs->sh.sh_entsize != sizeof(Elf64_Rel) || !d) {
			err = obj_err(obj, EINVAL, "bad relocation section '%s'", rs->name);
			break;
		}
		size_t cnt = d->d_size / sizeof(Elf64_Rel);
		for (size_t k = 0; k < cnt && !err; k++) {
			GElf_Rel r;
			struct slot_rec *sr = obj_grow((void **)&recs, &cap, n, sizeof(*sr));
			if (!sr)
				err = obj_err(obj, ENOMEM, "out of memory");
			else if (!gelf_getrel(d, (int)k, &r))
				err = obj_err(obj, EINVAL, "bad relocation %zu in '%s'", k, rs->name);
			else if (!(err = slot_of(obj, e, &r, sr)))
				n++;
		}
	}
	if (!err && n)
		obj_sort(recs, n, sizeof(*recs), cmp_slot);
	for (size_t i = 0; i < n && !err;) {
		size_t j = i;
		while (j < n && recs[j].map == recs[i].map) {
			if (j > i && recs[j].v.slot == recs[j - 1].v.slot)
				err = obj_err(obj, EINVAL, "map '%s': slot %u is set twice",
					      obj->maps[recs[i].map].name, recs[j].v.slot);
			j++;
		}
		struct visor_obj_map_slot *s = err ? NULL : malloc((j - i) * sizeof(*s));
		if (!err && !s)
			err = obj_err(obj, ENOMEM, "out of memory");
		if (err)
			break;
		for (size_t k = i; k < j; k++)
			s[k - i] = recs[k].v;
		obj->maps[recs[i].map].slots = s;
		obj->maps[recs[i].map].slot_count = j - i;
		i = j;
	}
	free(recs);
	return err;
}
