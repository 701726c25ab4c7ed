/* bench_jit_compile: how long visor_vm_jit_compile takes.
 *
 * For each program: the best over many compiles of the code generation
 * alone (both variants of the code, with bounds checks; the JIT's own
 * clock) and of the whole call (this thread's CPU time), which adds
 * mapping the code, copying it, mprotect and unmapping the previous code.
 * Best, not median: on a shared machine other processes only add time.
 * Reported per program and per 100 instructions. Programs: the examples, straight-line
 * ALU code, checked loads and stores, and random programs from the JIT's
 * differential test generator (a mix of everything, memory-heavy).
 *
 * Usage: bench_jit_compile [--quick] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <visor/visor.h>

#include "jitgen.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct sample {
	uint64_t codegen, total;
	size_t bytes;
};

/* Best codegen and total of reps compiles of insns. */
static int measure(const struct visor_insn *insns, size_t n, unsigned flags, int reps,
		   struct sample *s)
{
	struct visor_vm *vm = visor_vm_create();
	int err = -1;

	s->codegen = s->total = UINT64_MAX;
	if (!vm)
		goto out;
	visor_vm_set_unsafe(vm, true); /* compile time only: the checked JIT too */
	if (visor_vm_load(vm, insns, n))
		goto out;
	for (int i = 0; i < reps; i++) {
		VISOR_OPTS(visor_vm_jit_info, info);
		uint64_t t0 = cpu_ns();
		if (visor_vm_jit_compile(vm, flags))
			goto out;
		uint64_t t = cpu_ns() - t0;
		if (visor_vm_jit_info(vm, &info))
			goto out;
		if (info.codegen_ns < s->codegen)
			s->codegen = info.codegen_ns;
		if (t < s->total)
			s->total = t;
		s->bytes = info.code_len;
	}
	err = 0;
out:
	visor_vm_destroy(vm);
	return err;
}

static void row(const char *name, size_t insns, const struct sample *s)
{
	printf("%-22s %7zu %9zu %11.1f %13.2f %12.1f %14.2f\n", name, insns, s->bytes,
	       s->codegen / 1e3, s->codegen / 1e3 / (double)insns * 100, s->total / 1e3,
	       s->total / 1e3 / (double)insns * 100);
}

static void text_row(const char *name, const char *text, int reps)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	struct sample s;

	if (visor_asm(text, &insns, &n, err, sizeof(err))) {
		printf("%-22s assembler: %s\n", name, err);
		return;
	}
	if (measure(insns, n, 0, reps, &s) == 0)
		row(name, n, &s);
	free(insns);
}

static char *file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	int reps = quick ? 21 : 201;
	char *big = malloc(1 << 20), *e;

	if (!visor_vm_jit_supported()) {
		printf("bench_jit_compile: the JIT supports x86-64 only\n");
		return 0;
	}
	printf("best of %d compiles; codegen: generating both variants; compile: the whole\n"
	       "visor_vm_jit_compile (mmap, copy, mprotect, unmapping the previous code)\n\n",
	       reps);
	printf("%-22s %7s %9s %11s %13s %12s %14s\n", "program", "insns", "bytes", "codegen us",
	       "us/100 insns", "compile us", "us/100 insns");

	const char *examples[] = {VISOR_SOURCE_DIR "/examples/factorial.s",
				  VISOR_SOURCE_DIR "/examples/ipv4_checksum.s"};
	for (size_t i = 0; i < 2; i++) {
		char *t = file_text(examples[i]);
		if (t)
			text_row(strrchr(examples[i], '/') + 1, t, reps);
		free(t);
	}
	e = big;
	for (int i = 0; i < 1000; i++)
		e += sprintf(e, "add r%d, %d\nxor r%d, r%d\n", i % 9, i, (i + 3) % 9, i % 9);
	strcpy(e, "exit\n");
	text_row("alu, 2000 insns", big, reps);
	e = big;
	for (int i = 0; i < 500; i++)
		e += sprintf(e, "ldxdw r%d, [r1+%d]\nstxw [r2+%d], r%d\n", 3 + i % 6, (i % 16) * 8,
			     (i % 60) * 4, 3 + i % 6);
	strcpy(e, "exit\n");
	text_row("checked mem, 1000", big, reps);

	/* The differential test's random programs, all compiled in turn. */
	uint64_t gsum = 0, tsum = 0, isum = 0, bsum = 0;
	int progs = quick ? 200 : 1000;
	for (int s = 1; s <= progs; s++) {
		struct jitgen_prog p;
		struct sample smp;
		if (jitgen_generate((uint64_t)s, NULL, 0, &p))
			continue;
		if (measure(p.insns, p.count, 0, quick ? 3 : 11, &smp) == 0) {
			gsum += smp.codegen;
			tsum += smp.total;
			isum += p.count;
			bsum += smp.bytes;
		}
		jitgen_free(&p);
	}
	struct sample avg = {gsum / (uint64_t)progs, tsum / (uint64_t)progs,
			     (size_t)(bsum / (uint64_t)progs)};
	char name[64];
	snprintf(name, sizeof(name), "random (mean of %d)", progs);
	row(name, (size_t)(isum / (uint64_t)progs), &avg);
	free(big);
	return 0;
}
