/* Soundness of the verifier, by random programs: every program
 * tests/lib/vgen.c generates goes through visor_verify_vm, and every one it
 * accepts runs on several inputs in the interpreter (memory checks always
 * on; ASan in the sanitizer build) and then in the JIT compiled without
 * memory checks. A run that stops with an error, or a JIT result that
 * differs from the interpreter's, means the verifier accepted an unsafe
 * program: the seed, a minimised program and the error are printed.
 *
 * VISOR_SOUNDNESS_SEED=<n> runs one seed and prints its program and the
 * verifier's log; VISOR_SOUNDNESS_FIRST=<n> starts the seeds at n;
 * VISOR_SOUNDNESS_AVOID=atomic leaves out a mistake whose bug is known. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <visor/verifier.h>
#include <visor/visor.h>

#include "testutil.h"
#include "vgen.h"

/* The libFuzzer target, so that its findings kept in
 * tests/fuzz/corpus/fuzz_verifier/ replay here in every build. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define VGEN_LINKED
#include "fuzz/fuzz_verifier.c"

static void replay(const uint8_t *data, size_t len)
{
	LLVMFuzzerTestOneInput(data, len);
}

#define INPUTS_PER_PROG 6
#define MAX_REPORTED 5
#define MAX_REASONS 512

struct reason {
	char text[80];
	unsigned count;
	uint64_t example_seed;
};

static struct reason reasons[MAX_REASONS];
static unsigned nreasons;

static void count_reason(const char *prefix, const char *msg, uint64_t seed)
{
	char cat[72], text[80];
	vgen_reason_category(msg, cat, sizeof(cat));
	snprintf(text, sizeof(text), "%s%s", prefix, cat);
	for (unsigned i = 0; i < nreasons; i++)
		if (!strcmp(reasons[i].text, text)) {
			reasons[i].count++;
			return;
		}
	if (nreasons < MAX_REASONS) {
		snprintf(reasons[nreasons].text, sizeof(reasons[nreasons].text), "%s", text);
		reasons[nreasons].count = 1;
		reasons[nreasons++].example_seed = seed;
	}
}

static int by_count(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* A crash in the JIT (unchecked code of an accepted program) must still
 * name the program. */
static const struct vgen_prog *current;
static uint64_t current_seed;

static void on_crash(int sig)
{
	fprintf(stderr, "\nsignal %d while running seed %llu: the verifier accepted an unsafe program\n",
		sig, (unsigned long long)current_seed);
	if (current)
		vgen_dump(current, stderr);
	_exit(1);
}

/* What kind of violation: "accepted program failed in the interpreter" +
 * "misaligned N-byte atomic access at N", or "verified JIT differs from
 * the interpreter (r0)": the minimised program must keep the kind. */
static void violation_kind(const char *msg, char *out, size_t len)
{
	const char *on = strstr(msg, " on input");
	const char *insn = strstr(msg, "insn ");
	char cat[72] = "";
	if (insn)
		vgen_reason_category(insn, cat, sizeof(cat));
	snprintf(out, len, "%.*s %s", on ? (int)(on - msg) : 60, msg, cat);
}

static bool same_violation(const struct vgen_prog *p, uint64_t seed, const char *kind)
{
	struct vgen_outcome o;
	char k[200];
	if (vgen_check(p, seed, INPUTS_PER_PROG, true, &o) || !o.accepted || !o.violation)
		return false;
	violation_kind(o.violation_msg, k, sizeof(k));
	return !strcmp(k, kind);
}

/* Replaces instructions by no-ops (ja +0) while the program stays accepted
 * and unsafe: what is left is the part that matters. */
static void minimise(struct vgen_prog *p, uint64_t seed, const char *msg)
{
	const struct visor_insn nop = {.code = VISOR_CLS_JMP | VISOR_JMP_JA};
	char kind[200];
	violation_kind(msg, kind, sizeof(kind));
	bool progress = true;
	for (int round = 0; round < 3 && progress; round++) {
		progress = false;
		for (size_t i = 0; i < p->count; i++) {
			struct visor_insn save[2] = {p->insns[i], i + 1 < p->count ? p->insns[i + 1] : nop};
			size_t slots = visor_insn_slots(&p->insns[i]);
			if (p->insns[i].code == VISOR_OPCODE_EXIT || !memcmp(&p->insns[i], &nop, sizeof(nop)))
				continue;
			for (size_t k = 0; k < slots && i + k < p->count; k++)
				p->insns[i + k] = nop;
			if (same_violation(p, seed, kind)) {
				progress = true;
			} else {
				for (size_t k = 0; k < slots && i + k < p->count; k++)
					p->insns[i + k] = save[k];
			}
			i += slots - 1;
		}
	}
}

static void print_log(const struct vgen_prog *p)
{
	/* the verifier's own view of the program, for the report */
	struct visor_map *maps[VGEN_MAX_MAPS] = {0};
	for (size_t m = 0; m < p->nmaps; m++) {
		VISOR_OPTS(visor_map_create_opts, mo, .type = p->maps[m].type,
			   .key_size = p->maps[m].key_size, .value_size = p->maps[m].value_size,
			   .max_entries = p->maps[m].max_entries,
			   .spin_lock = p->maps[m].spin_lock_off >= 0,
			   .spin_lock_off = (uint32_t)(p->maps[m].spin_lock_off >= 0 ? p->maps[m].spin_lock_off : 0));
		if (visor_map_create(&mo, &maps[m]))
			maps[m] = NULL;
	}
	size_t log_size = 1 << 20;
	char *log = calloc(1, log_size);
	VISOR_OPTS(visor_verify_opts, vo, .prog_type = p->prog_type, .ctx_size = p->ctx_size,
		   .maps = maps, .nmaps = p->nmaps, .log_level = 2, .log_buf = log,
		   .log_size = log ? log_size : 0);
	int rc = visor_verify(p->insns, p->count, &vo);
	printf("visor_verify: %d %s (insn %lld, %llu processed)\n", rc, vo.errmsg,
	       (long long)vo.err_insn, (unsigned long long)vo.insns_processed);
	if (log)
		fputs(log, stdout);
	free(log);
	for (size_t m = 0; m < p->nmaps; m++)
		if (maps[m])
			visor_map_destroy(maps[m]);
}

static int one_seed(uint64_t seed)
{
	struct vgen_prog p;
	struct vgen_outcome o;
	if (vgen_generate(seed, NULL, 0, &p))
		return 1;
	vgen_dump(&p, stdout);
	current = &p;
	current_seed = seed;
	int rc = vgen_check(&p, seed, INPUTS_PER_PROG, true, &o);
	printf("check %d; load %d %s; verify %d \"%s\" at %lld; runs %u jit %u unrunnable %u%s%s\n", rc,
	       o.load_rc, o.load_msg, o.verify_rc, o.verify_msg, (long long)o.err_insn, o.runs,
	       o.jit_runs, o.unrunnable, o.violation ? "; VIOLATION: " : "", o.violation_msg);
	if (!o.load_rc)
		print_log(&p);
	vgen_free(&p);
	return o.violation;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* a hang or crash keeps what was said */
	vgen_avoid_from_env();
	const char *one = getenv("VISOR_SOUNDNESS_SEED");
	if (one)
		return one_seed(strtoull(one, NULL, 0));
	const char *first_env = getenv("VISOR_SOUNDNESS_FIRST");
	uint64_t first = first_env ? strtoull(first_env, NULL, 0) : 1;

	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGILL, on_crash);

	unsigned nseeds = (unsigned)(30000 * test_scale()); /* ~4 s (release), ~40 s under ASan at scale 0.25 */
	if (nseeds < 20)
		nseeds = 20;
	unsigned generated = 0, load_refused = 0, accepted = 0, rejected = 0, violations = 0;
	unsigned long runs = 0, jit_runs = 0, unrunnable = 0, raw_insns = 0;
	unsigned per_type[8][2] = {{0}};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (uint64_t seed = first; seed < first + nseeds; seed++) {
		struct vgen_prog p;
		struct vgen_outcome o;
		int rc = vgen_generate(seed, NULL, 0, &p);
		CHECK(rc == 0, "seed %llu: generate: %d", (unsigned long long)seed, rc);
		if (rc)
			continue;
		generated++;
		/* every slot is well formed: the generator's programs disassemble
		 * without a single .raw line */
		for (size_t i = 0; i < p.count; i += visor_insn_slots(&p.insns[i])) {
			char why[128];
			int bad = visor_insn_check(p.insns, p.count, i, why, sizeof(why));
			CHECK(bad == 0, "seed %llu insn %zu: %s", (unsigned long long)seed, i, why);
			if (bad)
				break;
		}
		raw_insns += p.count;
		current = &p;
		current_seed = seed;
		rc = vgen_check(&p, seed, INPUTS_PER_PROG, true, &o);
		CHECK(rc == 0, "seed %llu: check could not run: %d %s", (unsigned long long)seed, rc,
		      o.load_msg);
		uint32_t t = p.prog_type < 8 ? p.prog_type : 7;
		if (o.verify_ns > 500000000ull) /* the verifier's cost is worth a line */
			printf("slow: seed %llu: %.1f s to verify (%llu insns processed): %d %s\n",
			       (unsigned long long)seed, (double)o.verify_ns / 1e9,
			       (unsigned long long)o.insns_processed, o.verify_rc, o.verify_msg);
		if (o.load_rc) {
			load_refused++;
			count_reason("(load) ", o.load_msg, seed);
		} else if (!o.accepted) {
			rejected++;
			per_type[t][1]++;
			count_reason("", o.verify_msg, seed);
		} else {
			accepted++;
			per_type[t][0]++;
		}
		runs += o.runs;
		jit_runs += o.jit_runs;
		unrunnable += o.unrunnable;
		if (o.violation) {
			violations++;
			CHECK(!o.violation, "seed %llu: %s", (unsigned long long)seed, o.violation_msg);
			if (violations <= MAX_REPORTED) {
				printf("=== VIOLATION seed %llu: %s\n", (unsigned long long)seed,
				       o.violation_msg);
				minimise(&p, seed, o.violation_msg);
				struct vgen_outcome m;
				vgen_check(&p, seed, INPUTS_PER_PROG, true, &m);
				printf("minimised (no-ops are ja +0): %s\n", m.violation_msg);
				vgen_dump(&p, stdout);
			}
		}
		current = NULL;
		vgen_free(&p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("soundness: seeds %llu..%llu: %u generated (%lu insns), %u refused by the VM's load, "
	       "%u accepted (%.0f%% of verified), %u rejected; %lu interpreter runs, %lu JIT runs, "
	       "%lu unrunnable; %u violations; %.1f s\n",
	       (unsigned long long)first, (unsigned long long)(first + nseeds - 1), generated,
	       raw_insns, load_refused, accepted,
	       accepted + rejected ? 100.0 * accepted / (accepted + rejected) : 0.0, rejected, runs,
	       jit_runs, unrunnable, violations, secs);
	static const char *names[8] = {"untyped", "socket_filter", "kprobe", "sched_cls", "?", "?",
				       "xdp", "?"};
	for (int t = 0; t < 8; t++)
		if (per_type[t][0] + per_type[t][1])
			printf("  %-14s accepted %u, rejected %u\n", names[t], per_type[t][0],
			       per_type[t][1]);
	qsort(reasons, nreasons, sizeof(reasons[0]), by_count);
	printf("top reasons (of %u categories):\n", nreasons);
	for (unsigned i = 0; i < nreasons && i < 12; i++)
		printf("  %5u  %s  (e.g. seed %llu)\n", reasons[i].count, reasons[i].text,
		       (unsigned long long)reasons[i].example_seed);
	char corpus[1024];
	snprintf(corpus, sizeof(corpus), "%s/tests/fuzz/corpus/fuzz_verifier", VISOR_SOURCE_DIR);
	DIR *d = opendir(corpus);
	bool kept = false; /* once scripts/fuzz.sh has kept something */
	for (struct dirent *e; d && (e = readdir(d));)
		kept |= e->d_name[0] != '.';
	if (d)
		closedir(d);
	if (kept)
		test_replay_corpus("fuzz_verifier", replay);
	/* A generator that the verifier never accepts tests nothing. */
	CHECK(accepted * 10 >= generated, "only %u of %u programs accepted", accepted, generated);
	CHECK(rejected * 10 >= generated, "only %u of %u programs rejected", rejected, generated);
	return test_summary("test_verifier_soundness");
}
