/* The VM's C API: loading errors, run-time errors with instruction indexes,
 * helpers, regions, budgets, option-struct growth, concurrent runs and the
 * verification gate (unverified programs run only in unsafe mode). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "testutil.h"

/* Loads text in unsafe mode: these programs test the run-time checks
 * (out-of-bounds accesses, unknown helpers, budgets), which only unverified
 * programs meet. */
static struct visor_vm *load(const char *text)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	if (visor_asm(text, &insns, &n, err, sizeof(err))) {
		fprintf(stderr, "asm: %s\n%s\n", err, text);
		abort();
	}
	struct visor_vm *vm = visor_vm_create();
	visor_vm_set_unsafe(vm, true);
	int rc = visor_vm_load(vm, insns, n);
	free(insns);
	if (rc) {
		fprintf(stderr, "load: %s\n", visor_vm_errmsg(vm));
		abort();
	}
	return vm;
}

/* Loading must fail with a message containing want. */
static void load_fails(const char *text, int want_err, const char *want)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	if (visor_asm(text, &insns, &n, err, sizeof(err))) {
		CHECK(0, "asm failed: %s", err);
		return;
	}
	struct visor_vm *vm = visor_vm_create();
	int rc = visor_vm_load(vm, insns, n);
	CHECK(rc == want_err, "load of '%s' returned %d, want %d", text, rc, want_err);
	CHECK(strstr(visor_vm_errmsg(vm), want), "message '%s' lacks '%s'", visor_vm_errmsg(vm), want);
	/* A failed load leaves no program behind. */
	uint64_t r0;
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EINVAL, "exec after failed load");
	free(insns);
	visor_vm_destroy(vm);
}

static void test_load_errors(void)
{
	load_fails("mov %r10, 1\nexit\n", -EINVAL, "insn 0: r10 is the read-only frame pointer");
	load_fails("mov %r0, 0\nja +5\nexit\n", -EINVAL, "insn 1: jump to 7 is outside the program");
	load_fails("ja +1\nlddw %r0, 1\nexit\n", -EINVAL, "lands in the middle of lddw");
	load_fails("mov %r0, 0\ncall local +3\nexit\n", -EINVAL, "call to 5 is outside");
	load_fails(".raw 0x00000000000000ff\nexit\n", -EINVAL, "insn 0: illegal instruction (opcode 0xff)");
	load_fails("lddw %r1, map_fd 3\nexit\n", -EOPNOTSUPP, "lddw map_fd");
	load_fails("call kfunc 7\nexit\n", -EOPNOTSUPP, "kfunc");

	struct visor_vm *vm = visor_vm_create();
	CHECK(visor_vm_load(vm, NULL, 0) == -EINVAL, "empty program");
	CHECK(strstr(visor_vm_errmsg(vm), "empty program"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
}

static void test_runtime_errors(void)
{
	char mem[16] = {0};
	uint64_t r0 = 0;

	struct visor_vm *vm = load("mov %r0, 1\nldxdw %r0, [%r1+4]\nexit\n");
	CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == -EFAULT, "oob load");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 1: load of 8 bytes"), "%s", visor_vm_errmsg(vm));
	CHECK(visor_vm_exec_mem(vm, mem, 12, &r0) == 0, "in-bounds load with a larger region");
	visor_vm_destroy(vm);

	/* Only the frames in use are addressable: 512 bytes in the main program,
	 * the caller's frames too inside a call, none after it returned. */
	vm = load("stw [%r10-512], 1\nstw [%r10-516], 1\nexit\n");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EFAULT, "below the main frame");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 1: store of 4 bytes"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
	vm = load("mov %r1, %r10\ncall local f\nmov %r0, %r1\nldxdw %r0, [%r0-520]\nexit\n"
		  "f:\nstdw [%r10-8], 7\nldxdw %r0, [%r1-8]\nstxdw [%r1-8], %r0\nmov %r1, %r10\nexit\n");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EFAULT, "dangling pointer to a returned frame");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 3: load of 8 bytes"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
	vm = load("stb [%r10+0], 1\nexit\n");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EFAULT, "store above the stack");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 0: store of 1 bytes"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

	vm = load("mov %r0, 0\ncall 77\nexit\n");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -ENOENT, "unknown helper");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 1: call to unknown helper 77"), "%s",
	      visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

	vm = load("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n");
	VISOR_OPTS(visor_vm_exec_opts, o, .budget = 1000);
	CHECK(visor_vm_exec(vm, &o, &r0) == -E2BIG, "budget");
	CHECK(o.insns_executed == 1000, "executed %llu", (unsigned long long)o.insns_executed);
	CHECK(strstr(visor_vm_errmsg(vm), "instruction budget of 1000 exhausted"), "%s",
	      visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

	vm = load("mov %r0, 0\nja +0\nja +0\nexit\n");
	o = (struct visor_vm_exec_opts){.sz = sizeof(o), .budget = 4};
	CHECK(visor_vm_exec(vm, &o, &r0) == 0, "a budget of exactly the program's length");
	CHECK(o.insns_executed == 4, "executed %llu", (unsigned long long)o.insns_executed);
	o.budget = 3;
	CHECK(visor_vm_exec(vm, &o, &r0) == -E2BIG, "one short");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 3:"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

	vm = load("mov %r0, 1\njeq %r0, 1, +1\nexit\nmov %r0, 2\n");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EINVAL, "fall off");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 4: execution fell off the end"), "%s",
	      visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

}

static uint64_t helper_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			   struct visor_vm_run *run)
{
	return a + b + c + d + e;
}

static uint64_t helper_poke(uint64_t p, uint64_t len, uint64_t c, uint64_t d, uint64_t e,
			    struct visor_vm_run *run)
{
	if (!visor_vm_run_mem_ok(run, p, len, true)) {
		visor_vm_run_fail(run, -EFAULT, "poke: %llu bytes at 0x%llx not writable",
				  (unsigned long long)len, (unsigned long long)p);
		return 0;
	}
	memset((void *)(uintptr_t)p, 0xab, len);
	return len;
}

static uint64_t helper_stop(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			    struct visor_vm_run *run)
{
	visor_vm_run_stop(run, a * 2);
	return 0;
}

static void test_helpers_and_regions(void)
{
	uint64_t r0 = 0;
	struct visor_vm *vm = load("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\n"
				   "call 9\nexit\n");
	CHECK(visor_vm_register_helper(vm, 256, "x", helper_add) == -EINVAL, "id 256");
	CHECK(visor_vm_register_helper(vm, 9, "x", NULL) == -EINVAL, "NULL fn");
	CHECK(visor_vm_register_helper(vm, 9, "add5", helper_add) == 0, "register");
	CHECK(!strcmp(visor_vm_helper_name(vm, 9), "add5"), "name");
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == 0 && r0 == 15, "r0 = %llu",
	      (unsigned long long)r0);
	visor_vm_destroy(vm);

	/* A helper given a pointer checks it; a failure names the helper. */
	static uint8_t ro[16], rw[16];
	vm = load("lddw %r1, 0\nmov %r2, 16\ncall 1\nexit\n");
	visor_vm_register_helper(vm, 1, "poke", helper_poke);
	visor_vm_add_region(vm, ro, sizeof(ro), false);
	visor_vm_add_region(vm, rw, sizeof(rw), true);
	char err[128];
	struct visor_insn *p;
	size_t n;
	char text[128];
	snprintf(text, sizeof(text), "lddw %%r1, 0x%llx\nmov %%r2, 16\ncall 1\nexit\n",
		 (unsigned long long)(uintptr_t)rw);
	CHECK(visor_asm(text, &p, &n, err, sizeof(err)) == 0, "%s", err);
	visor_vm_load(vm, p, n);
	free(p);
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == 0 && r0 == 16 && rw[15] == 0xab, "poke rw");
	snprintf(text, sizeof(text), "lddw %%r1, 0x%llx\nmov %%r2, 16\ncall 1\nexit\n",
		 (unsigned long long)(uintptr_t)ro);
	visor_asm(text, &p, &n, err, sizeof(err));
	visor_vm_load(vm, p, n);
	free(p);
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EFAULT, "poke ro");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 3: helper poke: poke: 16 bytes"), "%s",
	      visor_vm_errmsg(vm));

	/* Program loads and stores obey the regions too: reads of read-only
	 * memory work, writes do not. */
	snprintf(text, sizeof(text), "lddw %%r1, 0x%llx\nldxdw %%r0, [%%r1+8]\nstb [%%r1+0], 1\nexit\n",
		 (unsigned long long)(uintptr_t)ro);
	visor_asm(text, &p, &n, err, sizeof(err));
	visor_vm_load(vm, p, n);
	free(p);
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == -EFAULT, "store to read-only region");
	CHECK(strstr(visor_vm_errmsg(vm), "insn 3: store of 1 bytes"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);

	vm = load("mov %r1, 21\ncall 2\nmov %r0, 1\nexit\n");
	visor_vm_register_helper(vm, 2, "stop", helper_stop);
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == 0 && r0 == 42, "stop: r0 = %llu",
	      (unsigned long long)r0);
	visor_vm_destroy(vm);
}

static void test_call_depth(void)
{
	/* f(n) recurses until n reaches r1's limit; the main program is frame 1. */
	const char *text = "mov %r6, %r1\nmov %r1, 1\ncall local f\nexit\n"
			   "f:\nmov %r0, %r1\njge %r1, %r6, +2\nadd %r1, 1\ncall local f\nexit\n";
	struct visor_vm *vm = load(text);
	uint64_t r0 = 0;
	VISOR_OPTS(visor_vm_exec_opts, o, .set_args = true, .args = {7});
	CHECK(visor_vm_exec(vm, &o, &r0) == 0 && r0 == 7, "7 nested calls (8 frames): r0=%llu %s",
	      (unsigned long long)r0, visor_vm_errmsg(vm));
	o.args[0] = 8;
	CHECK(visor_vm_exec(vm, &o, &r0) == -EOVERFLOW, "9 frames");
	CHECK(strstr(visor_vm_errmsg(vm), "call depth exceeds 8 frames"), "%s", visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
}

static void test_opts_size(void)
{
	/* A caller compiled against a shorter struct (only sz, mem, mem_len)
	 * still works: the rest reads as zero. */
	struct old_opts {
		size_t sz;
		void *mem;
		size_t mem_len;
	} old = {sizeof(old), NULL, 0};
	uint8_t buf[4] = {1, 2, 3, 4};
	old.mem = buf;
	old.mem_len = 4;
	struct visor_vm *vm = load("ldxw %r0, [%r1+0]\nexit\n");
	uint64_t r0 = 0;
	CHECK(visor_vm_exec(vm, (struct visor_vm_exec_opts *)&old, &r0) == 0 && r0 == 0x04030201,
	      "old opts: r0 = 0x%llx", (unsigned long long)r0);
	struct visor_vm_exec_opts bad = {.sz = 0};
	CHECK(visor_vm_exec(vm, &bad, &r0) == -EINVAL, "sz 0");
	visor_vm_destroy(vm);
}

struct thread_arg {
	struct visor_vm *vm;
	int ok;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	uint64_t counter = 0;
	a->ok = 1;
	for (int i = 0; i < 2000; i++) {
		uint64_t r0;
		char err[128];
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = &counter, .mem_len = 8, .errbuf = err,
			   .errbuf_len = sizeof(err));
		if (visor_vm_exec(a->vm, &o, &r0) || r0 != 1000)
			a->ok = 0;
	}
	if (counter != 2000 * 1000)
		a->ok = 0;
	return NULL;
}

static void test_threads(void)
{
	/* One VM, four threads, each with its own memory: runs must not share
	 * state (each has its own stack and registers). */
	struct visor_vm *vm = load("mov %r0, 0\nmov %r3, 1\nloop:\nstxdw [%r10-8], %r0\n"
				   "lock add [%r1+0], %r3\nldxdw %r0, [%r10-8]\nadd %r0, 1\n"
				   "jlt %r0, 1000, loop\nexit\n");
	pthread_t t[4];
	struct thread_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i].vm = vm;
		pthread_create(&t[i], NULL, thread_main, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(a[i].ok, "thread %d saw a wrong result", i);
	}
	visor_vm_destroy(vm);
}

/* Without unsafe mode, a program runs (and JIT-compiles without checks)
 * only once the verifier accepted it; loading again forgets the verdict. */
static void test_verification_gate(void)
{
	struct visor_insn *ok, *oob;
	size_t nok, noob;
	char err[256];
	uint64_t r0 = 0;
	uint8_t mem[8] = {5};
	CHECK(visor_asm("ldxb %r0, [%r1+0]\nexit\n", &ok, &nok, err, sizeof(err)) == 0, "%s", err);
	CHECK(visor_asm("ldxdw %r0, [%r1+4]\nexit\n", &oob, &noob, err, sizeof(err)) == 0, "%s",
	      err);
	struct visor_vm *vm = visor_vm_create();
	CHECK(visor_vm_load(vm, ok, nok) == 0, "load: %s", visor_vm_errmsg(vm));
	CHECK(!visor_vm_verified(vm) && !visor_vm_unsafe(vm), "fresh VM: neither verified nor unsafe");
	CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == -EACCES, "unverified run refused");
	CHECK(strstr(visor_vm_errmsg(vm), "not verified"), "%s", visor_vm_errmsg(vm));
	if (visor_vm_jit_supported())
		CHECK(visor_vm_jit_compile(vm, VISOR_JIT_VERIFIED) == -EPERM,
		      "unchecked JIT of an unverified program");
	VISOR_OPTS(visor_verify_opts, vo, .ctx_size = 8);
	CHECK(visor_verify_vm(vm, &vo) == 0, "verify: %s", vo.errmsg);
	CHECK(visor_vm_verified(vm), "marked verified");
	CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == 0 && r0 == 5, "verified run: r0 = %llu",
	      (unsigned long long)r0);
	if (visor_vm_jit_supported()) {
		CHECK(visor_vm_jit_compile(vm, VISOR_JIT_VERIFIED) == 0, "unchecked JIT: %s",
		      visor_vm_errmsg(vm));
		CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == 0 && r0 == 5, "verified JIT run");
	}

	/* The verifier refuses the out-of-bounds load; the run stays refused. */
	CHECK(visor_vm_load(vm, oob, noob) == 0, "load: %s", visor_vm_errmsg(vm));
	CHECK(!visor_vm_verified(vm), "a new program is not verified");
	vo = (struct visor_verify_opts){.sz = sizeof(vo), .ctx_size = 8};
	CHECK(visor_verify_vm(vm, &vo) == -EACCES && vo.err_insn == 0, "oob refused: %d %s",
	      (int)vo.err_insn, vo.errmsg);
	CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == -EACCES, "refused program does not run");
	/* Unsafe mode runs it, and the run-time check catches the access. */
	visor_vm_set_unsafe(vm, true);
	CHECK(visor_vm_unsafe(vm), "unsafe mode");
	CHECK(visor_vm_exec_mem(vm, mem, 8, &r0) == -EFAULT, "unsafe run: checked");
	visor_vm_destroy(vm);
	free(ok);
	free(oob);
}

int main(void)
{
	test_verification_gate();
	test_load_errors();
	test_runtime_errors();
	test_helpers_and_regions();
	test_call_depth();
	test_opts_size();
	test_threads();
	return test_summary("test_vm_api");
}
