/* bench_verifier: how long does visor's verifier take next to the kernel's?
 *
 * Programs: every program of the tests/progs/rw_*.bpf.o showcase objects,
 * plus the largest programs (by instruction count) among the other
 * compiled objects in build/tests/progs, those visor's engine can run
 * (no CO-RE, kfuncs) and that are meant to be accepted.
 *
 *   visor   visor_verify on the loader's relocated instructions with the
 *           object's maps: the median wall time of N runs, N chosen so a
 *           program takes about 0.2 s (at least 3 runs).
 *   kernel  libbpf bpf_object__load of the whole object with log_level 4
 *           (BPF_LOG_STATS) on every program; "verification time N usec"
 *           and "processed N insns" are read from each program's log. The
 *           median over several loads. Skipped with one line when bpf()
 *           cannot be used.
 *
 * Prints one row per program and the ratio kernel / visor (above 1: visor
 * is faster). A program refused by either verifier is shown as such; the
 * timings are measurements, never asserted. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/verifier.h>

#include "kernel_run.h"
#include "stats.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs"
#define MAX_PROGS 256
#define MAX_SAMPLES 4096
#define KLOG_SIZE (64u << 10)
#define MAX_OBJ_PROGS 32

/* Objects whose programs are refused on purpose, and single programs. */
static const char *const refused_objects[] = {"snprintf_refused", "spinlock_misuse"};
static const char *const refused_progs[] = {"xdp_stale_pointer"};

static bool is_refused_prog(const char *name)
{
	for (size_t i = 0; i < sizeof(refused_progs) / sizeof(refused_progs[0]); i++)
		if (!strcmp(name, refused_progs[i]))
			return true;
	return false;
}

struct bench_prog {
	char obj[64];
	char name[64];
	size_t insns;
	bool showcase;
	/* visor */
	int visor_rc;
	char visor_why[160];
	uint64_t visor_processed;
	double visor_us; /* median */
	unsigned visor_runs;
	/* kernel */
	bool kernel_done;
	int kernel_rc;
	uint64_t kernel_processed;
	double kernel_us; /* median */
	unsigned kernel_loads;
};

struct options {
	double target_s;      /* visor: time per program */
	unsigned kernel_loads;
	size_t largest;       /* other programs benched, by size */
};

static struct bench_prog progs[MAX_PROGS];
static size_t nprogs;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static bool is_refused_object(const char *name)
{
	for (size_t i = 0; i < sizeof(refused_objects) / sizeof(refused_objects[0]); i++)
		if (!strcmp(name, refused_objects[i]))
			return true;
	return false;
}

static int cmp_size_desc(const void *a, const void *b)
{
	const struct bench_prog *x = a, *y = b;
	if (x->showcase != y->showcase)
		return x->showcase ? -1 : 1;
	return x->insns < y->insns ? 1 : x->insns > y->insns ? -1 : strcmp(x->name, y->name);
}

/* Lists every runnable program of every object, then keeps the showcase
 * ones and the `largest` biggest others. */
static int collect(const struct options *opt)
{
	DIR *d = opendir(PROGS);
	struct dirent *de;
	if (!d) {
		fprintf(stderr, "bench_verifier: %s: %s (build the visor_test_progs target)\n", PROGS,
			strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) && nprogs < MAX_PROGS) {
		size_t l = strlen(de->d_name);
		char obj[64], path[512], err[256];
		if (l < 7 || strcmp(de->d_name + l - 6, ".bpf.o") || l - 6 >= sizeof(obj))
			continue;
		snprintf(obj, sizeof(obj), "%.*s", (int)(l - 6), de->d_name);
		if (is_refused_object(obj))
			continue;
		snprintf(path, sizeof(path), "%s/%s", PROGS, de->d_name);
		struct visor_obj *o = visor_obj_open_file(path, NULL, err, sizeof(err));
		if (!o)
			continue;
		for (size_t i = 0; i < visor_obj_prog_count(o) && nprogs < MAX_PROGS; i++) {
			struct visor_obj_prog *p = visor_obj_prog_at(o, i);
			char why[256];
			if (visor_obj_prog_unsupported(p, why, sizeof(why)) ||
			    is_refused_prog(visor_obj_prog_name(p)))
				continue;
			struct bench_prog *b = &progs[nprogs++];
			memset(b, 0, sizeof(*b));
			snprintf(b->obj, sizeof(b->obj), "%s", obj);
			snprintf(b->name, sizeof(b->name), "%s", visor_obj_prog_name(p));
			b->insns = visor_obj_prog_insn_count(p);
			b->showcase = !strncmp(obj, "rw_", 3);
		}
		visor_obj_close(o);
	}
	closedir(d);
	qsort(progs, nprogs, sizeof(progs[0]), cmp_size_desc);
	size_t keep = 0, others = 0;
	for (size_t i = 0; i < nprogs; i++) {
		if (!progs[i].showcase && others++ >= opt->largest)
			continue;
		progs[keep++] = progs[i];
	}
	nprogs = keep;
	return 0;
}

/* ---- visor -------------------------------------------------------------- */

static void bench_visor_object(const char *objname, const struct options *opt)
{
	char path[512], err[256];
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	static double samples[MAX_SAMPLES];

	snprintf(path, sizeof(path), "%s/%.63s.bpf.o", PROGS, objname);
	struct visor_obj *o = visor_obj_open_file(path, NULL, err, sizeof(err));
	if (!o || visor_obj_maps_create(o, &maps, &nmaps, err, sizeof(err))) {
		for (size_t i = 0; i < nprogs; i++)
			if (!strcmp(progs[i].obj, objname)) {
				progs[i].visor_rc = -EINVAL;
				snprintf(progs[i].visor_why, sizeof(progs[i].visor_why), "%.159s", err);
			}
		visor_obj_close(o);
		return;
	}
	for (size_t i = 0; i < nprogs; i++) {
		struct bench_prog *b = &progs[i];
		if (strcmp(b->obj, objname))
			continue;
		struct visor_obj_prog *p = visor_obj_find_prog(o, b->name);
		const struct visor_insn *insns = visor_obj_prog_insns(p);
		VISOR_OPTS(visor_verify_opts, vo, .prog_type = visor_obj_prog_type(p), .maps = maps,
			   .nmaps = nmaps);
		double t0 = now_us();
		b->visor_rc = visor_verify(insns, b->insns, &vo);
		double first = now_us() - t0;
		b->visor_processed = vo.insns_processed;
		if (b->visor_rc) {
			snprintf(b->visor_why, sizeof(b->visor_why), "%.159s", vo.errmsg);
			continue;
		}
		/* the first run is cold (page faults, caches): calibrate on warm ones */
		for (int w = 0; w < 2 && first < 20000; w++) {
			VISOR_OPTS(visor_verify_opts, wo, .prog_type = visor_obj_prog_type(p),
				   .maps = maps, .nmaps = nmaps);
			t0 = now_us();
			visor_verify(insns, b->insns, &wo);
			double t = now_us() - t0;
			first = t < first ? t : first;
		}
		unsigned n = first > 0 ? (unsigned)(opt->target_s * 1e6 / first) : MAX_SAMPLES;
		n = n < 3 ? 3 : n > MAX_SAMPLES ? MAX_SAMPLES : n;
		for (unsigned r = 0; r < n; r++) {
			VISOR_OPTS(visor_verify_opts, ro, .prog_type = visor_obj_prog_type(p),
				   .maps = maps, .nmaps = nmaps);
			t0 = now_us();
			visor_verify(insns, b->insns, &ro);
			samples[r] = now_us() - t0;
		}
		b->visor_us = stats_median(samples, n);
		b->visor_runs = n;
	}
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(o);
}

/* ---- the kernel --------------------------------------------------------- */

static uint64_t log_number(const char *log, const char *prefix)
{
	const char *p = strstr(log, prefix);
	return p ? strtoull(p + strlen(prefix), NULL, 10) : 0;
}

/* One load of the whole object; fills us[i] / processed[i] for the
 * object's programs in libbpf's order, names[i] their names. */
static int kernel_load_once(const char *path, size_t *count, char names[][64], double *us,
			    uint64_t *processed)
{
	static char logs[MAX_OBJ_PROGS][KLOG_SIZE];
	struct bpf_object *bo = bpf_object__open_file(path, NULL);
	struct bpf_program *bp;
	size_t n = 0;
	if (!bo)
		return -errno;
	bpf_object__for_each_program(bp, bo)
	{
		if (n == MAX_OBJ_PROGS)
			break;
		logs[n][0] = 0;
		bpf_program__set_log_level(bp, 4); /* BPF_LOG_STATS */
		bpf_program__set_log_buf(bp, logs[n], KLOG_SIZE);
		if (is_refused_prog(bpf_program__name(bp)))
			bpf_program__set_autoload(bp, false);
		n++;
	}
	int rc = bpf_object__load(bo);
	n = 0;
	bpf_object__for_each_program(bp, bo)
	{
		if (n == MAX_OBJ_PROGS)
			break;
		snprintf(names[n], 64, "%s", bpf_program__name(bp));
		us[n] = (double)log_number(logs[n], "verification time ");
		processed[n] = log_number(logs[n], "processed ");
		n++;
	}
	*count = n;
	bpf_object__close(bo);
	return rc;
}

static void bench_kernel_object(const char *objname, const struct options *opt)
{
	char path[512], names[MAX_OBJ_PROGS][64];
	static double us[16][MAX_OBJ_PROGS];
	uint64_t processed[MAX_OBJ_PROGS] = {0};
	unsigned loads = opt->kernel_loads > 16 ? 16 : opt->kernel_loads;
	size_t n = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%.63s.bpf.o", PROGS, objname);
	for (unsigned l = 0; l < loads && !rc; l++)
		rc = kernel_load_once(path, &n, names, us[l], processed);
	for (size_t i = 0; i < nprogs; i++) {
		struct bench_prog *b = &progs[i];
		if (strcmp(b->obj, objname))
			continue;
		b->kernel_done = true;
		b->kernel_rc = rc;
		for (size_t k = 0; !rc && k < n; k++) {
			if (strcmp(names[k], b->name))
				continue;
			double v[16];
			for (unsigned l = 0; l < loads; l++)
				v[l] = us[l][k];
			b->kernel_us = stats_median(v, loads);
			b->kernel_processed = processed[k];
			b->kernel_loads = loads;
		}
	}
}

/* ---- table -------------------------------------------------------------- */

static void print_table(bool kernel)
{
	printf("%-20s %-22s %6s | %9s %10s %6s | %9s %10s | %7s\n", "object", "program", "insns",
	       "processed", "visor us", "runs", "processed", "kernel us", "k/visor");
	for (size_t i = 0; i < nprogs; i++) {
		const struct bench_prog *b = &progs[i];
		printf("%-20s %-22s %6zu | ", b->obj, b->name, b->insns);
		if (b->visor_rc)
			printf("%9s %10s %6s | ", "refused", "-", "-");
		else
			printf("%9llu %10.1f %6u | ", (unsigned long long)b->visor_processed,
			       b->visor_us, b->visor_runs);
		if (!kernel || !b->kernel_done)
			printf("%9s %10s | %7s\n", "-", "-", "-");
		else if (b->kernel_rc)
			printf("%9s %10s | %7s\n", "refused", "-", "-");
		else if (b->visor_rc || b->visor_us <= 0)
			printf("%9llu %10.0f | %7s\n", (unsigned long long)b->kernel_processed,
			       b->kernel_us, "-");
		else
			printf("%9llu %10.0f | %6.2fx\n", (unsigned long long)b->kernel_processed,
			       b->kernel_us, b->kernel_us / b->visor_us);
	}
	for (size_t i = 0; i < nprogs; i++)
		if (progs[i].visor_rc)
			printf("visor refuses %s/%s (%d): %s\n", progs[i].obj, progs[i].name,
			       progs[i].visor_rc, progs[i].visor_why);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench_verifier [--quick]\n"
		     "Verification time of the largest compiled test programs: visor_verify (median\n"
		     "of runs adding up to about 0.2 s per program) against the kernel's verifier\n"
		     "(libbpf load with log_level 4, \"verification time\", median of 7 loads).\n"
		     "  --quick   0.05 s per program, 3 kernel loads\n");
}

int main(int argc, char **argv)
{
	struct options opt = {.target_s = 0.2, .kernel_loads = 7, .largest = 12};
	char why[256];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt.target_s = 0.05;
			opt.kernel_loads = 3;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	libbpf_set_print(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (collect(&opt))
		return 1;

	/* each object once, in table order */
	for (size_t i = 0; i < nprogs; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(progs[j].obj, progs[i].obj);
		if (!seen)
			bench_visor_object(progs[i].obj, &opt);
	}
	bool kernel = kernel_available(why, sizeof(why));
	for (size_t i = 0; kernel && i < nprogs; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(progs[j].obj, progs[i].obj);
		if (!seen)
			bench_kernel_object(progs[i].obj, &opt);
	}
	print_table(kernel);
	if (!kernel)
		printf("kernel column skipped: %s\n", why);
	return 0;
}
