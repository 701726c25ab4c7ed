/* The ELF object loader against the programs in tests/progs (compiled with
 * clang-19 by the build): programs, sections, types, map definitions,
 * relocations, subprogram appending, line info and refusal queries. Three
 * independent views check it: libbpf's bpf_object__open (names, sections,
 * types, maps, initial values, raw instructions), a small libelf reader in
 * this file (each appended subprogram is the function's code), and, where
 * the kernel allows, the kernel itself: the linked streams are loaded with
 * maps made from our definitions and run side by side with the same object
 * loaded by libbpf, comparing return values and global data. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <visor/object.h>

#include "kernel_run.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"

/* Our enums spell out the kernel's numbers; check the ones this UAPI has. */
_Static_assert((int)VISOR_PROG_TYPE_XDP == (int)BPF_PROG_TYPE_XDP, "prog type");
_Static_assert((int)VISOR_PROG_TYPE_SYSCALL == (int)BPF_PROG_TYPE_SYSCALL, "prog type");
_Static_assert((int)VISOR_PROG_TYPE_SK_LOOKUP == (int)BPF_PROG_TYPE_SK_LOOKUP, "prog type");
_Static_assert((int)VISOR_PROG_TYPE_CGROUP_SOCKOPT == (int)BPF_PROG_TYPE_CGROUP_SOCKOPT, "prog type");
_Static_assert((int)VISOR_ATTACH_XDP == (int)BPF_XDP, "attach type");
_Static_assert((int)VISOR_ATTACH_LSM_CGROUP == (int)BPF_LSM_CGROUP, "attach type");
_Static_assert((int)VISOR_ATTACH_TRACE_KPROBE_MULTI == (int)BPF_TRACE_KPROBE_MULTI, "attach type");
_Static_assert((int)VISOR_ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE ==
	       (int)BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, "attach type");
_Static_assert((int)VISOR_ATTACH_CGROUP_GETSOCKOPT == (int)BPF_CGROUP_GETSOCKOPT, "attach type");
_Static_assert((int)VISOR_PROG_F_SLEEPABLE == (int)BPF_F_SLEEPABLE, "flag");
_Static_assert((int)VISOR_PSEUDO_MAP_VALUE == (int)BPF_PSEUDO_MAP_VALUE, "pseudo");
_Static_assert((int)VISOR_PSEUDO_FUNC == (int)BPF_PSEUDO_FUNC, "pseudo");
_Static_assert((int)VISOR_PSEUDO_KFUNC_CALL == (int)BPF_PSEUDO_KFUNC_CALL, "pseudo");

static const char *const all_objs[] = {
	"xdp_parser", "lpm", "ringbuf", "tailcall", "globals", "subprogs", "loop", "percpu",
	"spinlock", "legacy", "multi", "socket", "tc", "tracepoint", "mapinmap", "core",
	"sections",
};
#define NOBJS (sizeof(all_objs) / sizeof(all_objs[0]))

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, PROGS "%s.bpf.o", name);
}

static struct visor_obj *open_obj(const char *name)
{
	char path[512], err[256];
	path_of(path, sizeof(path), name);
	struct visor_obj *o = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(o != NULL, "open %s: %s", name, err);
	return o;
}

static const struct visor_obj_map_def *map_named(struct visor_obj *o, const char *name, int *idx)
{
	int i = visor_obj_find_map(o, name);
	CHECK(i >= 0, "no map '%s'", name);
	if (idx)
		*idx = i;
	return i >= 0 ? visor_obj_map_def_at(o, (size_t)i) : NULL;
}

static const struct visor_obj_subprog *subprog_named(const struct visor_obj_prog *p,
						     const char *name)
{
	size_t n;
	const struct visor_obj_subprog *s = visor_obj_prog_subprogs(p, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static const struct visor_obj_reloc *reloc_of(const struct visor_obj_prog *p, const char *sym,
					      uint32_t kind)
{
	size_t n;
	const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &n);
	for (size_t i = 0; i < n; i++)
		if (r[i].kind == kind && r[i].sym && strcmp(r[i].sym, sym) == 0)
			return &r[i];
	return NULL;
}

/* ---- An independent view of the ELF: a function's bytes by name ------- */

static int elf_func_code(const char *path, const char *func, struct visor_insn **out, size_t *n)
{
	int fd = open(path, O_RDONLY), ret = -1;
	Elf *elf;
	Elf_Scn *scn = NULL;

	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; i < d->d_size / sizeof(Elf64_Sym); i++) {
			GElf_Sym s;
			gelf_getsym(d, (int)i, &s);
			const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
			if (GELF_ST_TYPE(s.st_info) != STT_FUNC || !nm || strcmp(nm, func))
				continue;
			Elf_Data *code = elf_getdata(elf_getscn(elf, s.st_shndx), NULL);
			*n = s.st_size / 8;
			*out = malloc(s.st_size);
			memcpy(*out, (char *)code->d_buf + s.st_value, s.st_size);
			ret = 0;
			break;
		}
		break;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return ret;
}

static bool is_relocated(const struct visor_obj_prog *p, size_t idx)
{
	size_t n;
	const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &n);
	for (size_t i = 0; i < n; i++)
		if (r[i].insn_idx == idx || (r[i].insn_idx + 1 == idx &&
					     visor_obj_prog_insns(p)[r[i].insn_idx].code == 0x18))
			return true;
	return false;
}

/* Every function in every program's stream is that function's code from
 * the file, apart from the slots relocation rewrote; every call and
 * function address lands on the first instruction of the function it
 * names; the functions tile the stream. */
static void check_streams(const char *name)
{
	char path[512];
	path_of(path, sizeof(path), name);
	struct visor_obj *o = open_obj(name);
	if (!o)
		return;
	for (size_t i = 0; i < visor_obj_prog_count(o); i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i);
		const struct visor_insn *in = visor_obj_prog_insns(p);
		size_t ns, nr, end = 0;
		const struct visor_obj_subprog *s = visor_obj_prog_subprogs(p, &ns);
		const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &nr);

		CHECK(ns >= 1 && strcmp(s[0].name, visor_obj_prog_name(p)) == 0,
		      "%s: the program comes first", visor_obj_prog_name(p));
		for (size_t k = 0; k < ns; k++) {
			struct visor_insn *code = NULL;
			size_t n = 0;
			CHECK(s[k].start == end, "%s: subprog %s starts at %u, not %zu",
			      visor_obj_prog_name(p), s[k].name, s[k].start, end);
			end = s[k].start + s[k].insn_count;
			for (size_t j = 0; j < k; j++)
				CHECK(strcmp(s[j].name, s[k].name), "%s: %s appended twice",
				      visor_obj_prog_name(p), s[k].name);
			if (elf_func_code(path, s[k].name, &code, &n)) {
				CHECK(0, "%s: libelf finds no function %s", name, s[k].name);
				continue;
			}
			CHECK_EQ_U64(n, s[k].insn_count, s[k].name);
			for (size_t j = 0; j < n && j < s[k].insn_count; j++) {
				const struct visor_insn *a = &in[s[k].start + j], *b = &code[j];
				if (is_relocated(p, s[k].start + j))
					CHECK(a->code == b->code && a->dst == b->dst,
					      "%s+%zu: relocation changed the opcode", s[k].name, j);
				else
					CHECK(memcmp(a, b, sizeof(*a)) == 0,
					      "%s: insn %zu of %s differs from the file",
					      visor_obj_prog_name(p), j, s[k].name);
			}
			free(code);
		}
		CHECK_EQ_U64(end, visor_obj_prog_insn_count(p), "stream length");
		for (size_t k = 0; k < nr; k++) {
			const struct visor_insn *x = &in[r[k].insn_idx];
			switch (r[k].kind) {
			case VISOR_OBJ_RELO_CALL:
			case VISOR_OBJ_RELO_FUNC: {
				const struct visor_obj_subprog *t = subprog_named(p, r[k].sym);
				CHECK(t && t->start == r[k].offset, "%s: %s target", name, r[k].sym);
				CHECK_EQ_U64(r[k].insn_idx + 1 + x->imm, r[k].offset, "call imm");
				CHECK(r[k].kind == VISOR_OBJ_RELO_CALL ?
					      x->code == 0x85 && x->src == VISOR_PSEUDO_CALL :
					      x->code == 0x18 && x->src == VISOR_PSEUDO_FUNC,
				      "%s insn %u: encoding", name, r[k].insn_idx);
				break;
			}
			case VISOR_OBJ_RELO_MAP_FD:
				CHECK(x->code == 0x18 && x->src == VISOR_PSEUDO_MAP_FD &&
					      x->imm == r[k].map_idx && x[1].imm == 0,
				      "%s insn %u: map fd encoding", name, r[k].insn_idx);
				break;
			case VISOR_OBJ_RELO_MAP_VALUE:
				CHECK(x->code == 0x18 && x->src == VISOR_PSEUDO_MAP_VALUE &&
					      x->imm == r[k].map_idx &&
					      (uint32_t)x[1].imm == r[k].offset,
				      "%s insn %u: map value encoding", name, r[k].insn_idx);
				CHECK(r[k].offset <
					      visor_obj_map_def_at(o, (size_t)r[k].map_idx)->value_size,
				      "%s: offset inside the value", name);
				break;
			}
			if (r[k].map_idx >= 0)
				CHECK((size_t)r[k].map_idx < visor_obj_map_count(o), "map index");
		}
		/* no lddw is left with a pseudo source but no record */
		for (size_t k = 0; k < visor_obj_prog_insn_count(p); k++)
			if (in[k].code == 0x18 && in[k].src)
				CHECK(is_relocated(p, k), "%s insn %zu: lddw src %u unrecorded", name,
				      k, in[k].src);
	}
	visor_obj_close(o);
}

/* ---- Per-program checks --------------------------------------------------- */

static void test_xdp_parser(void)
{
	struct visor_obj *o = open_obj("xdp_parser");
	if (!o)
		return;
	CHECK(strcmp(visor_obj_name(o), "xdp_parser") == 0, "name %s", visor_obj_name(o));
	CHECK(strcmp(visor_obj_license(o), "GPL") == 0, "license");
	CHECK(visor_obj_btf(o) != NULL, "BTF");
	CHECK_EQ_U64(visor_obj_prog_count(o), 1, "programs");
	const struct visor_obj_prog *p = visor_obj_find_prog(o, "xdp_count_protocols");
	CHECK(p != NULL, "program by name");
	CHECK(visor_obj_find_prog(o, "nope") == NULL, "unknown program");
	if (p) {
		CHECK(strcmp(visor_obj_prog_section(p), "xdp") == 0, "section");
		CHECK_EQ_U64(visor_obj_prog_type(p), VISOR_PROG_TYPE_XDP, "type");
		CHECK_EQ_U64(visor_obj_prog_expected_attach_type(p), VISOR_ATTACH_XDP, "attach");
		CHECK(visor_obj_prog_autoload(p), "autoload");
		size_t nr;
		const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &nr);
		CHECK(nr >= 2, "relocations: %zu", nr);
		for (size_t i = 0; i < nr; i++)
			CHECK(r[i].kind == VISOR_OBJ_RELO_MAP_FD && r[i].map_idx == 0 &&
				      strcmp(r[i].sym, "proto_counts") == 0,
			      "relocation %zu", i);
		/* the line of a map reference */
		const char *file = NULL, *text = NULL;
		unsigned line = 0;
		int err = nr ? visor_obj_prog_line(p, r[0].insn_idx, &file, &line, &text) : -1;
		CHECK(err == 0, "line info: %d", err);
		if (!err) {
			const char *b = strrchr(file, '/');
			CHECK(strcmp(b ? b + 1 : file, "xdp_parser.bpf.c") == 0, "file %s", file);
			CHECK(strstr(text, "proto_counts") != NULL, "line %u: %s", line, text);
		}
		/* every instruction has a line; past the end there is none */
		size_t n = visor_obj_prog_insn_count(p), with = 0;
		for (size_t i = 0; i < n; i++)
			with += visor_obj_prog_line(p, i, NULL, NULL, NULL) == 0;
		CHECK_EQ_U64(with, n, "instructions with a line");
		CHECK(visor_obj_prog_line(p, n, NULL, NULL, NULL) == -ERANGE, "past the end");
		char msg[256];
		CHECK(visor_obj_prog_unsupported(p, msg, sizeof(msg)) == 0, "runnable: %s", msg);
	}
	const struct visor_obj_map_def *d = map_named(o, "proto_counts", NULL);
	if (d) {
		CHECK(d->origin == VISOR_OBJ_MAP_BTF && d->type == 1 && d->key_size == 4 &&
			      d->value_size == 16 && d->max_entries == 256 && !d->read_only,
		      "proto_counts definition");
		CHECK(d->btf_key_type_id && d->btf_value_type_id, "key/value BTF types");
	}
	visor_obj_close(o);
}

static void test_globals(void)
{
	struct visor_obj *o = open_obj("globals");
	if (!o)
		return;
	static const char *const secs[] = {".rodata", ".data", ".data.stats", ".bss",
					   ".rodata.str1.1"};
	for (size_t i = 0; i < 5; i++) {
		const struct visor_obj_map_def *d = map_named(o, secs[i], NULL);
		if (!d)
			continue;
		bool ro = strncmp(secs[i], ".rodata", 7) == 0;
		CHECK(d->origin == VISOR_OBJ_MAP_DATA && d->type == 2 && d->key_size == 4 &&
			      d->max_entries == 1,
		      "%s is a one-entry array", secs[i]);
		CHECK(d->read_only == ro && (d->map_flags == (ro ? BPF_F_RDONLY_PROG : 0)),
		      "%s read-only flags", secs[i]);
		CHECK((d->init_data == NULL) == (strcmp(secs[i], ".bss") == 0),
		      "%s initial data", secs[i]);
	}
	const struct visor_obj_prog *p = visor_obj_find_prog(o, "xdp_globals");
	const struct visor_obj_map_def *rodata = map_named(o, ".rodata", NULL);
	const struct visor_obj_map_def *data = map_named(o, ".data", NULL);
	const struct visor_obj_map_def *str = map_named(o, ".rodata.str1.1", NULL);
	if (p && rodata && data && str) {
		const struct visor_obj_reloc *r = reloc_of(p, "cfg_mult", VISOR_OBJ_RELO_MAP_VALUE);
		uint32_t v;
		CHECK(r != NULL, "cfg_mult reference");
		if (r) {
			memcpy(&v, (const char *)rodata->init_data + r->offset, 4);
			CHECK_EQ_U64(v, 3, "cfg_mult initial value");
		}
		r = reloc_of(p, "cfg_weights", VISOR_OBJ_RELO_MAP_VALUE);
		CHECK(r != NULL, "cfg_weights reference");
		r = reloc_of(p, "total_len", VISOR_OBJ_RELO_MAP_VALUE);
		if (r) {
			uint64_t t;
			memcpy(&t, (const char *)data->init_data + r->offset, 8);
			CHECK_EQ_U64(t, 100, "total_len initial value");
		}
		r = reloc_of(p, "rotor", VISOR_OBJ_RELO_MAP_VALUE);
		if (r) {
			memcpy(&v, (const char *)data->init_data + r->offset, 4);
			CHECK_EQ_U64(v, 7, "rotor initial value");
		}
		r = reloc_of(p, ".rodata.str1.1", VISOR_OBJ_RELO_MAP_VALUE);
		CHECK(r != NULL, "string literal reference");
		if (r)
			CHECK(strcmp((const char *)str->init_data + r->offset, "visor") == 0,
			      "the literal");
		r = reloc_of(p, "mismatches", VISOR_OBJ_RELO_MAP_VALUE);
		CHECK(r && r->offset == 8 &&
			      strcmp(visor_obj_map_def_at(o, r->map_idx)->name, ".data.stats") == 0,
		      "mismatches in .data.stats+8");
	}
	visor_obj_close(o);
}

static void test_subprogs(void)
{
	struct visor_obj *o = open_obj("subprogs");
	if (!o)
		return;
	const struct visor_obj_prog *x = visor_obj_find_prog(o, "xdp_subprogs");
	const struct visor_obj_prog *t = visor_obj_find_prog(o, "tc_subprogs");
	CHECK_EQ_U64(visor_obj_prog_count(o), 2, "only entry programs are programs");
	if (x && t) {
		size_t n;
		visor_obj_prog_subprogs(x, &n);
		CHECK_EQ_U64(n, 6, "xdp_subprogs functions");
		static const char *const want[] = {"packet_len", "level1", "level2", "level3",
						   "mix"};
		for (size_t i = 0; i < 5; i++)
			CHECK(subprog_named(x, want[i]) != NULL, "xdp_subprogs has %s", want[i]);
		const struct visor_obj_subprog *g = subprog_named(x, "packet_len");
		CHECK(g && g->global && g->btf_func_id, "packet_len is global, with func info");
		g = subprog_named(x, "level3");
		CHECK(g && !g->global && g->btf_func_id, "level3 is static, with func info");
		visor_obj_prog_subprogs(t, &n);
		CHECK_EQ_U64(n, 3, "tc_subprogs functions");
		CHECK(subprog_named(t, "level2") && subprog_named(t, "level3") &&
			      !subprog_named(t, "level1") && !subprog_named(t, "mix"),
		      "tc_subprogs has just what it reaches");
		/* line info follows the appended code */
		g = subprog_named(t, "level3");
		const char *text;
		unsigned line;
		if (g) {
			CHECK(visor_obj_prog_line(t, g->start, NULL, &line, &text) == 0,
			      "line of appended level3");
			CHECK(strstr(text, "x * 7 + 3") || strstr(text, "level3"),
			      "level3's line: %s", text);
		}
	}
	visor_obj_close(o);
}

static void test_loop(void)
{
	struct visor_obj *o = open_obj("loop");
	const struct visor_obj_prog *p = o ? visor_obj_find_prog(o, "xdp_loop") : NULL;
	if (p) {
		const struct visor_obj_reloc *r = reloc_of(p, "sum_squares", VISOR_OBJ_RELO_FUNC);
		CHECK(r != NULL, "callback address relocation");
		CHECK(subprog_named(p, "square") != NULL, "callee of the callback appended");
		CHECK(reloc_of(p, "square", VISOR_OBJ_RELO_CALL) != NULL, "callback's call");
	}
	visor_obj_close(o);
}

static void test_tailcall(void)
{
	struct visor_obj *o = open_obj("tailcall");
	if (!o)
		return;
	const struct visor_obj_map_def *d = map_named(o, "jump_table", NULL);
	if (d) {
		CHECK(d->type == 3 && d->key_size == 4 && d->value_size == 4 && d->max_entries == 4,
		      "prog array definition");
		CHECK_EQ_U64(d->slot_count, 3, "initialised slots");
		static const char *const want[] = {"tail_ipv4", "tail_ipv6", "tail_recurse"};
		for (size_t i = 0; i < d->slot_count && i < 3; i++) {
			CHECK(d->slots[i].slot == i && d->slots[i].map_idx == -1 &&
				      d->slots[i].prog_idx >= 0,
			      "slot %zu", i);
			const struct visor_obj_prog *p = visor_obj_prog_at(o, d->slots[i].prog_idx);
			CHECK(p && strcmp(visor_obj_prog_name(p), want[i]) == 0, "slot %zu program",
			      i);
		}
	}
	visor_obj_close(o);
}

static void test_mapinmap(void)
{
	struct visor_obj *o = open_obj("mapinmap");
	if (!o)
		return;
	int even, odd;
	map_named(o, "inner_even", &even);
	map_named(o, "inner_odd", &odd);
	const struct visor_obj_map_def *d = map_named(o, "outer", NULL);
	if (d) {
		CHECK(d->type == 12 && d->key_size == 4 && d->value_size == 4 && d->max_entries == 2,
		      "outer definition");
		CHECK(d->inner && d->inner->type == 2 && d->inner->key_size == 4 &&
			      d->inner->value_size == 8 && d->inner->max_entries == 4 &&
			      d->inner->origin == VISOR_OBJ_MAP_INNER,
		      "inner template");
		CHECK(d->slot_count == 2 && d->slots[0].map_idx == even &&
			      d->slots[1].map_idx == odd,
		      "outer slots");
	}
	visor_obj_close(o);
}

static void test_legacy(void)
{
	struct visor_obj *o = open_obj("legacy");
	if (!o)
		return;
	CHECK(visor_obj_btf(o) == NULL, "no BTF");
	CHECK_EQ_U64(visor_obj_kern_version(o), 0x060100, "version section");
	const struct visor_obj_map_def *a = map_named(o, "legacy_counts", NULL);
	const struct visor_obj_map_def *h = map_named(o, "legacy_lengths", NULL);
	CHECK(a && a->origin == VISOR_OBJ_MAP_LEGACY && a->type == 2 && a->key_size == 4 &&
		      a->value_size == 8 && a->max_entries == 16,
	      "legacy array");
	CHECK(h && h->type == 1 && h->max_entries == 64 && h->map_flags == BPF_F_NO_PREALLOC,
	      "legacy hash");
	const struct visor_obj_prog *p = visor_obj_find_prog(o, "legacy_socket");
	if (p) {
		CHECK_EQ_U64(visor_obj_prog_type(p), VISOR_PROG_TYPE_SOCKET_FILTER, "socket");
		CHECK(visor_obj_prog_line(p, 0, NULL, NULL, NULL) == -ENOENT, "no line info");
		char msg[256];
		CHECK(visor_obj_prog_unsupported(p, msg, sizeof(msg)) == 0, "%s", msg);
	}
	visor_obj_close(o);
}

static void test_multi(void)
{
	struct visor_obj *o = open_obj("multi");
	if (!o)
		return;
	CHECK_EQ_U64(visor_obj_prog_count(o), 8, "programs");
	size_t in_xdp = 0;
	for (size_t i = 0; i < visor_obj_prog_count(o); i++)
		in_xdp += strcmp(visor_obj_prog_section(visor_obj_prog_at(o, i)), "xdp") == 0;
	CHECK_EQ_U64(in_xdp, 4, "programs in section xdp (one of them '?xdp')");
	const struct visor_obj_prog *m = visor_obj_find_prog(o, "xdp_manual");
	CHECK(m && !visor_obj_prog_autoload(m), "?xdp: no autoload");
	const struct visor_obj_prog *f = visor_obj_find_prog(o, "xdp_frags_pass");
	CHECK(f && visor_obj_prog_flags(f) == VISOR_PROG_F_XDP_HAS_FRAGS, "xdp.frags flag");
	const struct visor_obj_prog *s = visor_obj_find_prog(o, "sys_reset_hits");
	CHECK(s && visor_obj_prog_type(s) == VISOR_PROG_TYPE_SYSCALL &&
		      visor_obj_prog_flags(s) == VISOR_PROG_F_SLEEPABLE,
	      "syscall programs are sleepable");
	visor_obj_close(o);
}

static void test_maps_misc(void)
{
	struct visor_obj *o = open_obj("lpm");
	const struct visor_obj_map_def *d;
	if (o) {
		d = map_named(o, "prefixes", NULL);
		CHECK(d && d->type == 11 && d->key_size == 8 && d->value_size == 4 &&
			      d->map_flags == BPF_F_NO_PREALLOC,
		      "LPM trie");
		visor_obj_close(o);
	}
	if ((o = open_obj("ringbuf"))) {
		d = map_named(o, "events", NULL);
		CHECK(d && d->type == 27 && d->key_size == 0 && d->value_size == 0 &&
			      d->max_entries == 16 * 4096,
		      "ring buffer");
		visor_obj_close(o);
	}
	if ((o = open_obj("percpu"))) {
		d = map_named(o, "size_classes", NULL);
		CHECK(d && d->type == 6 && d->max_entries == 3, "per-CPU array");
		d = map_named(o, "first_byte", NULL);
		CHECK(d && d->type == 5, "per-CPU hash");
		visor_obj_close(o);
	}
	if ((o = open_obj("spinlock"))) {
		d = map_named(o, "totals", NULL);
		CHECK(d && d->value_size == 24 && d->btf_value_type_id, "spin lock value");
		if (d && visor_obj_btf(o)) {
			const struct btf *btf = visor_obj_btf(o);
			const struct btf_type *t = btf__type_by_id(btf, d->btf_value_type_id);
			CHECK(t && btf_is_struct(t) &&
				      strcmp(btf__name_by_offset(btf, t->name_off), "locked_stats") == 0,
			      "value type is struct locked_stats");
		}
		visor_obj_close(o);
	}
	if ((o = open_obj("sections"))) {
		d = map_named(o, "pinned_hash", NULL);
		CHECK(d && d->pinning == 1 && d->map_flags == BPF_F_NO_PREALLOC && d->key_size == 8,
		      "pinned hash");
		d = map_named(o, "bloom", NULL);
		CHECK(d && d->type == 30 && d->map_extra == 3 && d->value_size == 8,
		      "bloom filter map_extra");
		d = map_named(o, "queue", NULL);
		CHECK(d && d->type == 22 && d->key_size == 0 && d->value_size == 4, "queue");
		visor_obj_close(o);
	}
}

static void test_sections(void)
{
	static const struct {
		const char *prog;
		uint32_t type, attach, flags;
		const char *category, *name, *binary, *func;
		uint64_t offset;
		bool ret;
	} want[] = {
		{"s_socket", 1, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_kprobe", 2, 0, 0, NULL, NULL, NULL, "do_sys_openat2", 0, 0},
		{"s_kretprobe", 2, 0, 0, NULL, NULL, NULL, "do_sys_openat2", 16, 1},
		{"s_uprobe", 2, 0, 0, NULL, NULL, "/usr/lib/libc.so.6", "malloc", 16, 0},
		{"s_uretprobe", 2, 0, 0, NULL, NULL, "libc.so.6", NULL, 0x1234, 1},
		{"s_uprobe_manual", 2, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_tracepoint", 5, 0, 0, "sched", "sched_switch", NULL, NULL, 0, 0},
		{"s_tp", 5, 0, 0, "syscalls", "sys_enter_write", NULL, NULL, 0, 0},
		{"s_raw_tracepoint", 17, 0, 0, NULL, "sched_wakeup", NULL, NULL, 0, 0},
		{"s_raw_tp_w", 24, 0, 0, NULL, "bpf_test_finish", NULL, NULL, 0, 0},
		{"s_tp_btf", 26, 23, 0, NULL, "sched_switch", NULL, NULL, 0, 0},
		{"s_fentry", 26, 24, 0, NULL, "do_unlinkat", NULL, NULL, 0, 0},
		{"s_fexit", 26, 25, 0, NULL, "do_unlinkat", NULL, NULL, 0, 0},
		{"s_fentry_s", 26, 24, VISOR_PROG_F_SLEEPABLE, NULL, "do_unlinkat", NULL, NULL, 0, 0},
		{"s_lsm", 29, 27, 0, NULL, "file_open", NULL, NULL, 0, 0},
		{"s_iter", 26, 28, 0, NULL, "task", NULL, NULL, 0, 0},
		{"s_perf_event", 7, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_cgroup_skb_in", 8, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_cgroup_skb_eg", 8, 1, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_connect4", 18, 10, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_sock_create", 9, 2, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_sockops", 13, 3, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_sk_skb", 14, 5, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_sk_msg", 16, 7, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_flow", 22, 17, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_classifier", 3, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_action", 4, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_tcx_egress", 3, 47, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_xdp_devmap", 6, 33, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_xdp_frags_cpumap", 6, 35, VISOR_PROG_F_XDP_HAS_FRAGS, NULL, NULL, NULL, NULL, 0,
		 0},
		{"s_syscall", 31, 0, VISOR_PROG_F_SLEEPABLE, NULL, NULL, NULL, NULL, 0, 0},
		{"s_sk_lookup", 30, 36, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_lwt_xmit", 12, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_netfilter", 32, 45, 0, NULL, NULL, NULL, NULL, 0, 0},
		{"s_struct_ops", 27, 0, 0, NULL, "test_1", NULL, NULL, 0, 0},
		{"s_unknown", 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
	};
#define SAME(a, b) ((a) == (b) || ((a) && (b) && strcmp((a), (b)) == 0))
	struct visor_obj *o = open_obj("sections");
	if (!o)
		return;
	CHECK_EQ_U64(visor_obj_prog_count(o), sizeof(want) / sizeof(want[0]), "programs");
	CHECK(strcmp(visor_obj_license(o), "Dual BSD/GPL") == 0, "license");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct visor_obj_prog *p = visor_obj_find_prog(o, want[i].prog);
		CHECK(p != NULL, "program %s", want[i].prog);
		if (!p)
			continue;
		const struct visor_obj_attach *a = visor_obj_prog_attach(p);
		CHECK(visor_obj_prog_type(p) == want[i].type &&
			      visor_obj_prog_expected_attach_type(p) == want[i].attach &&
			      visor_obj_prog_flags(p) == want[i].flags,
		      "%s (%s): type %u attach %u flags %#x", want[i].prog,
		      visor_obj_prog_section(p), visor_obj_prog_type(p),
		      visor_obj_prog_expected_attach_type(p), visor_obj_prog_flags(p));
		CHECK(SAME(a->category, want[i].category) && SAME(a->name, want[i].name) &&
			      SAME(a->binary, want[i].binary) && SAME(a->func, want[i].func) &&
			      a->offset == want[i].offset && a->retprobe == want[i].ret,
		      "%s: attach target %s/%s bin %s func %s +%llu ret %d", want[i].prog,
		      a->category, a->name, a->binary, a->func, (unsigned long long)a->offset,
		      a->retprobe);
	}
	char msg[256];
	const struct visor_obj_prog *u = visor_obj_find_prog(o, "s_unknown");
	CHECK(u && visor_obj_prog_unsupported(u, msg, sizeof(msg)) == -EOPNOTSUPP &&
		      strstr(msg, "not_a_known_type"),
	      "unknown section refused: %s", msg);
	CHECK(strcmp(visor_obj_prog_type_name(VISOR_PROG_TYPE_XDP), "xdp") == 0 &&
		      strcmp(visor_obj_map_type_name(27), "ringbuf") == 0 &&
		      strcmp(visor_obj_attach_type_name(VISOR_ATTACH_TCX_INGRESS), "tcx_ingress") == 0 &&
		      visor_obj_prog_type_name(1000) == NULL,
	      "type names");
	visor_obj_close(o);
}

/* Our type names and numbers against libbpf's tables, for every number
 * libbpf 1.1 knows (it knows fewer than we do). */
static void test_type_names(void)
{
	uint32_t checked = 0;
	for (uint32_t t = 0; t < 64; t++) {
		const char *lb = libbpf_bpf_prog_type_str((enum bpf_prog_type)t);
		if (lb && ++checked)
			CHECK(visor_obj_prog_type_name(t) && !strcmp(lb, visor_obj_prog_type_name(t)),
			      "prog type %u: %s vs libbpf %s", t, visor_obj_prog_type_name(t), lb);
		lb = libbpf_bpf_attach_type_str((enum bpf_attach_type)t);
		if (lb && ++checked)
			CHECK(visor_obj_attach_type_name(t) &&
				      !strcmp(lb, visor_obj_attach_type_name(t)),
			      "attach type %u: %s vs libbpf %s", t, visor_obj_attach_type_name(t), lb);
		lb = libbpf_bpf_map_type_str((enum bpf_map_type)t);
		if (lb && ++checked)
			CHECK(visor_obj_map_type_name(t) && !strcmp(lb, visor_obj_map_type_name(t)),
			      "map type %u: %s vs libbpf %s", t, visor_obj_map_type_name(t), lb);
	}
	CHECK(checked > 90, "libbpf knows %u type names", checked);
}

static void test_core(void)
{
	struct visor_obj *o = open_obj("core");
	if (!o)
		return;
	static const struct {
		const char *prog, *needle;
	} refused[] = {
		{"core_task", "CO-RE relocation (field byte offset of struct task_struct"},
		{"core_kfunc", "kfunc call to 'bpf_task_acquire'"},
		{"core_kconfig", "extern __kconfig variable 'LINUX_KERNEL_VERSION'"},
		{"core_ksym", "extern __ksym variable 'bpf_prog_active'"},
	};
	for (size_t i = 0; i < 4; i++) {
		const struct visor_obj_prog *p = visor_obj_find_prog(o, refused[i].prog);
		char msg[512] = "";
		int err = p ? visor_obj_prog_unsupported(p, msg, sizeof(msg)) : 0;
		CHECK(err == -EOPNOTSUPP, "%s is refused", refused[i].prog);
		CHECK(strstr(msg, refused[i].needle) && strstr(msg, refused[i].prog) &&
			      strstr(msg, "core.bpf.c:") && !strchr(msg, '\n'),
		      "message names feature, program and line: %s", msg);
	}
	const struct visor_obj_prog *ok = visor_obj_find_prog(o, "core_skb_ok");
	size_t nc = 0;
	if (ok) {
		char msg[256];
		visor_obj_prog_core_relos(ok, &nc);
		CHECK(nc == 1, "core_skb_ok has a CO-RE relocation");
		CHECK(visor_obj_prog_unsupported(ok, msg, sizeof(msg)) == 0,
		      "CO-RE against __sk_buff is fine: %s", msg);
	}
	size_t ne;
	const struct visor_obj_extern *x = visor_obj_externs(o, &ne);
	CHECK_EQ_U64(ne, 4, "externs");
	for (size_t i = 0; i < ne; i++) {
		uint32_t want = strcmp(x[i].name, "LINUX_KERNEL_VERSION") == 0 ?
					VISOR_OBJ_EXTERN_KCONFIG :
				strcmp(x[i].name, "bpf_prog_active") == 0 ? VISOR_OBJ_EXTERN_KSYM :
									   VISOR_OBJ_EXTERN_KFUNC;
		CHECK(x[i].kind == want, "extern %s kind %u", x[i].name, x[i].kind);
	}
	visor_obj_close(o);
}

static void test_open_errors(void)
{
	char err[256];
	errno = 0;
	struct visor_obj *o = visor_obj_open_file(PROGS "does-not-exist.o", NULL, err, sizeof(err));
	CHECK(!o && errno == ENOENT && strstr(err, "does-not-exist.o"), "missing file: %s", err);
	o = visor_obj_open_file(PROGS, NULL, err, sizeof(err));
	CHECK(!o && errno == EINVAL, "directory: %s", err);
	VISOR_OPTS(visor_obj_open_opts, small, .max_size = 100);
	o = visor_obj_open_file(PROGS "xdp_parser.bpf.o", &small, err, sizeof(err));
	CHECK(!o && errno == EFBIG, "max_size: %s", err);
	o = visor_obj_open_mem("hello", 5, NULL, err, sizeof(err));
	CHECK(!o && errno == EINVAL && strstr(err, "not an ELF"), "not ELF: %s", err);
	o = visor_obj_open_mem(NULL, 0, NULL, NULL, 0);
	CHECK(!o, "empty input");

	size_t len;
	char *buf = test_read_file(PROGS "xdp_parser.bpf.o", &len);
	CHECK(buf != NULL, "read object");
	if (!buf)
		return;
	VISOR_OPTS(visor_obj_open_opts, named, .name = "parser");
	o = visor_obj_open_mem(buf, len, &named, err, sizeof(err));
	CHECK(o && strcmp(visor_obj_name(o), "parser") == 0, "open_mem with a name: %s", err);
	/* the model owns its data: scribbling on the input changes nothing */
	memset(buf, 0xa5, len);
	if (o) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, 0);
		CHECK(p && visor_obj_prog_insns(p)[0].code != 0xa5, "self-contained");
		visor_obj_close(o);
	}
	/* an older caller's smaller opts struct still works */
	struct visor_obj_open_opts old = {.sz = sizeof(size_t)};
	char *again = test_read_file(PROGS "xdp_parser.bpf.o", &len);
	o = again ? visor_obj_open_mem(again, len, &old, err, sizeof(err)) : NULL;
	CHECK(o && strcmp(visor_obj_name(o), "mem") == 0, "short opts: %s", err);
	visor_obj_close(o);
	free(again);
	free(buf);
	visor_obj_close(NULL);
}

/* ---- libbpf's view of the same objects ----------------------------------- */

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void compare_with_libbpf(const char *name)
{
	char path[512];
	path_of(path, sizeof(path), name);
	struct visor_obj *o = open_obj(name);
	struct bpf_object *lb = bpf_object__open_file(path, NULL);
	CHECK(lb != NULL, "libbpf opens %s", name);
	if (!o || !lb)
		goto out;

	struct bpf_program *lp;
	size_t i = 0;
	bpf_object__for_each_program(lp, lb) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i++);
		if (!p) {
			CHECK(0, "%s: libbpf has more programs", name);
			break;
		}
		CHECK(strcmp(bpf_program__name(lp), visor_obj_prog_name(p)) == 0,
		      "%s: program %zu is %s, libbpf says %s", name, i - 1, visor_obj_prog_name(p),
		      bpf_program__name(lp));
		const char *ls = bpf_program__section_name(lp);
		CHECK(strcmp(ls[0] == '?' ? ls + 1 : ls, visor_obj_prog_section(p)) == 0,
		      "%s: section %s vs %s", name, visor_obj_prog_section(p), ls);
		CHECK(bpf_program__autoload(lp) == visor_obj_prog_autoload(p), "%s: autoload",
		      bpf_program__name(lp));
		/* libbpf 1.1 predates tcx/netfilter/netkit names: compare what it knows */
		if (bpf_program__type(lp) != BPF_PROG_TYPE_UNSPEC) {
			CHECK(bpf_program__type(lp) == visor_obj_prog_type(p) &&
				      bpf_program__expected_attach_type(lp) ==
					      visor_obj_prog_expected_attach_type(p),
			      "%s: type %u/%u, libbpf %u/%u", bpf_program__name(lp),
			      visor_obj_prog_type(p), visor_obj_prog_expected_attach_type(p),
			      bpf_program__type(lp), bpf_program__expected_attach_type(lp));
		}
		/* before load, libbpf holds the function's own code */
		const struct visor_insn *in = visor_obj_prog_insns(p);
		const struct bpf_insn *li = bpf_program__insns(lp);
		size_t n = bpf_program__insn_cnt(lp);
		CHECK_EQ_U64(n, visor_obj_prog_subprogs(p, NULL)[0].insn_count, "main function size");
		for (size_t k = 0; k < n && k < visor_obj_prog_insn_count(p); k++)
			if (!is_relocated(p, k))
				CHECK(memcmp(&in[k], &li[k], 8) == 0, "%s insn %zu", name, k);
	}
	CHECK_EQ_U64(i, visor_obj_prog_count(o), "program count");

	struct bpf_map *lm;
	i = 0;
	bpf_object__for_each_map(lm, lb) {
		/* externs are no map in our model: the VM refuses them */
		const char *kc = strstr(bpf_map__name(lm), ".kconfig");
		if (kc && !kc[8])
			continue;
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i++);
		if (!d) {
			CHECK(0, "%s: libbpf has more maps", name);
			break;
		}
		const char *ln = bpf_map__name(lm);
		if (d->origin == VISOR_OBJ_MAP_DATA) {
			/* libbpf prefixes the object name: "globals.rodata" */
			const char *dot = strchr(ln, '.');
			CHECK(bpf_map__is_internal(lm) && dot &&
				      strncmp(d->name, dot, strlen(dot)) == 0,
			      "%s: data map %s vs %s", name, d->name, ln);
			size_t sz;
			const void *init = bpf_map__initial_value(lm, &sz);
			CHECK(sz == d->value_size, "%s: %s size", name, d->name);
			if (d->init_data && init && sz == d->value_size)
				CHECK(memcmp(init, d->init_data, sz) == 0, "%s: %s contents", name,
				      d->name);
		} else {
			CHECK(strcmp(ln, d->name) == 0, "%s: map %s vs %s", name, d->name, ln);
		}
		CHECK(bpf_map__type(lm) == d->type && bpf_map__key_size(lm) == d->key_size &&
			      bpf_map__value_size(lm) == d->value_size &&
			      bpf_map__max_entries(lm) == d->max_entries &&
			      bpf_map__map_extra(lm) == d->map_extra,
		      "%s: map %s: type %u key %u value %u max %u, libbpf %u %u %u %u", name,
		      d->name, d->type, d->key_size, d->value_size, d->max_entries,
		      bpf_map__type(lm), bpf_map__key_size(lm), bpf_map__value_size(lm),
		      bpf_map__max_entries(lm));
		/* libbpf adds BPF_F_MMAPABLE to data maps when the kernel can */
		CHECK((bpf_map__map_flags(lm) & ~BPF_F_MMAPABLE) == d->map_flags,
		      "%s: %s flags %#x vs %#x", name, d->name, d->map_flags,
		      bpf_map__map_flags(lm));
	}
	CHECK_EQ_U64(i, visor_obj_map_count(o), "map count");
out:
	bpf_object__close(lb);
	visor_obj_close(o);
}

/* ---- The kernel runs our linked streams ---------------------------------- */

struct kobj {
	int *map_fds;
	int *prog_fds;
	size_t nmaps, nprogs;
};

static int make_map(const struct visor_obj_map_def *d, int inner_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = d->map_flags,
		    .map_extra = d->map_extra, .inner_map_fd = inner_fd);
	return bpf_map_create(d->type, NULL, d->key_size, d->value_size, d->max_entries, &o);
}

/* Maps from our definitions, programs from our streams with map fds put
 * where the relocations say; static slots filled in. */
static int kernel_load(struct visor_obj *o, struct kobj *k, const char *name)
{
	k->nmaps = visor_obj_map_count(o);
	k->nprogs = visor_obj_prog_count(o);
	k->map_fds = calloc(k->nmaps + 1, sizeof(int));
	k->prog_fds = calloc(k->nprogs + 1, sizeof(int));
	for (size_t i = 0; i < k->nmaps; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i);
		int inner = d->inner ? make_map(d->inner, -1) : -1;
		k->map_fds[i] = make_map(d, inner);
		if (inner >= 0)
			close(inner);
		CHECK(k->map_fds[i] >= 0, "%s: kernel map %s: %d", name, d->name, k->map_fds[i]);
		if (k->map_fds[i] < 0)
			return -1;
		if (d->init_data) {
			uint32_t zero = 0;
			CHECK(bpf_map_update_elem(k->map_fds[i], &zero, d->init_data, 0) == 0,
			      "initial data");
		}
		if (d->read_only)
			bpf_map_freeze(k->map_fds[i]);
	}
	for (size_t i = 0; i < k->nprogs; i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i);
		size_t n = visor_obj_prog_insn_count(p), nr;
		const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &nr);
		struct bpf_insn *in = malloc(n * sizeof(*in));
		memcpy(in, visor_obj_prog_insns(p), n * sizeof(*in));
		for (size_t j = 0; j < nr; j++)
			if (r[j].kind == VISOR_OBJ_RELO_MAP_FD || r[j].kind == VISOR_OBJ_RELO_MAP_VALUE)
				in[r[j].insn_idx].imm = k->map_fds[r[j].map_idx];
		char *log = malloc(1 << 20);
		log[0] = 0;
		LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type =
			    visor_obj_prog_expected_attach_type(p),
			    .prog_flags = visor_obj_prog_flags(p), .log_buf = log,
			    .log_size = 1 << 20, .log_level = 0);
		k->prog_fds[i] = bpf_prog_load(visor_obj_prog_type(p), NULL, visor_obj_license(o),
					       in, n, &lo);
		if (k->prog_fds[i] < 0) {
			lo.log_level = 1;
			bpf_prog_load(visor_obj_prog_type(p), NULL, visor_obj_license(o), in, n, &lo);
			size_t l = strlen(log);
			CHECK(0, "%s: the kernel refuses our %s (%d): ...%s", name,
			      visor_obj_prog_name(p), k->prog_fds[i], log + (l > 1500 ? l - 1500 : 0));
		}
		free(log);
		free(in);
	}
	for (size_t i = 0; i < k->nmaps; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i);
		for (size_t s = 0; s < d->slot_count; s++) {
			int fd = d->slots[s].prog_idx >= 0 ? k->prog_fds[d->slots[s].prog_idx] :
							       k->map_fds[d->slots[s].map_idx];
			CHECK(bpf_map_update_elem(k->map_fds[i], &d->slots[s].slot, &fd, 0) == 0,
			      "%s: slot %u of %s", name, d->slots[s].slot, d->name);
		}
	}
	return 0;
}

static void kernel_free(struct kobj *k)
{
	for (size_t i = 0; i < k->nmaps; i++)
		if (k->map_fds[i] > 0)
			close(k->map_fds[i]);
	for (size_t i = 0; i < k->nprogs; i++)
		if (k->prog_fds[i] > 0)
			close(k->prog_fds[i]);
	free(k->map_fds);
	free(k->prog_fds);
}

/* A few packets: IPv4 UDP to the discard port, IPv4 TCP to 23 from
 * 10.1.2.3, IPv6 UDP, ARP, and IPv4 from 192.168.1.1 of odd length. */
static size_t make_packet(int which, uint8_t *p)
{
	static const uint8_t eth4[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
	memset(p, 0, 128);
	memcpy(p, eth4, 14);
	uint8_t *ip = p + 14;
	switch (which) {
	case 0: /* UDP 10.0.0.1 -> 10.0.0.2 port 9 */
		ip[0] = 0x45, ip[3] = 28 + 4, ip[8] = 64, ip[9] = 17;
		ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
		ip[22] = 0, ip[23] = 9, ip[25] = 12;
		return 14 + 32;
	case 1: /* TCP 10.1.2.3 -> port 23, tos 0x10 */
		ip[0] = 0x45, ip[1] = 0x10, ip[3] = 40, ip[8] = 64, ip[9] = 6;
		ip[12] = 10, ip[13] = 1, ip[14] = 2, ip[15] = 3, ip[16] = 10, ip[19] = 9;
		ip[22] = 0, ip[23] = 23;
		return 14 + 40;
	case 2: /* IPv6 UDP */
		p[12] = 0x86, p[13] = 0xdd;
		ip[0] = 0x60, ip[5] = 8, ip[6] = 17, ip[7] = 64;
		ip[40 + 3] = 53;
		return 14 + 48;
	case 3: /* ARP */
		p[12] = 0x08, p[13] = 0x06;
		return 14 + 28;
	default: /* "visor" at the start, IPv4 ICMP from 192.168.1.1, odd length */
		memcpy(p, "visor\0\0\0", 8);
		ip[0] = 0x45, ip[3] = 33, ip[8] = 64, ip[9] = 1;
		ip[12] = 192, ip[13] = 168, ip[14] = 1, ip[15] = 1;
		return 14 + 33;
	}
}

static bool runnable_type(uint32_t t)
{
	return t == VISOR_PROG_TYPE_XDP || t == VISOR_PROG_TYPE_SCHED_CLS ||
	       t == VISOR_PROG_TYPE_SOCKET_FILTER || t == VISOR_PROG_TYPE_SYSCALL;
}

static int test_run(int fd, uint32_t type, const uint8_t *pkt, size_t len, uint32_t *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	if (type != VISOR_PROG_TYPE_SYSCALL) {
		o.data_in = pkt;
		o.data_size_in = (uint32_t)len;
	}
	int err = bpf_prog_test_run_opts(fd, &o);
	*ret = o.retval;
	return err;
}

static int kernel_runs, kernel_progs;

static void kernel_compare(const char *name)
{
	char path[512];
	path_of(path, sizeof(path), name);
	struct visor_obj *o = open_obj(name);
	struct bpf_object *lb = bpf_object__open_file(path, NULL);
	struct kobj k = {0};
	if (!o || !lb) {
		CHECK(lb != NULL, "libbpf opens %s", name);
		goto out;
	}
	struct bpf_program *lp;
	bpf_object__for_each_program(lp, lb)
		bpf_program__set_autoload(lp, true);
	int err = bpf_object__load(lb);
	CHECK(err == 0, "libbpf loads %s: %d", name, err);
	if (err || kernel_load(o, &k, name))
		goto out;
	/* the same runs in the same order on both: state evolves alike */
	for (size_t i = 0; i < visor_obj_prog_count(o); i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i);
		uint32_t type = visor_obj_prog_type(p);
		struct bpf_program *q = bpf_object__find_program_by_name(lb, visor_obj_prog_name(p));
		kernel_progs += k.prog_fds[i] >= 0;
		if (!runnable_type(type) || !q || k.prog_fds[i] < 0)
			continue;
		for (int w = 0; w < 5; w++, kernel_runs++) {
			uint8_t pkt[128];
			size_t len = make_packet(w, pkt);
			uint32_t a = 0, b = 0;
			int e1 = test_run(k.prog_fds[i], type, pkt, len, &a);
			int e2 = test_run(bpf_program__fd(q), type, pkt, len, &b);
			CHECK(e1 == 0 && e2 == 0 && a == b, "%s: %s packet %d: ours %d/%u, libbpf %d/%u",
			      name, visor_obj_prog_name(p), w, e1, a, e2, b);
		}
	}
	/* global data ends up the same (map value relocations hit the same bytes) */
	struct bpf_map *lm;
	size_t mi = 0;
	bpf_object__for_each_map(lm, lb) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, mi);
		if (d && d->origin == VISOR_OBJ_MAP_DATA && !d->read_only) {
			uint8_t *x = calloc(1, d->value_size), *y = calloc(1, d->value_size);
			uint32_t zero = 0;
			bpf_map_lookup_elem(k.map_fds[mi], &zero, x);
			bpf_map_lookup_elem(bpf_map__fd(lm), &zero, y);
			CHECK(memcmp(x, y, d->value_size) == 0, "%s: %s after the runs", name,
			      d->name);
			free(x);
			free(y);
		}
		mi++;
	}
out:
	kernel_free(&k);
	bpf_object__close(lb);
	visor_obj_close(o);
}

/* legacy.bpf.o: libbpf 1.x cannot open it, so the kernel just has to
 * accept what we made of it, and run it. */
static void kernel_load_only(const char *name)
{
	struct visor_obj *o = open_obj(name);
	struct kobj k = {0};
	if (o && kernel_load(o, &k, name) == 0) {
		for (size_t i = 0; i < k.nprogs; i++) {
			uint32_t type = visor_obj_prog_type(visor_obj_prog_at(o, i));
			uint8_t pkt[128];
			size_t len = make_packet(1, pkt);
			uint32_t ret = 0;
			if (k.prog_fds[i] >= 0 && runnable_type(type))
				CHECK(test_run(k.prog_fds[i], type, pkt, len, &ret) == 0 &&
					      ret == len - 14,
				      "%s: run gives %u", name, ret);
		}
	}
	kernel_free(&k);
	visor_obj_close(o);
}

int main(void)
{
	libbpf_set_print(quiet);

	test_xdp_parser();
	test_globals();
	test_subprogs();
	test_loop();
	test_tailcall();
	test_mapinmap();
	test_legacy();
	test_multi();
	test_maps_misc();
	test_sections();
	test_type_names();
	test_core();
	test_open_errors();
	for (size_t i = 0; i < NOBJS; i++)
		check_streams(all_objs[i]);
	/* libbpf 1.x does not read legacy "maps" sections */
	for (size_t i = 0; i < NOBJS; i++)
		if (strcmp(all_objs[i], "legacy") != 0)
			compare_with_libbpf(all_objs[i]);

	char why[256];
	if (kernel_available(why, sizeof(why))) {
		/* spinlock (map value BTF) and loop (callbacks need func info)
		 * need the object's BTF in the kernel, which is the kernel
		 * backend's business; core and sections are not meant to load */
		static const char *const run[] = {"xdp_parser", "lpm", "ringbuf", "tailcall",
						  "globals", "subprogs", "percpu", "multi",
						  "socket", "tc", "tracepoint", "mapinmap"};
		for (size_t i = 0; i < sizeof(run) / sizeof(run[0]); i++)
			kernel_compare(run[i]);
		kernel_load_only("legacy");
		printf("test_object: the kernel loaded %d linked programs; %d runs matched libbpf's\n",
		       kernel_progs, kernel_runs);
	} else {
		printf("test_object: kernel comparison skipped: %s\n", why);
	}
	return test_summary("test_object");
}
