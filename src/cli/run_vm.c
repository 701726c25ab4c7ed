/* visor run --backend vm: an object on visor's engine (every program
 * verified as it loads), its packet program run on every packet of a
 * capture, then the maps dumped as the kernel backend dumps them
 * (src/cli/cmd_run.c): log2 histograms through the same printer, other
 * maps as "  KEY -> VALUE" formatted through the object's BTF with
 * libbpf's btf_dump (the kernel backend formats the kernel's copy of that
 * BTF the same way), hex lines without BTF. */
#include <bpf/btf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "cli.h"

/* ---- BTF formatting, as src/kernel/btf_format.c ------------------------ */

struct fmt {
	struct btf_dump *dump;
	char *buf;
	size_t len, pos;
};

static void out_printf(void *ctx, const char *f, va_list ap)
{
	struct fmt *o = ctx;
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	int n = vsnprintf(room ? o->buf + o->pos : NULL, room, f, ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* Formats data as type_id into o->buf: 1 when done, 0 when no BTF / it failed. */
static int format(struct fmt *o, uint32_t type_id, const void *data, size_t size)
{
	if (!o->dump || !type_id)
		return 0;
	o->pos = 0;
	o->buf[0] = 0;
	LIBBPF_OPTS(btf_dump_type_data_opts, opts, .compact = true, .emit_zeroes = true);
	if (btf_dump__dump_type_data(o->dump, type_id, data, size, &opts) < 0 || o->pos >= o->len)
		return 0;
	o->buf[o->pos] = 0;
	return 1;
}

/* The "(type name)" that starts a formatted value, or "". */
static void type_name(struct fmt *o, uint32_t type_id, size_t size, char *name, size_t len)
{
	static const uint8_t zeros[64];
	name[0] = 0;
	if (size > sizeof(zeros) || !format(o, type_id, zeros, size) || o->buf[0] != '(')
		return;
	const char *close = strchr(o->buf, ')');
	if (close)
		snprintf(name, len, "%.*s", (int)(close - o->buf - 1), o->buf + 1);
}

/* ---- The maps ----------------------------------------------------------- */

static bool keyless(uint32_t type)
{
	return type == VISOR_MAP_TYPE_RINGBUF || type == VISOR_MAP_TYPE_QUEUE ||
	       type == VISOR_MAP_TYPE_STACK;
}

/* One map: a histogram, or the header line, the elements and "Found N". */
static int dump_map(struct visor_map *m, const struct visor_obj_map_def *def, struct fmt *o)
{
	uint32_t type = visor_map_type(m), ks = visor_map_key_size(m), vs = visor_map_value_size(m);
	uint32_t ncpu = visor_map_nr_cpus(m);
	size_t uvs = visor_map_user_value_size(m), stride = ncpu > 1 ? (vs + 7) / 8 * 8 : vs;
	const char *tn = visor_map_type_name(type), *name = def->name;
	if (type == VISOR_MAP_TYPE_PERF_EVENT_ARRAY)
		return 0; /* the kernel backend prints its records as they come */
	uint8_t *prev = malloc(ks ? ks : 1), *key = malloc(ks ? ks : 1), *val = malloc(uvs ? uvs : 1);
	if (!prev || !key || !val) {
		free(prev), free(key), free(val);
		cli_error("map %s: out of memory", name);
		return -1;
	}
	char kt[128], vt[128];
	type_name(o, def->btf_key_type_id, ks, kt, sizeof(kt));
	type_name(o, def->btf_value_type_id, vs, vt, sizeof(vt));
	int status = 0, rc;
	if (cli_hist_candidate(tn, ks, vs, name, kt, vt)) {
		uint64_t slots[CLI_HIST_SLOTS] = {0};
		int hist = 1;
		for (rc = visor_map_get_next_key(m, NULL, key); rc == 0;
		     rc = visor_map_get_next_key(m, prev, key)) {
			memcpy(prev, key, ks);
			if (visor_map_lookup(m, key, val))
				continue;
			if (cli_hist_add(slots, key, ks, val, ncpu, stride)) {
				hist = 0;
				break;
			}
		}
		if (hist) {
			printf("\nmap %s: %s, log2 histogram\n", name, tn);
			cli_print_log2_hist(stdout, slots, "value");
			goto out;
		}
	}
	printf("\nmap %s: %s, key %u, value %u, max_entries %u", name, tn ? tn : "?", ks, vs,
	       visor_map_max_entries(m));
	if (def->map_flags)
		printf(", flags 0x%x", def->map_flags);
	printf("%s\n", def->btf_value_type_id && o->dump ? ", btf" : "");
	if (keyless(type)) {
		printf("  (a %s has no keys to list)\n", tn ? tn : "map");
		goto out;
	}
	int percpu = ncpu > 1 || uvs != vs;
	size_t found = 0;
	for (rc = visor_map_get_next_key(m, NULL, key); rc == 0;
	     rc = visor_map_get_next_key(m, prev, key)) {
		memcpy(prev, key, ks);
		int lr = visor_map_lookup(m, key, val);
		if (lr == -ENOENT)
			continue;
		if (lr) {
			cli_error("map %s: lookup: %s", name, visor_map_errmsg(m));
			status = -1;
			break;
		}
		found++;
		char ktext[512];
		int have_key = format(o, def->btf_key_type_id, key, ks);
		if (have_key)
			snprintf(ktext, sizeof(ktext), "%s", o->buf);
		if (have_key && !percpu && format(o, def->btf_value_type_id, val, vs)) {
			printf("  %s -> %s\n", ktext, o->buf);
			continue;
		}
		if (have_key && percpu && format(o, def->btf_value_type_id, val, vs)) {
			printf("  %s ->\n", ktext);
			for (uint32_t c = 0; c < ncpu; c++) {
				format(o, def->btf_value_type_id, val + c * stride, vs);
				printf("    CPU %02u: %s\n", c, o->buf);
			}
			continue;
		}
		fputs("key: ", stdout);
		cli_hex_bytes(stdout, key, ks);
		if (percpu) {
			fputc('\n', stdout);
			for (uint32_t c = 0; c < ncpu; c++) {
				printf("  value (CPU %02u): ", c);
				cli_hex_bytes(stdout, val + c * stride, vs);
				fputc('\n', stdout);
			}
		} else {
			fputs("  value: ", stdout);
			cli_hex_bytes(stdout, val, vs);
			fputc('\n', stdout);
		}
	}
	if (rc && rc != -ENOENT && !status) {
		cli_error("map %s: get_next_key: %s", name, visor_map_errmsg(m));
		status = -1;
	}
	printf("Found %zu element%s\n", found, found == 1 ? "" : "s");
out:
	free(prev), free(key), free(val);
	return status;
}

/* ---- The run -------------------------------------------------------------- */

struct vm_run {
	struct visor_vm *vm;
	struct cli_retval_counts counts;
	uint64_t seen;
	char first_err[512];
};

static int run_packet(void *ctx, const uint8_t *data, uint32_t len)
{
	struct vm_run *r = ctx;
	char err[400] = "";
	r->seen++;
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = data, .data_size_in = len,
		   .repeat = 1, .errbuf = err, .errbuf_len = sizeof(err));
	if (visor_prog_test_run(r->vm, &o)) {
		if (!r->counts.failed++)
			snprintf(r->first_err, sizeof(r->first_err), "packet %llu: %s",
				 (unsigned long long)(r->counts.runts + r->seen),
				 err[0] ? err : visor_vm_errmsg(r->vm));
		return 0;
	}
	cli_retval_count(&r->counts, o.retval);
	return 0;
}

int cli_run_vm(const char *path, const char *prog_name, const char *pcap)
{
	char err[512];
	int status = 1;
	struct visor_obj_vm *ovm = NULL;
	struct fmt o = {.len = 4096};
	struct visor_obj_prog *prog;
	struct visor_obj *obj = cli_open_obj(path);
	if (!obj)
		return 1;
	o.buf = malloc(o.len);
	if (!o.buf) {
		cli_error("run: out of memory");
		goto out;
	}
	if (cli_pick_prog(path, obj, prog_name, &prog))
		goto out;
	uint32_t type = (uint32_t)visor_obj_prog_type(prog);
	if (type != VISOR_VM_PROG_XDP && type != VISOR_VM_PROG_SCHED_CLS &&
	    type != VISOR_VM_PROG_SOCKET_FILTER) {
		cli_error("%s: %s is not a packet program (XDP, tc, socket filter): --backend vm runs those on --pcap",
			  path, visor_obj_prog_name(prog));
		goto out;
	}
	ovm = visor_obj_vm_load(obj, NULL, err, sizeof(err));
	if (!ovm) {
		cli_error("%s: %s", path, err);
		goto out;
	}
	const char *why;
	if (visor_obj_vm_prog_status(ovm, visor_obj_prog_name(prog), &why)) {
		cli_error("%s: %s", path, why);
		goto out;
	}
	struct vm_run r = {.vm = visor_obj_vm_prog(ovm, visor_obj_prog_name(prog)),
			   .counts = {.prog_type = type}};
	long long packets = cli_pcap_each(pcap, "run", run_packet, &r, &r.counts.runts);
	if (packets < 0)
		goto out;
	r.counts.packets = (uint64_t)packets;
	cli_retval_print(stdout, pcap, &r.counts);
	if (r.counts.failed) {
		cli_error("%s: %s%s", pcap, r.first_err, r.counts.failed > 1 ? " (and more)" : "");
		goto out;
	}
	if (visor_obj_btf(obj))
		o.dump = btf_dump__new(visor_obj_btf(obj), out_printf, &o, NULL);
	size_t nmaps;
	struct visor_map *const *maps = visor_obj_vm_maps(ovm, &nmaps);
	status = 0;
	for (size_t i = 0; i < nmaps; i++)
		if (dump_map(maps[i], visor_obj_map_def_at(obj, i), &o))
			status = 1;
out:
	fflush(stdout);
	btf_dump__free(o.dump);
	free(o.buf);
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
	return status;
}
