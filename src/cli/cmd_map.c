/* visor map dump: the contents of an object's maps, bpftool style. Also
 * the dump `visor test-run --dump-maps` prints after its runs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor map dump OBJ [--map NAME]\n"
		"Creates OBJ's maps from their definitions, as `visor test-run` does, and prints\n"
		"their contents like `bpftool map dump`: key and value in hex, per-CPU values one\n"
		"line per CPU, global data (.data, .rodata, .bss) as hex with ASCII. In a fresh\n"
		"process that is the initial contents: global data as compiled, other maps empty.\n"
		"To see maps after a program ran, use 'visor test-run ... --dump-maps'.\n"
		"Pinned kernel maps (/sys/fs/bpf/...) come with the kernel backend, not yet.\n\n"
		"  --map NAME          only this map (default: every map)\n"
		"  -h, --help          this text\n");
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
		fputs("key: ", out);
		cli_hex_bytes(out, key, ks);
		if (visor_map_nr_cpus(map) > 1 || uvs != vs) {
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
	if (rc && rc != -ENOENT && !status) {
		cli_error("map %s: get_next_key: %s", name, visor_map_errmsg(map));
		status = -1;
	}
	if (!global)
		fprintf(out, "Found %zu element%s\n", found, found == 1 ? "" : "s");
	free(prev), free(key), free(val);
	return status;
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
	if (argc < 2 || strcmp(argv[1], "dump")) {
		cli_error("map: expected 'visor map dump OBJ' (try 'visor map --help')");
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
	if (optind != argc - 1) {
		cli_error("map dump: expected one object file (try 'visor map --help')");
		return 2;
	}
	const char *path = argv[optind];
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
