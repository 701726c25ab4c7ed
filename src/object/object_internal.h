/* Internals of the ELF object loader. Parsing runs in one pass over a
 * temporary ELF view (struct obj_elf, freed before open returns); everything
 * the caller sees is copied into struct visor_obj. */
#ifndef VISOR_OBJECT_INTERNAL_H
#define VISOR_OBJECT_INTERNAL_H

#include <errno.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <visor/object.h>

#define OBJ_DEFAULT_MAX_SIZE (64u << 20)
#define OBJ_MAX_PROG_INSNS 1000000u   /* the kernel's BPF_COMPLEXITY_LIMIT_INSNS */
#define OBJ_MAX_TOTAL_INSNS 4000000u  /* all programs of an object, after appending */
#define OBJ_MAX_VALUE_SIZE (64u << 20) /* global data sections */
#define OBJ_LICENSE_LEN 128
#define OBJ_ERR_LEN 256

#define BPF_INSN_SZ 8
#define R_BPF_NONE 0
#define R_BPF_64_64 1
#define R_BPF_64_ABS64 2
#define R_BPF_64_ABS32 3
#define R_BPF_64_NODYLD32 4
#define R_BPF_64_32 10

#define OP_LDDW 0x18   /* BPF_LD | BPF_IMM | BPF_DW */
#define OP_CALL 0x85   /* BPF_JMP | BPF_CALL */

/* ---- The temporary ELF view (elf.c) ------------------------------------- */

enum sec_kind {
	SEC_OTHER = 0,
	SEC_PROG,      /* executable, not .text */
	SEC_TEXT,      /* .text: subprograms */
	SEC_MAPS,      /* .maps (BTF-defined) */
	SEC_LEGACY,    /* maps (struct bpf_map_def) */
	SEC_DATA,      /* .data*, .rodata*, .bss*: global data */
	SEC_LICENSE,
	SEC_VERSION,
};

struct obj_sec {
	const char *name;
	GElf_Shdr sh;
	const uint8_t *data; /* NULL for NOBITS */
	size_t size;
	enum sec_kind kind;
	int map_idx;         /* SEC_DATA: the map made of it, else -1 */
	struct obj_rel *rels; /* SEC_PROG/SEC_TEXT: sorted by offset */
	size_t nrels;
};

struct obj_rel {
	uint64_t off;
	uint32_t type;
	uint32_t sym;
};

struct obj_sym {
	const char *name;
	uint64_t value;
	uint64_t size;
	uint32_t shndx;
	uint8_t type;
	uint8_t bind;
};

/* A function symbol in an executable section. */
struct obj_func {
	const char *name;
	uint32_t sec;
	uint64_t off;  /* bytes into the section */
	uint64_t size; /* bytes */
	bool global;
	uint32_t sym;  /* symbol table index */
	int prog_idx;  /* entry program made of it, or -1 for a .text subprogram */
};

/* .BTF.ext records of one section (byte offsets as in the file). */
struct ext_line {
	uint32_t sec;
	uint32_t insn_off;
	uint32_t file_off, line_off, line_col;
};
struct ext_func {
	uint32_t sec;
	uint32_t insn_off;
	uint32_t type_id;
};
struct ext_core {
	uint32_t sec;
	uint32_t insn_off;
	uint32_t type_id;
	uint32_t access_off;
	uint32_t kind;
};

/* A map defined by a symbol in .maps or maps, for relocations. */
struct obj_mapsym {
	uint32_t sec;
	uint64_t off, size;
	int map_idx;
	bool has_values;    /* BTF map with a `values` array: .rel.maps slots */
	uint64_t values_off;
};

struct obj_elf {
	Elf *elf;
	uint8_t *image;
	size_t image_size;
	struct obj_sec *secs;
	size_t nsecs;
	struct obj_sym *syms;
	size_t nsyms;
	int symtab;     /* section index or -1 */
	int text;       /* .text or -1 */
	int maps_sec;   /* .maps or -1 */
	int legacy_sec; /* maps or -1 */
	int btf_sec, btf_ext_sec;
	struct obj_func *funcs; /* sorted by (sec, off) */
	size_t nfuncs;
	struct ext_line *lines;
	size_t nlines;
	struct ext_func *finfo;
	size_t nfinfo;
	struct ext_core *cores;
	size_t ncores;
	struct obj_mapsym *mapsyms; /* sorted by (sec, off) */
	size_t nmapsyms;
	int32_t *sym_ext;   /* symbol index -> extern index or -1 */
	int32_t *placed;    /* function -> base in the program being linked, or -1 */
};

/* ---- The model the caller sees ------------------------------------------ */

struct obj_line {
	uint32_t insn_idx;
	uint32_t line, col;
	const char *file;
	const char *text;
};

struct visor_obj_prog {
	struct visor_obj *obj;
	char *name;
	char *sec_name;
	uint32_t type, attach_type, flags;
	bool autoload;
	bool known_sec;     /* the section name matched a convention */
	struct visor_obj_attach attach;
	char *attach_buf;   /* owns the attach strings */
	uint32_t func_idx;  /* into obj_elf.funcs during open */
	struct visor_insn *insns;
	size_t insn_count;
	struct visor_obj_reloc *relocs;
	size_t nrelocs;
	struct visor_obj_subprog *subprogs;
	size_t nsubprogs;
	struct obj_line *lines;
	size_t nlines;
	struct visor_obj_core_relo *cores;
	size_t ncores;
};

struct visor_obj {
	char *name;
	char license[OBJ_LICENSE_LEN];
	uint32_t kern_version;
	struct btf *btf;
	struct visor_obj_prog *progs;
	size_t nprogs;
	struct visor_obj_map_def *maps;
	size_t nmaps;
	struct visor_obj_extern *externs;
	size_t nexterns;
	char **strs; /* strings the model owns (names), freed on close */
	size_t nstrs, capstrs;
	size_t total_insns;
	char *err;   /* caller's buffer during open */
	size_t errlen;
};

/* ---- Shared helpers (object.c) ------------------------------------------ */

/* Formats the one-line error into the caller's buffer; returns -err. */
int obj_err(struct visor_obj *obj, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Copies s into memory the object owns; NULL on ENOMEM. */
const char *obj_strdup(struct visor_obj *obj, const char *s);
const char *obj_strndup(struct visor_obj *obj, const char *s, size_t n);
/* Grows *arr (elements of sz bytes) to hold n+1; returns the new slot. */
void *obj_grow(void **arr, size_t *cap, size_t n, size_t sz);
/* qsort that accepts an empty (NULL) array. */
void obj_sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *));

/* elf.c */
int obj_elf_open(struct visor_obj *obj, struct obj_elf *e, const void *data, size_t size);
void obj_elf_free(struct obj_elf *e);
const struct obj_sec *obj_elf_sec(const struct obj_elf *e, size_t idx);
const struct obj_sym *obj_elf_sym(const struct obj_elf *e, size_t idx);
const struct obj_func *obj_elf_func_at(const struct obj_elf *e, uint32_t sec, uint64_t off);

/* programs.c */
int obj_collect_programs(struct visor_obj *obj, struct obj_elf *e);
int obj_parse_sec_name(struct visor_obj *obj, struct visor_obj_prog *prog, const char *sec);

/* btf.c */
int obj_load_btf(struct visor_obj *obj, struct obj_elf *e);
int obj_parse_btf_ext(struct visor_obj *obj, struct obj_elf *e);
int obj_collect_externs(struct visor_obj *obj, struct obj_elf *e);
int obj_prog_attach_ext(struct visor_obj *obj, struct obj_elf *e, struct visor_obj_prog *prog,
			const struct obj_func *f, uint32_t base);
uint32_t obj_func_btf_id(const struct obj_elf *e, const struct obj_func *f);

/* maps.c */
int obj_collect_maps(struct visor_obj *obj, struct obj_elf *e);
int obj_map_slots(struct visor_obj *obj, struct obj_elf *e);
int obj_find_map_sym(const struct obj_elf *e, uint32_t sec, uint64_t off);

/* relo.c */
int obj_collect_relocs(struct visor_obj *obj, struct obj_elf *e);
int obj_link_program(struct visor_obj *obj, struct obj_elf *e, struct visor_obj_prog *prog);

#endif
