/* The ELF layer of the loader: checks the header, builds the section and
 * symbol tables and the list of functions, with every offset, size and index
 * checked against the file before anything else looks at it. libelf parses;
 * the checks here are ours because a hostile file is expected input. */
#include <stdlib.h>
#include <string.h>

#include "object_internal.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

static bool range_ok(uint64_t off, uint64_t len, uint64_t total)
{
	return off <= total && len <= total - off;
}

/* ".data", ".data.foo": exactly the name or the name plus a '.' suffix. */
static bool is_family(const char *s, const char *base)
{
	size_t n = strlen(base);
	return strncmp(s, base, n) == 0 && (s[n] == 0 || s[n] == '.');
}

static int check_header(struct visor_obj *obj, const uint8_t *p, size_t size)
{
	if (size < EI_NIDENT || memcmp(p, ELFMAG, SELFMAG) != 0)
		return obj_err(obj, EINVAL, "not an ELF file");
	if (p[EI_CLASS] != ELFCLASS64)
		return obj_err(obj, ENOTSUP, "not a 64-bit ELF object (eBPF objects are ELF64)");
	if (p[EI_DATA] == ELFDATA2MSB)
		return obj_err(obj, ENOTSUP, "big-endian eBPF objects are not supported");
	if (p[EI_DATA] != ELFDATA2LSB)
		return obj_err(obj, EINVAL, "bad ELF data encoding %u", p[EI_DATA]);
	if (size < sizeof(Elf64_Ehdr))
		return obj_err(obj, EINVAL, "truncated ELF header (%zu bytes)", size);
	Elf64_Ehdr eh;
	memcpy(&eh, p, sizeof(eh));
	if (eh.e_machine != EM_BPF)
		return obj_err(obj, ENOTSUP, "ELF machine %u is not BPF (%u)", eh.e_machine, EM_BPF);
	if (eh.e_type != ET_REL)
		return obj_err(obj, ENOTSUP, "ELF type %u is not a relocatable object", eh.e_type);
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return obj_err(obj, EINVAL, "bad section header size %u", eh.e_shentsize);
	return 0;
}

static enum sec_kind classify(const struct obj_sec *s)
{
	uint32_t type = s->sh.sh_type;
	uint64_t flags = s->sh.sh_flags;

	if (type == SHT_PROGBITS && (flags & SHF_EXECINSTR))
		return strcmp(s->name, ".text") == 0 ? SEC_TEXT : SEC_PROG;
	if (type == SHT_PROGBITS) {
		if (strcmp(s->name, ".maps") == 0)
			return SEC_MAPS;
		if (strcmp(s->name, "maps") == 0)
			return SEC_LEGACY;
		if (strcmp(s->name, "license") == 0)
			return SEC_LICENSE;
		if (strcmp(s->name, "version") == 0)
			return SEC_VERSION;
		if ((is_family(s->name, ".data") || is_family(s->name, ".rodata")) && s->size)
			return SEC_DATA;
	}
	if (type == SHT_NOBITS && is_family(s->name, ".bss") && s->size)
		return SEC_DATA;
	return SEC_OTHER;
}

static int load_sections(struct visor_obj *obj, struct obj_elf *e)
{
	size_t n, strndx;
	if (elf_getshdrnum(e->elf, &n) || elf_getshdrstrndx(e->elf, &strndx))
		return obj_err(obj, EINVAL, "bad section table: %s", elf_errmsg(-1));
	/* libelf checked the table fits; this keeps our arrays bounded too */
	if (n == 0 || n > e->image_size / sizeof(Elf64_Shdr))
		return obj_err(obj, EINVAL, "bad section count %zu", n);
	if (strndx >= n)
		return obj_err(obj, EINVAL, "bad section name table index %zu", strndx);
	e->secs = calloc(n, sizeof(*e->secs));
	if (!e->secs)
		return obj_err(obj, ENOMEM, "out of memory");
	e->nsecs = n;
	e->symtab = e->text = e->maps_sec = e->legacy_sec = e->btf_sec = e->btf_ext_sec = -1;

	for (size_t i = 1; i < n; i++) {
		struct obj_sec *s = &e->secs[i];
		Elf_Scn *scn = elf_getscn(e->elf, i);
		s->map_idx = -1;
		if (!scn || !gelf_getshdr(scn, &s->sh))
			return obj_err(obj, EINVAL, "bad section header %zu", i);
		s->name = elf_strptr(e->elf, strndx, s->sh.sh_name);
		if (!s->name)
			return obj_err(obj, EINVAL, "section %zu has a bad name offset", i);
		s->size = s->sh.sh_size;
		if (s->sh.sh_type != SHT_NOBITS && s->sh.sh_type != SHT_NULL) {
			if (!range_ok(s->sh.sh_offset, s->sh.sh_size, e->image_size))
				return obj_err(obj, EINVAL, "section '%s' (%zu) lies outside the file",
					       s->name, i);
			s->data = e->image + s->sh.sh_offset;
		} else if (s->sh.sh_type == SHT_NOBITS && s->size > OBJ_MAX_VALUE_SIZE &&
			   is_family(s->name, ".bss")) {
			return obj_err(obj, E2BIG, "section '%s' is too large (%zu bytes)", s->name,
				       s->size);
		}
		s->kind = classify(s);
		if (s->kind != SEC_OTHER && (s->sh.sh_flags & SHF_COMPRESSED))
			return obj_err(obj, ENOTSUP, "section '%s' is compressed", s->name);
		switch (s->kind) {
		case SEC_PROG:
		case SEC_TEXT:
			if (s->size % BPF_INSN_SZ)
				return obj_err(obj, EINVAL,
					       "program section '%s' size %zu is not a multiple of 8",
					       s->name, s->size);
			if (s->kind == SEC_TEXT) {
				if (e->text >= 0)
					return obj_err(obj, EINVAL, "two .text sections");
				e->text = (int)i;
			}
			break;
		case SEC_MAPS:
			e->maps_sec = (int)i;
			break;
		case SEC_LEGACY:
			e->legacy_sec = (int)i;
			break;
		case SEC_DATA:
			if (s->size > OBJ_MAX_VALUE_SIZE)
				return obj_err(obj, E2BIG, "section '%s' is too large (%zu bytes)",
					       s->name, s->size);
			break;
		default:
			break;
		}
		if (s->sh.sh_type == SHT_PROGBITS && strcmp(s->name, ".BTF") == 0)
			e->btf_sec = (int)i;
		if (s->sh.sh_type == SHT_PROGBITS && strcmp(s->name, ".BTF.ext") == 0)
			e->btf_ext_sec = (int)i;
		if (s->sh.sh_type == SHT_SYMTAB) {
			if (e->symtab >= 0)
				return obj_err(obj, EINVAL, "more than one symbol table");
			e->symtab = (int)i;
		}
	}
	return 0;
}

static int load_symbols(struct visor_obj *obj, struct obj_elf *e)
{
	if (e->symtab < 0)
		return obj_err(obj, EINVAL, "no symbol table");
	const struct obj_sec *st = &e->secs[e->symtab];
	if (st->sh.sh_entsize != sizeof(Elf64_Sym))
		return obj_err(obj, EINVAL, "bad symbol size %llu",
			       (unsigned long long)st->sh.sh_entsize);
	if (st->sh.sh_link == 0 || st->sh.sh_link >= e->nsecs ||
	    e->secs[st->sh.sh_link].sh.sh_type != SHT_STRTAB)
		return obj_err(obj, EINVAL, "symbol table links to bad string table %u",
			       st->sh.sh_link);
	Elf_Data *d = elf_getdata(elf_getscn(e->elf, e->symtab), NULL);
	if (!d)
		return obj_err(obj, EINVAL, "cannot read the symbol table: %s", elf_errmsg(-1));
	size_t n = d->d_size / sizeof(Elf64_Sym);
	e->syms = calloc(n ? n : 1, sizeof(*e->syms));
	if (!e->syms)
		return obj_err(obj, ENOMEM, "out of memory");
	e->nsyms = n;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		struct obj_sym *s = &e->syms[i];
		if (!gelf_getsym(d, (int)i, &sym))
			return obj_err(obj, EINVAL, "bad symbol %zu", i);
		s->name = elf_strptr(e->elf, st->sh.sh_link, sym.st_name);
		if (!s->name)
			return obj_err(obj, EINVAL, "symbol %zu has a bad name offset", i);
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->shndx = sym.st_shndx;
		s->type = GELF_ST_TYPE(sym.st_info);
		s->bind = GELF_ST_BIND(sym.st_info);
		if (s->shndx == SHN_XINDEX)
			return obj_err(obj, ENOTSUP, "symbol '%s' uses extended section indexes",
				       s->name);
		if (s->shndx >= e->nsecs && s->shndx < SHN_LORESERVE)
			return obj_err(obj, EINVAL, "symbol '%s' has bad section index %u", s->name,
				       s->shndx);
	}
	return 0;
}

static int cmp_func(const void *a, const void *b)
{
	const struct obj_func *x = a, *y = b;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int load_functions(struct visor_obj *obj, struct obj_elf *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nsyms; i++) {
		const struct obj_sym *s = &e->syms[i];
		if (s->type == STT_FUNC && s->shndx && s->shndx < e->nsecs &&
		    (e->secs[s->shndx].kind == SEC_PROG || e->secs[s->shndx].kind == SEC_TEXT))
			n++;
	}
	e->funcs = calloc(n ? n : 1, sizeof(*e->funcs));
	if (!e->funcs)
		return obj_err(obj, ENOMEM, "out of memory");
	for (size_t i = 0; i < e->nsyms; i++) {
		const struct obj_sym *s = &e->syms[i];
		if (s->type != STT_FUNC || !s->shndx || s->shndx >= e->nsecs)
			continue;
		const struct obj_sec *sec = &e->secs[s->shndx];
		if (sec->kind != SEC_PROG && sec->kind != SEC_TEXT)
			continue;
		if (s->value % BPF_INSN_SZ || s->size % BPF_INSN_SZ || !s->size ||
		    !range_ok(s->value, s->size, sec->size))
			return obj_err(obj, EINVAL,
				       "function '%s' (offset %llu, size %llu) does not fit section '%s'",
				       s->name, (unsigned long long)s->value,
				       (unsigned long long)s->size, sec->name);
		struct obj_func *f = &e->funcs[e->nfuncs++];
		f->name = s->name;
		f->sec = s->shndx;
		f->off = s->value;
		f->size = s->size;
		f->global = s->bind != STB_LOCAL;
		f->sym = (uint32_t)i;
		f->prog_idx = -1;
	}
	obj_sort(e->funcs, e->nfuncs, sizeof(*e->funcs), cmp_func);
	for (size_t i = 1; i < e->nfuncs; i++) {
		const struct obj_func *a = &e->funcs[i - 1], *b = &e->funcs[i];
		if (a->sec == b->sec && a->off + a->size > b->off)
			return obj_err(obj, EINVAL, "functions '%s' and '%s' overlap in '%s'", a->name,
				       b->name, e->secs[a->sec].name);
	}
	return 0;
}

int obj_elf_open(struct visor_obj *obj, struct obj_elf *e, const void *data, size_t size)
{
	int err = check_header(obj, data, size);
	if (err)
		return err;
	/* libelf wants writable memory and we want the bytes to outlive the
	 * caller's buffer for the duration of the parse */
	e->image = malloc(size);
	if (!e->image)
		return obj_err(obj, ENOMEM, "out of memory (%zu bytes)", size);
	memcpy(e->image, data, size);
	e->image_size = size;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return obj_err(obj, ENOTSUP, "libelf: %s", elf_errmsg(-1));
	e->elf = elf_memory((char *)e->image, size);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF)
		return obj_err(obj, EINVAL, "libelf cannot read the object: %s", elf_errmsg(-1));
	err = load_sections(obj, e);
	if (!err)
		err = load_symbols(obj, e);
	if (!err)
		err = load_functions(obj, e);
	return err;
}

void obj_elf_free(struct obj_elf *e)
{
	if (e->elf)
		elf_end(e->elf);
	if (e->secs)
		for (size_t i = 0; i < e->nsecs; i++)
			free(e->secs[i].rels);
	free(e->secs);
	free(e->syms);
	free(e->funcs);
	free(e->lines);
	free(e->finfo);
	free(e->cores);
	free(e->mapsyms);
	free(e->sym_ext);
	free(e->placed);
	free(e->image);
	memset(e, 0, sizeof(*e));
}

const struct obj_sec *obj_elf_sec(const struct obj_elf *e, size_t idx)
{
	return idx > 0 && idx < e->nsecs ? &e->secs[idx] : NULL;
}

const struct obj_sym *obj_elf_sym(const struct obj_elf *e, size_t idx)
{
	return idx < e->nsyms ? &e->syms[idx] : NULL;
}

/* The function containing byte offset off of section sec, or NULL. */
const struct obj_func *obj_elf_func_at(const struct obj_elf *e, uint32_t sec, uint64_t off)
{
	size_t lo = 0, hi = e->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct obj_func *f = &e->funcs[mid];
		if (f->sec < sec || (f->sec == sec && f->off + f->size <= off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < e->nfuncs) {
		const struct obj_func *f = &e->funcs[lo];
		if (f->sec == sec && f->off <= off && off < f->off + f->size)
			return f;
	}
	return NULL;
}
