/* libFuzzer target: soundness of visor's verifier. The first input byte
 * picks what the rest is:
 *   even: the decisions of the verifier-shaped program generator
 *         (tests/lib/vgen.c);
 *   odd:  raw instruction slots, as a program of the type bits 1-3 pick
 *         (untyped with 64 bytes of context, socket filter, kprobe, tc,
 *         XDP), with an array, a hash and a ring buffer map bound.
 * Whatever the verifier accepts runs on a few inputs in the interpreter
 * (memory checks always on) and then in the JIT without memory checks: a
 * run that fails, or engines that disagree, abort with the program. A
 * finding lands in the corpus (scripts/fuzz.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#ifndef VGEN_LINKED
#include "../lib/packets.c" /* fuzz targets link the library only */
#include "../lib/vgen.c"
#else
#include "vgen.h"
#endif

#define FUZZ_MAX_SLOTS 1024
#define FUZZ_INPUTS 3

static void check(const struct vgen_prog *p)
{
	struct vgen_outcome o;
	if (vgen_check(p, 1, FUZZ_INPUTS, true, &o))
		return;
	if (o.accepted && o.violation) {
		fprintf(stderr, "the verifier accepted an unsafe program: %s\n", o.violation_msg);
		vgen_dump(p, stderr);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t types[8] = {0, 1, 2, 3, 6, 6, 3, 0};
	struct vgen_prog p;
	static bool started;
	if (!started) {
		vgen_avoid_from_env();
		started = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if ((size - 1) / sizeof(struct visor_insn) > FUZZ_MAX_SLOTS)
			return 0;
		if (vgen_from_raw(data + 1, size - 1, types[(data[0] >> 1) & 7], &p))
			return 0;
	} else if (vgen_generate(0, data + 1, size - 1, &p)) {
		return 0;
	}
	check(&p);
	vgen_free(&p);
	return 0;
}
