/* Differential test: random programs (tests/lib/jitgen.c) run in the
 * interpreter and in the JIT must agree on r0, the input memory after the
 * run, the error and, with a budget, the instruction count. Each program is
 * compiled with the flags its seed picks (hardening, the portable shift
 * sequence, one pass) and, when it cannot fault, also without bounds checks.
 *
 * Usage: test_jit_diff [-n COUNT] [-s FIRST_SEED] [--seed SEED] [-v]
 * Without options: the regression seeds, then 20000 seeds (scaled by
 * VISOR_TEST_SCALE). A mismatch prints its seed and the program; keep the
 * seed in regress_seeds[] once the bug is fixed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "jitgen.h"
#include "testutil.h"

/* Seeds that once showed a difference (see git log for the fix). */
static const uint64_t regress_seeds[] = {
	0,
};

static int mismatches, skipped;
/* What the programs did, to see that the generator reaches every outcome. */
static struct {
	int rc;
	const char *name;
	uint64_t n;
} outcomes[] = {
	{0, "ok", 0},          {-EFAULT, "fault", 0},  {-ENOENT, "no helper", 0},
	{-E2BIG, "budget", 0}, {-EOVERFLOW, "depth", 0}, {-EPERM, "helper failed", 0},
	{-EINVAL, "fell off", 0}, {1, "other", 0},
};
static uint64_t total_executed;

static void check_seed(uint64_t seed, bool verbose)
{
	struct jitgen_prog p;
	char why[1024];

	test_checks++;
	if (jitgen_generate(seed, NULL, 0, &p)) {
		test_failures++;
		fprintf(stderr, "seed %" PRIu64 ": out of memory\n", seed);
		return;
	}
	if (verbose)
		jitgen_dump(&p, stdout);
	int outcome = 0;
	uint64_t executed = 0;
	int rc = jitgen_compare(&p, &outcome, &executed, why, sizeof(why));
	size_t k = 0;
	while (outcomes[k].rc != 1 && outcomes[k].rc != outcome)
		k++;
	outcomes[k].n++;
	total_executed += executed;
	if (rc < 0) {
		/* The generator only makes loadable programs: a refusal is a bug too. */
		test_failures++;
		fprintf(stderr, "seed %" PRIu64 ": cannot run: %s\n", seed, why);
	} else if (rc) {
		test_failures++;
		if (++mismatches <= 3) {
			fprintf(stderr, "MISMATCH seed %" PRIu64 ": %s\n", seed, why);
			jitgen_dump(&p, stderr);
		} else {
			fprintf(stderr, "MISMATCH seed %" PRIu64 ": %s\n", seed, why);
		}
	} else if (verbose) {
		printf("seed %" PRIu64 ": same\n", seed);
	}
	jitgen_free(&p);
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = (uint64_t)(20000 * test_scale());
	bool verbose = false, one = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			count = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			first = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			first = strtoull(argv[++i], NULL, 0);
			count = 1;
			one = true;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else {
			fprintf(stderr, "usage: %s [-n COUNT] [-s FIRST_SEED] [--seed SEED] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (!visor_vm_jit_supported())
		return test_skip("test_jit_diff", "the JIT supports x86-64 only");
	if (!one)
		for (size_t i = 0; i < sizeof(regress_seeds) / sizeof(regress_seeds[0]); i++)
			check_seed(regress_seeds[i], verbose);
	for (uint64_t s = first; s < first + count; s++)
		check_seed(s, verbose || one);
	printf("test_jit_diff: seeds %" PRIu64 "..%" PRIu64 ": %" PRIu64
	       " programs compared, %d mismatches%s\n",
	       first, first + count - 1, count, mismatches, skipped ? " (some skipped)" : "");
	printf("test_jit_diff: outcomes:");
	for (size_t k = 0; k < sizeof(outcomes) / sizeof(outcomes[0]); k++)
		printf(" %s %" PRIu64 "%s", outcomes[k].name, outcomes[k].n,
		       k + 1 < sizeof(outcomes) / sizeof(outcomes[0]) ? "," : "\n");
	printf("test_jit_diff: %" PRIu64 " instructions executed in budgeted runs\n", total_executed);
	printf("test_jit_diff: %" PRIu64 " programs verified and compared without inline checks too\n",
	       jitgen_verified_runs());
	return test_summary("test_jit_diff");
}
