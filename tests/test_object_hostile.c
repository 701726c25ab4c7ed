/* The loader on hostile input: every object in tests/progs truncated at
 * (bounded) every length, seeded random byte flips, crafted corruptions of
 * single fields (section indexes, offsets, sizes, relocations, symbols,
 * counts in .BTF.ext), and the fuzz corpus. Each open must fail with a
 * negative errno and one line, or succeed with a model that is safe to walk
 * end to end (ASan watches in the sanitizer build; VISOR_TEST_SCALE lowers
 * the counts there). */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <visor/object.h>

#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"

static const char *const objs[] = {"xdp_parser", "subprogs", "globals", "tailcall", "mapinmap",
				   "legacy", "core", "loop", "sections"};
#define NOBJS (sizeof(objs) / sizeof(objs[0]))

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *load(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), PROGS "%s.bpf.o", name);
	char *b = test_read_file(path, len);
	CHECK(b != NULL, "read %s", path);
	return b;
}

/* Touches everything the model hands out; returns a checksum so nothing is
 * optimised away. */
static uint64_t walk(const struct visor_obj *o)
{
	uint64_t sum = strlen(visor_obj_name(o)) + strlen(visor_obj_license(o)) +
		       visor_obj_kern_version(o);
	size_t nmaps = visor_obj_map_count(o), nprogs = visor_obj_prog_count(o), ne;
	for (size_t i = 0; i < nmaps; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i);
		sum += strlen(d->name) + d->type + d->key_size + d->value_size + d->max_entries;
		if (d->init_data)
			for (uint32_t k = 0; k < d->value_size; k++)
				sum += ((const uint8_t *)d->init_data)[k];
		if (d->inner)
			sum += strlen(d->inner->name) + d->inner->type;
		for (size_t s = 0; s < d->slot_count; s++) {
			CHECK(d->slots[s].slot < d->max_entries, "slot in range");
			CHECK(d->slots[s].prog_idx < (int)nprogs && d->slots[s].map_idx < (int)nmaps,
			      "slot target in range");
		}
	}
	const struct visor_obj_extern *x = visor_obj_externs(o, &ne);
	for (size_t i = 0; i < ne; i++)
		sum += strlen(x[i].name) + x[i].kind;
	for (size_t i = 0; i < nprogs; i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i);
		const struct visor_obj_attach *a = visor_obj_prog_attach(p);
		size_t n = visor_obj_prog_insn_count(p), nr, ns, nc;
		const struct visor_insn *in = visor_obj_prog_insns(p);
		sum += strlen(visor_obj_prog_name(p)) + strlen(visor_obj_prog_section(p));
		sum += a->target ? strlen(a->target) : 0;
		sum += a->binary ? strlen(a->binary) : 0;
		for (size_t k = 0; k < n; k++)
			sum += in[k].code + (uint32_t)in[k].imm;
		const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &nr);
		for (size_t k = 0; k < nr; k++) {
			CHECK(r[k].insn_idx < n, "relocation inside the stream");
			CHECK(r[k].map_idx < (int)nmaps && r[k].extern_idx < (int)ne,
			      "relocation indexes in range");
			if (r[k].kind == VISOR_OBJ_RELO_CALL || r[k].kind == VISOR_OBJ_RELO_FUNC)
				CHECK(r[k].offset < n, "call target inside the stream");
			sum += r[k].sym ? strlen(r[k].sym) : 0;
		}
		const struct visor_obj_subprog *s = visor_obj_prog_subprogs(p, &ns);
		size_t end = 0;
		for (size_t k = 0; k < ns; k++) {
			CHECK(s[k].start == end, "subprograms tile the stream");
			end += s[k].insn_count;
			sum += strlen(s[k].name);
		}
		CHECK(end == n, "subprograms cover the stream");
		const struct visor_obj_core_relo *c = visor_obj_prog_core_relos(p, &nc);
		for (size_t k = 0; k < nc; k++) {
			CHECK(c[k].insn_idx < n, "CO-RE relocation inside the stream");
			sum += c[k].access ? strlen(c[k].access) : 0;
		}
		for (size_t k = 0; k < n; k += 1 + n / 64) {
			const char *f, *t;
			unsigned line;
			if (visor_obj_prog_line(p, k, &f, &line, &t) == 0)
				sum += strlen(f) + strlen(t) + line;
		}
		char msg[256];
		if (visor_obj_prog_unsupported(p, msg, sizeof(msg)))
			sum += strlen(msg);
	}
	return sum;
}

static int opened, refused;

/* One attempt: a clean failure or a walkable model. */
static void attempt(const void *buf, size_t len, const char *what)
{
	char err[256];
	errno = 0;
	struct visor_obj *o = visor_obj_open_mem(buf, len, NULL, err, sizeof(err));
	if (o) {
		opened++;
		volatile uint64_t s = walk(o);
		(void)s;
		visor_obj_close(o);
		return;
	}
	refused++;
	CHECK(errno > 0, "%s: errno set (%d)", what, errno);
	CHECK(err[0] && !strchr(err, '\n'), "%s: one-line error '%s'", what, err);
}

static void test_truncations(void)
{
	for (size_t i = 0; i < NOBJS; i++) {
		size_t len;
		char *b = load(objs[i], &len);
		if (!b)
			continue;
		/* every length near the ends (headers, section table), a
		 * stride through the middle */
		size_t step = (size_t)(len / (1000 * test_scale())) + 1;
		for (size_t n = 0; n < len; n++) {
			if (n > 256 && n + 2048 < len && n % step)
				continue;
			char *c = malloc(n ? n : 1);
			memcpy(c, b, n);
			attempt(c, n, objs[i]);
			free(c);
		}
		free(b);
	}
}

static void test_flips(void)
{
	int rounds = (int)(4000 * test_scale());
	for (size_t i = 0; i < NOBJS; i++) {
		size_t len;
		char *b = load(objs[i], &len);
		if (!b)
			continue;
		char *c = malloc(len);
		for (int r = 0; r < rounds; r++) {
			memcpy(c, b, len);
			int flips = 1 + (int)(next_rand() % 8);
			for (int f = 0; f < flips; f++) {
				size_t at = next_rand() % len;
				uint64_t v = next_rand();
				/* mostly small changes, sometimes extreme values */
				c[at] = (v & 3) == 0 ? (char)0xff :
					(v & 3) == 1 ? 0 : (char)(c[at] ^ (v >> 8));
			}
			attempt(c, len, objs[i]);
		}
		free(c);
		free(b);
	}
}

/* ---- Crafted corruptions -------------------------------------------------- */

struct image {
	char *b;
	size_t len;
	Elf64_Ehdr *eh;
};

static Elf64_Shdr *shdr(struct image *im, size_t i)
{
	return (Elf64_Shdr *)(im->b + im->eh->e_shoff) + i;
}

static const char *sname(struct image *im, size_t i)
{
	return im->b + shdr(im, im->eh->e_shstrndx)->sh_offset + shdr(im, i)->sh_name;
}

static Elf64_Shdr *find(struct image *im, const char *name, size_t *idx)
{
	for (size_t i = 1; i < im->eh->e_shnum; i++)
		if (strcmp(sname(im, i), name) == 0) {
			if (idx)
				*idx = i;
			return shdr(im, i);
		}
	CHECK(0, "no section %s", name);
	return NULL;
}

static Elf64_Sym *symbol(struct image *im, const char *name)
{
	Elf64_Shdr *st = find(im, ".symtab", NULL);
	const char *str = im->b + shdr(im, st->sh_link)->sh_offset;
	Elf64_Sym *s = (Elf64_Sym *)(im->b + st->sh_offset);
	for (size_t i = 0; i < st->sh_size / sizeof(*s); i++)
		if (strcmp(str + s[i].st_name, name) == 0)
			return &s[i];
	CHECK(0, "no symbol %s", name);
	return NULL;
}

static bool fresh(struct image *im, const char *obj)
{
	free(im->b);
	im->b = load(obj, &im->len);
	im->eh = (Elf64_Ehdr *)im->b;
	return im->b != NULL;
}

/* Opens the corrupted image and expects a refusal with errno want (0: any)
 * and needle in the message. */
static void expect(struct image *im, int want, const char *needle, const char *what)
{
	char err[256] = "";
	errno = 0;
	struct visor_obj *o = visor_obj_open_mem(im->b, im->len, NULL, err, sizeof(err));
	CHECK(!o, "%s: accepted", what);
	if (o) {
		visor_obj_close(o);
		return;
	}
	CHECK(want == 0 ? errno > 0 : errno == want, "%s: errno %d, want %d (%s)", what, errno,
	      want, err);
	CHECK(!needle || strstr(err, needle), "%s: message '%s' lacks '%s'", what, err, needle);
	CHECK(!strchr(err, '\n'), "%s: one line", what);
}

static void test_crafted(void)
{
	struct image im = {0};
	Elf64_Shdr *s;
	Elf64_Sym *sym;

	if (fresh(&im, "xdp_parser")) {
		im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
		expect(&im, ENOTSUP, "big-endian", "big-endian");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_ident[EI_CLASS] = ELFCLASS32;
		expect(&im, ENOTSUP, "64-bit", "ELF32");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_machine = EM_X86_64;
		expect(&im, ENOTSUP, "not BPF", "x86-64 machine");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_type = ET_EXEC;
		expect(&im, ENOTSUP, "relocatable", "executable");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_shoff = im.len + 4096;
		expect(&im, EINVAL, NULL, "section table beyond the end");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_shnum = 0xff00;
		expect(&im, EINVAL, NULL, "huge section count");
	}
	if (fresh(&im, "xdp_parser")) {
		im.eh->e_shstrndx = (uint16_t)(im.eh->e_shnum + 3);
		expect(&im, EINVAL, NULL, "bad name table index");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, "xdp", NULL))) {
		s->sh_offset = im.len - 8;
		expect(&im, EINVAL, "outside the file", "program section beyond the end");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, "xdp", NULL))) {
		s->sh_size = ~0ull - 16;
		expect(&im, EINVAL, "outside the file", "huge section size");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, "xdp", NULL))) {
		s->sh_size -= 4;
		expect(&im, EINVAL, "multiple of 8", "odd-sized program section");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".symtab", NULL))) {
		s->sh_link = 0xffff;
		expect(&im, EINVAL, "string table", "symbol table linked to nothing");
	}
	if (fresh(&im, "xdp_parser") && (sym = symbol(&im, "proto_counts"))) {
		sym->st_shndx = 0x7000;
		expect(&im, EINVAL, "section index", "symbol with a bad section index");
	}
	if (fresh(&im, "xdp_parser") && (sym = symbol(&im, "xdp_count_protocols"))) {
		sym->st_size = 1ull << 40;
		expect(&im, EINVAL, "does not fit", "function larger than its section");
	}
	if (fresh(&im, "xdp_parser") && (sym = symbol(&im, "xdp_count_protocols"))) {
		sym->st_value = 4;
		expect(&im, EINVAL, "does not fit", "misaligned function");
	}
	/* relocations */
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(r[0].r_info));
		expect(&im, EINVAL, "symbol index", "relocation symbol out of range");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_offset = 1ull << 33;
		expect(&im, EINVAL, "out of range", "relocation beyond the section");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_offset += 3;
		expect(&im, EINVAL, "out of range", "misaligned relocation");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[1].r_offset = r[0].r_offset;
		expect(&im, EINVAL, "overlapping", "two relocations on one instruction");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_offset += 8; /* the second half of the lddw */
		expect(&im, EINVAL, "inside an lddw", "relocation in an lddw's second slot");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_offset = 0; /* the first instruction is no lddw */
		expect(&im, EINVAL, "neither lddw nor call", "relocation on an ALU instruction");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_info = ELF64_R_INFO(ELF64_R_SYM(r[0].r_info), 77);
		expect(&im, ENOTSUP, "type 77", "unknown relocation type");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		s->sh_info = 0xfffff;
		expect(&im, EINVAL, "targets section", "relocation section for no section");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		s->sh_size = 1ull << 50;
		expect(&im, EINVAL, NULL, "huge relocation count");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_info = ELF64_R_INFO(ELF64_R_SYM(r[0].r_info), 10);
		expect(&im, EINVAL, "lddw with relocation type 10", "call relocation on an lddw");
	}
	if (fresh(&im, "subprogs") && (s = find(&im, ".relxdp", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		for (size_t i = 0; i < s->sh_size / sizeof(*r); i++)
			if (ELF64_R_TYPE(r[i].r_info) == 10)
				r[i].r_info = ELF64_R_INFO(ELF64_R_SYM(r[i].r_info), 1);
		expect(&im, EINVAL, "call with relocation type 1", "lddw relocation on a call");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		/* drop a relocation, leaving its lddw with a pseudo source */
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		uint8_t *code = (uint8_t *)im.b + find(&im, "xdp", NULL)->sh_offset;
		code[r[0].r_offset + 1] |= 0x10;
		r[0].r_info = ELF64_R_INFO(ELF64_R_SYM(r[0].r_info), 0);
		expect(&im, EINVAL, "no relocation", "lddw with a pseudo source of its own");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".relxdp", NULL))) {
		s->sh_type = SHT_RELA;
		expect(&im, ENOTSUP, "RELA", "RELA relocations");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, "xdp", NULL)) &&
	    (sym = symbol(&im, "xdp_count_protocols"))) {
		/* the function now ends after the first slot of an lddw */
		uint8_t *code = (uint8_t *)im.b + s->sh_offset;
		for (size_t i = 0; i < s->sh_size; i += 8)
			if (code[i] == 0x18) {
				sym->st_size = i + 8;
				break;
			}
		expect(&im, EINVAL, "cut off", "lddw cut in half by the end of its function");
	}
	/* a relocation naming a symbol that is no map */
	if (fresh(&im, "xdp_parser") && (sym = symbol(&im, "proto_counts"))) {
		sym->st_value = 8;
		expect(&im, EINVAL, NULL, "map reference between maps");
	}
	/* calls */
	if (fresh(&im, "subprogs") && (s = find(&im, "xdp", NULL))) {
		/* a bpf-to-bpf call aimed far beyond .text */
		uint8_t *in = (uint8_t *)im.b + s->sh_offset;
		for (size_t i = 0; i < s->sh_size; i += 8)
			if (in[i] == 0x85 && in[i + 1] >> 4 == 1) {
				int32_t imm = 100000;
				memcpy(in + i + 4, &imm, 4);
				break;
			}
		expect(&im, EINVAL, "not a function", "call target outside any function");
	}
	if (fresh(&im, "subprogs") && (sym = symbol(&im, "level3"))) {
		sym->st_value += 8; /* now overlaps the function after it */
		expect(&im, EINVAL, NULL, "overlapping functions");
	}
	/* BTF and .BTF.ext */
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".BTF", NULL))) {
		memset(im.b + s->sh_offset, 0x41, 4);
		expect(&im, EINVAL, "BTF", "bad BTF magic");
	}
	if (fresh(&im, "loop") && (s = find(&im, ".BTF", NULL))) {
		/* without BTF-defined maps, BTF is optional (as in libbpf) */
		memset(im.b + s->sh_offset, 0x41, 4);
		char err[256];
		struct visor_obj *o = visor_obj_open_mem(im.b, im.len, NULL, err, sizeof(err));
		CHECK(o && !visor_obj_btf(o), "bad BTF without .maps is dropped: %s", err);
		if (o) {
			const struct visor_obj_prog *p = visor_obj_prog_at(o, 0);
			CHECK(visor_obj_prog_line(p, 0, NULL, NULL, NULL) == -ENOENT, "no lines");
			walk(o);
			visor_obj_close(o);
		}
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".BTF.ext", NULL))) {
		uint32_t *h = (uint32_t *)(im.b + s->sh_offset);
		/* func info block: rec_size then {sec_name_off, num_info} */
		uint32_t off = h[1] + h[2];
		uint32_t *blk = (uint32_t *)(im.b + s->sh_offset + off);
		blk[2] = 0x7fffffff;
		expect(&im, EINVAL, "records", "huge .BTF.ext record count");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".BTF.ext", NULL))) {
		uint32_t *h = (uint32_t *)(im.b + s->sh_offset);
		h[4] = 0xfffffff0; /* line info offset */
		expect(&im, EINVAL, "outside", "line info beyond .BTF.ext");
	}
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".BTF.ext", NULL))) {
		uint32_t *h = (uint32_t *)(im.b + s->sh_offset);
		uint32_t *blk = (uint32_t *)(im.b + s->sh_offset + h[1] + h[4]);
		blk[3] = 0xfffff8; /* the first line record's instruction offset */
		expect(&im, EINVAL, "offset", "line info past its section");
	}
	/* maps */
	if (fresh(&im, "xdp_parser") && (s = find(&im, ".maps", NULL))) {
		s->sh_size = 8; /* shorter than the map's symbol */
		expect(&im, EINVAL, "outside .maps", "map beyond .maps");
	}
	if (fresh(&im, "legacy") && (s = find(&im, "maps", NULL))) {
		s->sh_size -= 4;
		expect(&im, EINVAL, "legacy maps", "legacy maps of uneven size");
	}
	if (fresh(&im, "legacy") && (s = find(&im, "version", NULL))) {
		s->sh_size = 2;
		expect(&im, EINVAL, "version", "short version section");
	}
	if (fresh(&im, "globals") && (s = find(&im, ".bss", NULL))) {
		s->sh_size = 1ull << 40;
		expect(&im, E2BIG, "too large", "a terabyte of .bss");
	}
	if (fresh(&im, "tailcall") && (s = find(&im, ".rel.maps", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[0].r_offset += 4;
		expect(&im, EINVAL, "slot", "misaligned prog array slot");
	}
	if (fresh(&im, "tailcall") && (s = find(&im, ".rel.maps", NULL))) {
		Elf64_Rel *r = (Elf64_Rel *)(im.b + s->sh_offset);
		r[1].r_offset = r[0].r_offset;
		expect(&im, EINVAL, "twice", "slot initialised twice");
	}
	free(im.b);
}

/* The inputs libFuzzer kept (seeds and regressions) go through here too,
 * so they are replayed in every build, clang or not. */
static void test_corpus(void)
{
	const char *dir = VISOR_SOURCE_DIR "/tests/fuzz/corpus/fuzz_object";
	DIR *d = opendir(dir);
	int n = 0;
	CHECK(d != NULL, "corpus %s", dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *b = test_read_file(path, &len);
		if (!b)
			continue;
		attempt(b, len, e->d_name);
		free(b);
		n++;
	}
	closedir(d);
	CHECK(n > 0, "corpus is empty");
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int main(void)
{
	libbpf_set_print(quiet); /* libbpf's BTF parser complains on stderr */
	test_crafted();
	test_corpus();
	test_truncations();
	test_flips();
	printf("test_object_hostile: %d inputs opened, %d refused\n", opened, refused);
	return test_summary("test_object_hostile");
}
