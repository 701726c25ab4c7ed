/* visor map dump: the contents of an object's maps, of a map pinned in the
 * kernel (bpffs) or of a kernel map by id, bpftool style; visor map list:
 * every map in the kernel. Also the dumps `visor test-run --dump-maps` and
 * `visor run` print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <visor/kernel.h>
#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor map dump OBJ [--map NAME]\n"
		"       visor map dump PINNED\n"
		"       visor map dump [id] ID\n"
		"       visor map list\n"
		"Creates OBJ's maps from their definitions, as `visor test-run` does, and prints\n"
		"their contents like `bpftool map dump`: key and value in hex, per-CPU values one\n"
		"line per CPU, global data (.data, .rodata, .bss) as hex with ASCII. In a fresh\n"
		"process that is the initial contents: global data as compiled, other maps empty.\n"
		"To see maps after a program ran, use 'visor test-run ... --dump-maps'.\n"
		"Pinned kernel maps: a PINNED path on the bpf filesystem (/sys/fs/bpf/...)\n"
		"is read from the kernel (needs root): the same lines, and for maps with BTF\n"
		"each key and value also formatted through it ('formatted: KEY -> VALUE').\n"
		"A kernel map by id ('id 12', or a bare number that is not a file) is read the\n"
		"same way. 'visor map list' shows every map loaded in the kernel: id, type,\n"
		"name, key and value sizes, max entries (needs root).\n\n"
		"  --map NAME          only this map of OBJ (default: every map)\n"
		"  -h, --help          this text\n");
}

/* One element: "key: ..  value: .." on a line, or the key then one line
 * per CPU. */
static void print_entry(FILE *out, const uint8_t *key, uint32_t ks, const uint8_t *val,
			uint32_t vs, int percpu, uint32_t ncpu, size_t stride)
{
	fputs("key: ", out);
	cli_hex_bytes(out, key, ks);
	if (percpu) {
		fputc('\n', out);
		for (uint32_t c = 0; c < ncpu; c++) {
			fprintf(out, "  value (CPU %02u): ", c);
			cli_hex_bytes(out, val + c * stride, vs);
			fputc('\n', out);
		}
	} else {
		fputs("  value: ", out);
		cli_hex_bytes(out, val, vs);
		fputc('\n', out);
	}
}

static int no_listing(uint32_t type)
{
	return type == VISOR_MAP_TYPE_RINGBUF || type == VISOR_MAP_TYPE_QUEUE ||
	       type == VISOR_MAP_TYPE_STACK;
}

int cli_map_dump(FILE *out, struct visor_map *map, const struct visor_obj_map_def *def)
{
	uint32_t type = visor_map_type(map), ks = visor_map_key_size(map);
	uint32_t vs = visor_map_value_size(map), ncpu = visor_map_nr_cpus(map);
	const char *tn = visor_map_type_name(type);
	const char *name = def ? def->name : visor_map_name(map);
	fprintf(out, "map %s: %s, key %u, value %u, max_entries %u\n", name, tn ? tn : "?", ks, vs,
		visor_map_max_entries(map));
	if (no_listing(type)) {
		fprintf(out, "  (a %s has no keys to list)\n", tn ? tn : "map");
		return 0;
	}
	size_t uvs = visor_map_user_value_size(map), stride = ncpu > 1 ? (vs + 7) / 8 * 8 : vs;
	uint8_t *prev = malloc(ks ? ks : 1), *key = malloc(ks ? ks : 1), *val = malloc(uvs ? uvs : 1);
	if (!prev || !key || !val) {
		free(prev), free(key), free(val);
		cli_error("map %s: out of memory", name);
		return -1;
	}
	int global = def && def->origin == VISOR_OBJ_MAP_DATA;
	size_t found = 0;
	int rc, status = 0;
	for (rc = visor_map_get_next_key(map, NULL, key); rc == 0;
	     rc = visor_map_get_next_key(map, prev, key)) {
		memcpy(prev, key, ks);
		int lr = visor_map_lookup(map, key, val);
		if (lr == -ENOENT)
			continue; /* deleted meanwhile */
		if (lr) {
			cli_error("map %s: lookup: %s", name, visor_map_errmsg(map));
			status = -1;
			break;
		}
		found++;
		if (global) {
			cli_hexdump(out, val, vs, "  ");
			continue;
		}
		print_entry(out, key, ks, val, vs, visor_map_nr_cpus(map) > 1 || uvs != vs, ncpu,
			    stride);
	}
	if (rc && rc != -ENOENT && !status) {
		cli_error("map %s: get_next_key: %s", name, visor_map_errmsg(map));
		status = -1;
	}
	if (!global)
		fprintf(out, "Found %zu element%s\n", found, found == 1 ? "" : "s");
	free(prev), free(key), free(val);
	return status;
}

/* Formatted text of a key or value through the map's BTF into *buf (grown
 * as needed): 1 when there is some, 0 when the map has no BTF for it or the
 * formatting failed (the hex line stands alone then). */
static int btf_text(struct visor_kernel_map *m, int value, const void *data, char **buf,
		    size_t *cap)
{
	for (int tries = 0; tries < 2; tries++) {
		int n = value ? visor_kernel_map_format_value(m, data, *buf, *cap)
			      : visor_kernel_map_format_key(m, data, *buf, *cap);
		if (n < 0)
			return 0;
		if ((size_t)n < *cap)
			return 1;
		char *nb = realloc(*buf, (size_t)n + 1);
		if (!nb)
			return 0;
		*buf = nb;
		*cap = (size_t)n + 1;
	}
	return 0;
}

/* Walks a kernel map: the same lines as cli_map_dump, then the BTF
 * formatting of each element when the map has BTF. */
int cli_kernel_map_dump(FILE *out, struct visor_kernel_map *m, const char *path)
{
	const struct visor_kernel_map_info *in = visor_kernel_map_info(m);
	const char *tn = visor_kernel_map_type_name(in->type);
	const char *name = in->name[0] ? in->name : path;
	fprintf(out, "map %s: ", name);
	if (tn)
		fputs(tn, out);
	else
		fprintf(out, "type %u", in->type);
	fprintf(out, ", key %u, value %u, max_entries %u", in->key_size, in->value_size,
		in->max_entries);
	if (in->map_flags)
		fprintf(out, ", flags 0x%x", in->map_flags);
	fprintf(out, ", id %u%s\n", in->id, in->btf_id ? ", btf" : "");
	if (visor_kernel_map_type_keyless(in->type)) {
		fprintf(out, "  (a %s has no keys to list)\n", tn ? tn : "map");
		return 0;
	}
	size_t cap = 256;
	uint8_t *prev = malloc(in->key_size ? in->key_size : 1);
	uint8_t *key = malloc(in->key_size ? in->key_size : 1);
	uint8_t *val = malloc(in->value_buf_size ? in->value_buf_size : 1);
	char *kt = malloc(cap), *vt = NULL;
	size_t kcap = cap, vcap = 0;
	if (!prev || !key || !val || !kt) {
		free(prev), free(key), free(val), free(kt);
		cli_error("%s: out of memory", path);
		return -1;
	}
	int percpu = in->nr_cpus > 1 || in->value_stride != in->value_size;
	size_t found = 0;
	int rc, status = 0;
	for (rc = visor_kernel_map_get_next_key(m, NULL, key); rc == 0;
	     rc = visor_kernel_map_get_next_key(m, prev, key)) {
		memcpy(prev, key, in->key_size);
		int lr = visor_kernel_map_lookup(m, key, val);
		if (lr == -ENOENT)
			continue; /* deleted meanwhile, or an empty prog/map array slot */
		if (lr == -EOPNOTSUPP || lr == -VISOR_ENOTSUPP) {
			fprintf(out, "  (values of a %s cannot be read from user space)\n",
				tn ? tn : "map of this type");
			rc = -ENOENT;
			break;
		}
		if (lr) {
			cli_error("%s: %s", path, visor_kernel_map_errmsg(m));
			status = -1;
			break;
		}
		found++;
		print_entry(out, key, in->key_size, val, in->value_size, percpu, in->nr_cpus,
			    in->value_stride);
		if (!in->btf_value_type_id)
			continue;
		int have_key = btf_text(m, 0, key, &kt, &kcap);
		if (percpu) {
			if (have_key)
				fprintf(out, "  formatted key: %s\n", kt);
			for (uint32_t c = 0; c < in->nr_cpus; c++)
				if (btf_text(m, 1, val + (size_t)c * in->value_stride, &vt, &vcap))
					fprintf(out, "  formatted (CPU %02u): %s\n", c, vt);
		} else if (btf_text(m, 1, val, &vt, &vcap)) {
			fprintf(out, "  formatted: %s%s%s\n", have_key ? kt : "",
				have_key ? " -> " : "", vt);
		}
	}
	if (rc && rc != -ENOENT && !status) {
		cli_error("%s: %s", path, visor_kernel_map_errmsg(m));
		status = -1;
	}
	fprintf(out, "Found %zu element%s\n", found, found == 1 ? "" : "s");
	free(prev), free(key), free(val), free(kt), free(vt);
	return status;
}

/* A pinned map is a path on bpffs, or one under /sys/fs/bpf that does not
 * exist (so the message is about pins, not object files). */
static int is_pinned_path(const char *path)
{
	int r = visor_kernel_is_bpffs(path, NULL, 0);
	if (r >= 0)
		return r;
	size_t dl = strlen(VISOR_KERNEL_BPFFS_DIR);
	return !strncmp(path, VISOR_KERNEL_BPFFS_DIR, dl) && (!path[dl] || path[dl] == '/');
}

static int cmd_map_dump_pinned(const char *path)
{
	struct visor_kernel_map *m;
	char err[512];
	if (visor_kernel_map_open_pinned(path, &m, err, sizeof(err))) {
		cli_error("%s", err);
		return 1;
	}
	int status = cli_kernel_map_dump(stdout, m, path) ? 1 : 0;
	visor_kernel_map_close(m);
	return status;
}

/* "12" when it is not the name of a file: a kernel map id. */
static int parse_map_id(const char *text, uint32_t *id)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (!*text || *end || errno || v == 0 || v > UINT32_MAX || text[0] == '-' || text[0] == '+')
		return -1;
	*id = (uint32_t)v;
	return 0;
}

static int cmd_map_dump_id(uint32_t id)
{
	struct visor_kernel_map *m;
	char err[512], label[32];
	if (visor_kernel_map_open_id(id, &m, err, sizeof(err))) {
		cli_error("%s", err);
		return 1;
	}
	snprintf(label, sizeof(label), "id %u", id);
	int status = cli_kernel_map_dump(stdout, m, label) ? 1 : 0;
	visor_kernel_map_close(m);
	return status;
}

static int list_one(void *ctx, const struct visor_kernel_map_info *in)
{
	struct cli_table *t = ctx;
	const char *tn = visor_kernel_map_type_name(in->type);
	cli_table_row(t);
	cli_table_cell(t, "%u", in->id);
	if (tn)
		cli_table_cell(t, "%s", tn);
	else
		cli_table_cell(t, "type %u", in->type);
	cli_table_cell(t, "%s", in->name[0] ? in->name : "-");
	cli_table_cell(t, "%u", in->key_size);
	cli_table_cell(t, "%u", in->value_size);
	cli_table_cell(t, "%u", in->max_entries);
	cli_table_cell(t, "%s", in->btf_id ? "yes" : "-");
	return 0;
}

static int cmd_map_list(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		cli_error("map list: unexpected argument '%s' (try 'visor map --help')", argv[i]);
		return 2;
	}
	static const char *const headers[] = {">ID", "TYPE", "NAME", ">KEY", ">VALUE",
					       ">MAX_ENTRIES", "BTF"};
	struct cli_table t;
	cli_table_init(&t, 7, headers);
	char err[512];
	int rc = visor_kernel_map_list(list_one, &t, err, sizeof(err));
	if (rc) {
		cli_table_free(&t);
		cli_error("%s", err);
		return 1;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	return 0;
}

int cmd_map(int argc, char **argv)
{
	static const struct option opts[] = {
		{"map", required_argument, 0, 'm'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return cmd_map_list(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "dump")) {
		cli_error("map: expected 'visor map dump OBJ|PINNED|ID' or 'visor map list' (try 'visor "
			  "map --help')");
		return 2;
	}
	const char *only = NULL;
	int c;
	argc--, argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': only = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	uint32_t id;
	if (optind == argc - 2 && !strcmp(argv[optind], "id")) {
		if (parse_map_id(argv[optind + 1], &id)) {
			cli_error("map dump: '%s' is not a map id", argv[optind + 1]);
			return 2;
		}
		if (only) {
			cli_error("map dump: --map selects a map of an object file, not a kernel map id");
			return 2;
		}
		return cmd_map_dump_id(id);
	}
	if (optind != argc - 1) {
		cli_error("map dump: expected one object file, pinned map or map id (try 'visor map "
			  "--help')");
		return 2;
	}
	const char *path = argv[optind];
	if (!parse_map_id(path, &id) && access(path, F_OK)) {
		if (only) {
			cli_error("map dump: --map selects a map of an object file, not a kernel map id");
			return 2;
		}
		return cmd_map_dump_id(id);
	}
	if (is_pinned_path(path)) {
		if (only) {
			cli_error("map dump: --map selects a map of an object file; %s is one pinned map",
				  path);
			return 2;
		}
		return cmd_map_dump_pinned(path);
	}
	char err[512];
	struct visor_obj *obj = cli_open_obj(path);
	if (!obj)
		return 1;
	int status = 1, idx = -1;
	struct visor_map **maps = NULL;
	size_t n = 0;
	if (only && (idx = visor_obj_find_map(obj, only)) < 0) {
		cli_error("%s: no map named '%s'", path, only);
		goto out;
	}
	if (visor_obj_maps_create(obj, &maps, &n, err, sizeof(err))) {
		cli_error("%s: %s", path, err);
		goto out;
	}
	if (!n)
		printf("%s has no maps\n", path);
	status = 0;
	for (size_t i = 0; i < n; i++) {
		if (idx >= 0 && (size_t)idx != i)
			continue;
		if (cli_map_dump(stdout, maps[i], visor_obj_map_def_at(obj, i)))
			status = 1;
	}
out:
	visor_obj_maps_destroy(maps, n);
	visor_obj_close(obj);
	return status;
}
