/* The JIT's code pages are never writable and executable at once: with
 * programs compiled (and running), no mapping in /proc/self/maps is both
 * w and x, the code lies in a read+execute mapping, and the mapping goes
 * away with the program (recompile, unload, destroy). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "testutil.h"

struct mapping {
	uintptr_t lo, hi;
	char perms[5];
};

/* Reads /proc/self/maps; returns the number of mappings (at most max). */
static int read_maps(struct mapping *m, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, m[n].perms) == 3) {
			m[n].lo = lo;
			m[n].hi = hi;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* Checks that no mapping is w and x; returns the permissions of the
 * mapping holding addr ("" if none). */
static const char *check_maps(const void *addr, const char *when)
{
	static struct mapping m[4096];
	static char perms[5];
	int n = read_maps(m, 4096);

	CHECK(n > 0, "%s: cannot read /proc/self/maps (%d)", when, n);
	perms[0] = 0;
	for (int i = 0; i < n; i++) {
		CHECK(!(strchr(m[i].perms, 'w') && strchr(m[i].perms, 'x')),
		      "%s: mapping %lx-%lx is %s", when, (unsigned long)m[i].lo,
		      (unsigned long)m[i].hi, m[i].perms);
		if ((uintptr_t)addr >= m[i].lo && (uintptr_t)addr < m[i].hi)
			memcpy(perms, m[i].perms, sizeof(perms));
	}
	return perms;
}

/* A helper that looks at the maps while the JIT code is running. */
static const void *running_code;
static int helper_calls;

static uint64_t inspect(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			struct visor_vm_run *run)
{
	const char *p = check_maps(running_code, "during a run");
	CHECK(!strcmp(p, "r-xp"), "during a run: the code's mapping is '%s', want r-xp", p);
	helper_calls++;
	return a + 1;
}

/* With verify, the program is verified and compiled without inline checks;
 * else it runs in unsafe mode (the test's own helper 1 is no helper the
 * verifier knows). */
static struct visor_vm *compiled(const char *text, unsigned flags, bool verify)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	struct visor_vm *vm = visor_vm_create();

	CHECK(vm != NULL, "visor_vm_create");
	visor_vm_set_unsafe(vm, !verify);
	CHECK(visor_asm(text, &insns, &n, err, sizeof(err)) == 0, "asm: %s", err);
	visor_vm_register_helper(vm, 1, "inspect", inspect);
	CHECK(visor_vm_load(vm, insns, n) == 0, "load: %s", visor_vm_errmsg(vm));
	if (verify) {
		VISOR_OPTS(visor_verify_opts, vo);
		CHECK(visor_verify_vm(vm, &vo) == 0, "verify: %s", vo.errmsg);
	}
	CHECK(visor_vm_jit_compile(vm, flags) == 0, "jit: %s", visor_vm_errmsg(vm));
	free(insns);
	return vm;
}

static const void *code_of(struct visor_vm *vm)
{
	VISOR_OPTS(visor_vm_jit_info, info);
	CHECK(visor_vm_jit_info(vm, &info) == 0, "jit info");
	return info.code;
}

int main(void)
{
	if (!visor_vm_jit_supported())
		return test_skip("test_jit_wx", "the JIT supports x86-64 only");

	const char *prog = "mov r1, 41\ncall 1\nexit\n";
	struct visor_vm *a = compiled(prog, 0, false);
	struct visor_vm *b = compiled(prog, VISOR_JIT_HARDEN, false);
	struct visor_vm *c = compiled("mov r0, 7\nexit\n", VISOR_JIT_HARDEN | VISOR_JIT_VERIFIED,
				      true);
	const void *ca = code_of(a), *cb = code_of(b), *cc = code_of(c);
	const char *p;

	p = check_maps(ca, "three programs compiled");
	CHECK(!strcmp(p, "r-xp"), "program a: code mapping is '%s', want r-xp", p);
	p = check_maps(cb, "three programs compiled");
	CHECK(!strcmp(p, "r-xp"), "program b: code mapping is '%s', want r-xp", p);
	p = check_maps(cc, "three programs compiled");
	CHECK(!strcmp(p, "r-xp"), "program c (no checks): code mapping is '%s', want r-xp", p);
	uint64_t r0c = 0;
	VISOR_OPTS(visor_vm_exec_opts, oc, .engine = VISOR_ENGINE_JIT);
	CHECK(visor_vm_exec(c, &oc, &r0c) == 0 && r0c == 7, "program c: %s", visor_vm_errmsg(c));
	visor_vm_destroy(c);
	p = check_maps(cc, "destroyed");
	CHECK(strcmp(p, "r-xp"), "destroyed: program c's code is still mapped r-x");

	/* While running (the helper reads the maps from inside the code). */
	uint64_t r0 = 0;
	running_code = ca;
	VISOR_OPTS(visor_vm_exec_opts, o, .engine = VISOR_ENGINE_JIT);
	CHECK(visor_vm_exec(a, &o, &r0) == 0, "run: %s", visor_vm_errmsg(a));
	CHECK_EQ_U64(r0, 42, "r0");
	running_code = cb;
	o.budget = 100;
	CHECK(visor_vm_exec(b, &o, &r0) == 0, "run: %s", visor_vm_errmsg(b));
	CHECK(helper_calls == 2, "the helper ran %d times, want 2", helper_calls);

	/* Recompiling replaces the code: the old mapping is gone. */
	CHECK(visor_vm_jit_compile(a, 0) == 0, "recompile: %s", visor_vm_errmsg(a));
	const void *ca2 = code_of(a);
	p = check_maps(ca2, "recompiled");
	CHECK(!strcmp(p, "r-xp"), "recompiled: code mapping is '%s', want r-xp", p);
	if (ca2 != ca) {
		p = check_maps(ca, "recompiled");
		CHECK(strcmp(p, "r-xp"), "recompiled: the old code is still mapped r-x");
	}

	/* Unloading and destroying free the code. */
	visor_vm_unload(a);
	VISOR_OPTS(visor_vm_jit_info, info);
	CHECK(visor_vm_jit_info(a, &info) == -ENOENT, "jit info after unload");
	p = check_maps(ca2, "unloaded");
	CHECK(strcmp(p, "r-xp"), "unloaded: the code is still mapped r-x");
	visor_vm_destroy(b);
	p = check_maps(cb, "destroyed");
	CHECK(strcmp(p, "r-xp"), "destroyed: the code is still mapped r-x");
	visor_vm_destroy(a);
	return test_summary("test_jit_wx");
}
