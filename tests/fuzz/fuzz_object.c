/* libFuzzer target for the ELF object loader: any bytes go to
 * visor_obj_open_mem; a model that comes back is walked end to end (every
 * program's stream, relocation, subprogram, line and the refusal query), so
 * a dangling pointer or out-of-range index in it shows up under ASan, and
 * then loaded whole into the visor engine (maps created, relocations
 * applied, programs validated, the JIT compiled), which must refuse or load
 * with one line, never crash. Seeds: the kept corpus, and scripts/fuzz.sh
 * adds every object compiled from tests/progs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <visor/object.h>
#include <visor/vm.h>

static volatile uint64_t sink;

static void walk(const struct visor_obj *o)
{
	uint64_t sum = strlen(visor_obj_license(o));
	size_t nmaps = visor_obj_map_count(o);
	for (size_t i = 0; i < nmaps; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i);
		sum += strlen(d->name) + d->value_size;
		if (d->init_data && d->value_size)
			sum += ((const uint8_t *)d->init_data)[d->value_size - 1];
		for (size_t s = 0; s < d->slot_count; s++)
			if (d->slots[s].slot >= d->max_entries)
				abort();
	}
	for (size_t i = 0; i < visor_obj_prog_count(o); i++) {
		const struct visor_obj_prog *p = visor_obj_prog_at(o, i);
		size_t n = visor_obj_prog_insn_count(p), nr, ns, nc;
		const struct visor_insn *in = visor_obj_prog_insns(p);
		for (size_t k = 0; k < n; k++)
			sum += in[k].code;
		const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &nr);
		for (size_t k = 0; k < nr; k++) {
			if (r[k].insn_idx >= n || r[k].map_idx >= (int)nmaps)
				abort();
			sum += r[k].sym ? strlen(r[k].sym) : 0;
		}
		const struct visor_obj_subprog *s = visor_obj_prog_subprogs(p, &ns);
		size_t end = 0;
		for (size_t k = 0; k < ns; k++) {
			if (s[k].start != end)
				abort();
			end += s[k].insn_count;
			sum += strlen(s[k].name);
		}
		if (end != n)
			abort();
		const struct visor_obj_core_relo *c = visor_obj_prog_core_relos(p, &nc);
		for (size_t k = 0; k < nc; k++)
			sum += c[k].access ? strlen(c[k].access) : 0;
		for (size_t k = 0; k < n; k++) {
			const char *f, *t;
			unsigned line;
			if (visor_obj_prog_line(p, k, &f, &line, &t) == 0)
				sum += strlen(f) + strlen(t) + line;
		}
		char msg[256];
		visor_obj_prog_unsupported(p, msg, sizeof(msg));
		sum += strlen(msg);
	}
	sink = sum;
}

/* Maps as large as the kernel allows would only measure the allocator (and
 * trip libFuzzer's memory limit): objects asking for more than 16 MiB of
 * map memory are parsed but not loaded. */
static bool small_maps(const struct visor_obj *o)
{
	uint64_t total = 0;
	for (size_t i = 0; i < visor_obj_map_count(o); i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(o, i);
		total += ((uint64_t)d->key_size + d->value_size + 64) * d->max_entries;
		if (d->inner)
			total += ((uint64_t)d->inner->key_size + d->inner->value_size + 64) *
				 d->inner->max_entries;
	}
	return total <= (16u << 20);
}

static void load_whole(const struct visor_obj *o)
{
	char err[512] = "";
	struct visor_obj_vm_opts opts = {.sz = sizeof(opts), .jit = visor_vm_jit_supported()};
	struct visor_obj_vm *ovm = visor_obj_vm_load(o, &opts, err, sizeof(err));
	if (!ovm && (!err[0] || strchr(err, '\n'))) {
		fprintf(stderr, "load refused without a one-line message: '%s'\n", err);
		abort();
	}
	visor_obj_vm_destroy(ovm);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	libbpf_set_print(quiet); /* libbpf's BTF parser would log every bad input */
	struct visor_obj *o = visor_obj_open_mem(data, size, NULL, err, sizeof(err));
	if (!o) {
		if (!err[0] || strchr(err, '\n')) {
			fprintf(stderr, "refusal without a one-line message: '%s'\n", err);
			abort();
		}
		return 0;
	}
	walk(o);
	if (small_maps(o))
		load_whole(o);
	visor_obj_close(o);
	return 0;
}
