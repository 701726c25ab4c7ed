/* visor obj info: what a compiled eBPF object holds, as aligned tables. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor obj info OBJ\n"
		"Describes OBJ (what `clang -O2 -g -target bpf -c` produced) as the visor loader\n"
		"reads it: programs (name, section, program type, instruction count, and whether\n"
		"the visor VM can run it: if not, the reason the loader gives; and the verifier's\n"
		"verdict with the object's maps: \"accepted (N insns processed)\" or \"refused:\"\n"
		"and the reason, as 'visor verify' gives it), maps (name, type, key and value\n"
		"sizes, max_entries, flags, origin), and the sections they come from with the\n"
		"license.\n\n"
		"  -h, --help          this text\n");
}

static const char *origin_name(uint32_t origin)
{
	switch (origin) {
	case VISOR_OBJ_MAP_BTF: return ".maps";
	case VISOR_OBJ_MAP_LEGACY: return "maps";
	case VISOR_OBJ_MAP_DATA: return "data";
	case VISOR_OBJ_MAP_INNER: return "inner";
	default: return "?";
	}
}

/* Why the VM cannot run prog, or "yes". The loader's reason names the
 * program first ("prog 'x': ..."): the table has a NAME column already. */
static void vm_verdict(const struct visor_obj_prog *p, char *buf, size_t len)
{
	char why[512];
	if (visor_obj_prog_unsupported(p, why, sizeof(why))) {
		const char *s = why, *colon = strstr(why, "': ");
		if (!strncmp(why, "prog '", 6) && colon)
			s = colon + 3;
		snprintf(buf, len, "no: %.*s", (int)(len > 8 ? len - 8 : 0), s);
	} else if (!visor_vm_prog_type_supported(visor_obj_prog_type(p))) {
		snprintf(buf, len, "no: program type not supported by the VM yet");
	} else {
		snprintf(buf, len, "yes");
	}
}

/* The verifier's verdict on p with the object's maps (NULL when they could
 * not be created: maps_err says why). */
static void verifier_verdict(const struct visor_obj_prog *p, struct visor_map *const *maps,
			     size_t nmaps, const char *maps_err, char *buf, size_t len)
{
	char why[512];
	if (visor_obj_prog_unsupported(p, why, sizeof(why)) ||
	    !visor_vm_prog_type_supported(visor_obj_prog_type(p))) {
		snprintf(buf, len, "-");
		return;
	}
	if (maps_err) {
		snprintf(buf, len, "not run: %s", maps_err);
		return;
	}
	VISOR_OPTS(visor_verify_opts, o);
	if (cli_verify_obj_prog(p, maps, nmaps, -1, 0, &o))
		snprintf(buf, len, "refused: %s", o.errmsg);
	else
		snprintf(buf, len, "accepted (%llu insns processed)",
			 (unsigned long long)o.insns_processed);
}

static void print_info(const char *path, struct visor_obj *obj)
{
	size_t np = visor_obj_prog_count(obj), nm = visor_obj_map_count(obj), nx = 0;
	visor_obj_externs(obj, &nx);
	printf("object %s (%s): license \"%s\", %zu program%s, %zu map%s, BTF %s", visor_obj_name(obj),
	       path, visor_obj_license(obj), np, np == 1 ? "" : "s", nm, nm == 1 ? "" : "s",
	       visor_obj_btf(obj) ? "yes" : "no");
	if (visor_obj_kern_version(obj))
		printf(", kern_version 0x%x", visor_obj_kern_version(obj));
	if (nx)
		printf(", %zu extern%s", nx, nx == 1 ? "" : "s");
	printf("\n\n");

	struct cli_table t;
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	char maps_err[256];
	bool maps_ok = visor_obj_maps_create(obj, &maps, &nmaps, maps_err, sizeof(maps_err)) == 0;
	static const char *const ph[] = {"PROGRAM", "SECTION", "TYPE",
					 ">INSNS",  "SUBPROGS", "VM", "VERIFIER"};
	cli_table_init(&t, 7, ph);
	for (size_t i = 0; i < np; i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
		const char *tn = visor_obj_prog_type_name(visor_obj_prog_type(p));
		size_t ns = 0;
		visor_obj_prog_subprogs(p, &ns);
		char verdict[600], vverdict[700];
		vm_verdict(p, verdict, sizeof(verdict));
		verifier_verdict(p, maps, nmaps, maps_ok ? NULL : maps_err, vverdict,
				 sizeof(vverdict));
		cli_table_row(&t);
		cli_table_cell(&t, "%s", visor_obj_prog_name(p));
		cli_table_cell(&t, "%s%s", visor_obj_prog_autoload(p) ? "" : "?",
			       visor_obj_prog_section(p));
		cli_table_cell(&t, "%s", tn ? tn : "?");
		cli_table_cell(&t, "%zu", visor_obj_prog_insn_count(p));
		cli_table_cell(&t, "%zu", ns ? ns - 1 : 0);
		cli_table_cell(&t, "%s", verdict);
		cli_table_cell(&t, "%s", vverdict);
	}
	visor_obj_maps_destroy(maps, nmaps);
	if (np)
		cli_table_print(&t, stdout);
	else
		printf("no programs\n");
	cli_table_free(&t);
	printf("\n");

	static const char *const mh[] = {"MAP", "TYPE", ">KEY", ">VALUE", ">MAX_ENTRIES", "FLAGS",
					 "SECTION"};
	cli_table_init(&t, 7, mh);
	for (size_t i = 0; i < nm; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, i);
		const char *tn = visor_obj_map_type_name(d->type);
		cli_table_row(&t);
		cli_table_cell(&t, "%s", d->name);
		if (tn)
			cli_table_cell(&t, "%s", tn);
		else
			cli_table_cell(&t, "%u", d->type);
		cli_table_cell(&t, "%u", d->key_size);
		cli_table_cell(&t, "%u", d->value_size);
		cli_table_cell(&t, "%u", d->max_entries);
		cli_table_cell(&t, "0x%x", d->map_flags);
		cli_table_cell(&t, "%s", d->origin == VISOR_OBJ_MAP_DATA ? d->name : origin_name(d->origin));
	}
	if (nm)
		cli_table_print(&t, stdout);
	else
		printf("no maps\n");
	cli_table_free(&t);
	printf("\n");

	/* Sections as the model shows them: program sections, map sections,
	 * global data (each a map) and the license. */
	static const char *const sh[] = {"SECTION", "HOLDS"};
	cli_table_init(&t, 2, sh);
	for (size_t i = 0; i < np; i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
		cli_table_row(&t);
		cli_table_cell(&t, "%s", visor_obj_prog_section(p));
		cli_table_cell(&t, "program %s", visor_obj_prog_name(p));
	}
	size_t nbtf = 0, nlegacy = 0;
	for (size_t i = 0; i < nm; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, i);
		nbtf += d->origin == VISOR_OBJ_MAP_BTF;
		nlegacy += d->origin == VISOR_OBJ_MAP_LEGACY;
		if (d->origin == VISOR_OBJ_MAP_DATA) {
			cli_table_row(&t);
			cli_table_cell(&t, "%s", d->name);
			cli_table_cell(&t, "global data, %u bytes%s%s", d->value_size,
				       d->read_only ? ", read-only" : "",
				       d->init_data ? "" : ", zero-initialised");
		}
	}
	if (nbtf) {
		cli_table_row(&t);
		cli_table_cell(&t, ".maps");
		cli_table_cell(&t, "%zu BTF-defined map%s", nbtf, nbtf == 1 ? "" : "s");
	}
	if (nlegacy) {
		cli_table_row(&t);
		cli_table_cell(&t, "maps");
		cli_table_cell(&t, "%zu legacy map definition%s", nlegacy, nlegacy == 1 ? "" : "s");
	}
	if (*visor_obj_license(obj)) {
		cli_table_row(&t);
		cli_table_cell(&t, "license");
		cli_table_cell(&t, "\"%s\"", visor_obj_license(obj));
	}
	if (visor_obj_btf(obj)) {
		cli_table_row(&t);
		cli_table_cell(&t, ".BTF");
		cli_table_cell(&t, "type information (and line info in .BTF.ext)");
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
}

int cmd_obj(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "info")) {
		cli_error("obj: expected 'visor obj info OBJ' (try 'visor obj --help')");
		return 2;
	}
	int c;
	argc--, argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		cli_error("obj info: expected one object file (try 'visor obj --help')");
		return 2;
	}
	const char *path = argv[optind];
	struct visor_obj *obj = cli_open_obj(path);
	if (!obj)
		return 1;
	print_info(path, obj);
	visor_obj_close(obj);
	return 0;
}
