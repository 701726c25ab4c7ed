/* Differential runs of a compiled object (tests/progs/NAME.bpf.o): the same
 * program, inputs and map contents on visor's interpreter, visor's JIT and
 * (as root) the kernel through libbpf + BPF_PROG_TEST_RUN. Return values,
 * output data, ctx_out, ring buffer samples and every comparable map are
 * compared with CHECK; the kernel part prints one SKIP line when the kernel
 * cannot run it. Used by every test that compares an object with the kernel,
 * so that the harness exists once. */
#ifndef VISOR_TEST_OBJDIFF_H
#define VISOR_TEST_OBJDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OBJDIFF_MAX_DATA 4096
#define OBJDIFF_MAX_CTX 256

/* One BPF_PROG_TEST_RUN call. */
struct objdiff_case {
	const char *name;
	const void *data; /* data_in (a frame for XDP / tc / socket filter) */
	uint32_t data_len;
	const void *ctx;  /* ctx_in, optional */
	uint32_t ctx_len;
	uint32_t repeat;  /* 0 means 1 */
};

/* What one engine produced for one case. */
struct objdiff_result {
	int err; /* 0, or the negative errno of the test run */
	uint32_t retval;
	uint32_t data_len;
	uint8_t data[OBJDIFF_MAX_DATA];
	uint32_t ctx_len;
	uint8_t ctx[OBJDIFF_MAX_CTX];
};

/* An update applied, before the first case, to a map of both the visor
 * and the kernel object (e.g. LPM prefixes, a config array). */
struct objdiff_update {
	const char *map;
	const void *key;
	const void *value; /* per-CPU maps: one value, written to every CPU */
};

struct visor_obj;
struct visor_map;

struct objdiff {
	const char *path;  /* the compiled object */
	const char *prog;  /* the program (function) name */
	const struct objdiff_update *updates;
	size_t nupdates;
	/* NULL-terminated names of maps whose contents are not compared
	 * (timestamps, random numbers). Prog arrays and maps of maps are
	 * never compared by content. */
	const char *const *ignore_maps;
	bool ignore_data_out; /* output data not compared */
	/* Optional: called with the interpreter's maps (in the order of the
	 * object's map definitions) after its last case, to check expected
	 * contents; objdiff_map() finds one by name. */
	void (*check_maps)(void *arg, const struct visor_obj *obj, struct visor_map *const *maps);
	void *check_arg;
};

/* The map of obj called name among maps (as given to check_maps), or NULL. */
struct visor_map *objdiff_map(const struct visor_obj *obj, struct visor_map *const *maps,
			      const char *name);

/* Runs every case on the interpreter, the JIT and the kernel (root), in
 * order, each on a fresh load of the object, on CPU 0 (the thread is pinned
 * so per-CPU values land in the same slot). CHECKs that all engines agree
 * on err, retval, data_out, ctx_out, the ring buffer samples each case
 * produced (in order) and, after the last case, every map's contents.
 * interp_results (optional, n entries) receive the interpreter's results,
 * for checks of expected values. Returns the number of engines compared
 * (2 without the kernel, 3 with it), or -1 if the object did not load in
 * visor (a failed CHECK). */
int objdiff_check(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
		  struct objdiff_result *interp_results);

#endif
