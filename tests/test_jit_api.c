/* The JIT through the public API: choosing the engine, compile errors,
 * helpers registered after compiling, registered memory regions (the slow
 * path of the bounds checks, read-only ones included), the budget at every
 * possible value, the call depth limit, helpers seeing the frames in use,
 * and concurrent runs. Where both engines can run, the JIT must give the
 * interpreter's result, error message (addresses aside) and count. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "testutil.h"

/* Loads text in unsafe mode: these programs exercise the engines' run-time
 * checks (regions, budgets, call depth, frames read through r10 from a
 * subprogram), which the verifier would refuse. */
static struct visor_vm *load(const char *text)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	struct visor_vm *vm = visor_vm_create();

	visor_vm_set_unsafe(vm, true);

	CHECK(visor_asm(text, &insns, &n, err, sizeof(err)) == 0, "asm: %s\n%s", err, text);
	CHECK(visor_vm_load(vm, insns, n) == 0, "load: %s", visor_vm_errmsg(vm));
	free(insns);
	return vm;
}

struct result {
	int rc;
	uint64_t r0, executed;
	char msg[VISOR_ERRMSG_LEN];
};

static void run(struct visor_vm *vm, int engine, void *mem, size_t len, uint64_t budget,
		const uint64_t *args, struct result *r)
{
	memset(r, 0, sizeof(*r));
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = len, .budget = budget,
		   .engine = engine, .errbuf = r->msg, .errbuf_len = sizeof(r->msg));
	if (args) {
		o.set_args = true;
		memcpy(o.args, args, sizeof(o.args));
	}
	r->rc = visor_vm_exec(vm, &o, &r->r0);
	r->executed = o.insns_executed;
}

/* The message up to its first "0x" (stack addresses differ). */
static bool same_msg(const char *a, const char *b)
{
	const char *pa = strstr(a, "0x"), *pb = strstr(b, "0x");
	size_t la = pa ? (size_t)(pa - a) : strlen(a), lb = pb ? (size_t)(pb - b) : strlen(b);
	return la == lb && !memcmp(a, b, la);
}

/* Runs vm in both engines (the JIT compiled with flags) and compares. */
static void same(struct visor_vm *vm, unsigned flags, void *mem, size_t len, uint64_t budget,
		 const uint64_t *args, const char *what)
{
	struct result a, b;
	uint8_t *copy = NULL;

	if (len) {
		copy = malloc(len);
		memcpy(copy, mem, len);
	}
	run(vm, VISOR_ENGINE_INTERP, mem, len, budget, args, &a);
	if (len)
		memcpy(mem, copy, len);
	CHECK(visor_vm_jit_compile(vm, flags) == 0, "%s: jit: %s", what, visor_vm_errmsg(vm));
	run(vm, VISOR_ENGINE_JIT, mem, len, budget, args, &b);
	CHECK(a.rc == b.rc, "%s (budget %llu): rc %d vs %d (%s / %s)", what,
	      (unsigned long long)budget, a.rc, b.rc, a.msg, b.msg);
	CHECK(a.rc || a.r0 == b.r0, "%s: r0 0x%llx vs 0x%llx", what, (unsigned long long)a.r0,
	      (unsigned long long)b.r0);
	CHECK(same_msg(a.msg, b.msg), "%s (budget %llu): \"%s\" vs \"%s\"", what,
	      (unsigned long long)budget, a.msg, b.msg);
	CHECK(!budget || a.executed == b.executed, "%s (budget %llu): executed %llu vs %llu", what,
	      (unsigned long long)budget, (unsigned long long)a.executed,
	      (unsigned long long)b.executed);
	free(copy);
}

static void test_engine_choice(void)
{
	struct visor_vm *vm = load("mov r0, 7\nexit\n");
	struct result r;

	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == -EINVAL && strstr(r.msg, "not JIT-compiled"), "JIT before compiling: %d %s",
	      r.rc, r.msg);
	run(vm, VISOR_ENGINE_AUTO, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == 0 && r.r0 == 7, "AUTO without code: %d", r.rc);
	CHECK(r.executed == 2, "AUTO without code runs the interpreter (counts %llu)",
	      (unsigned long long)r.executed);
	CHECK(visor_vm_jit_compile(vm, 1u << 7) == -EINVAL, "unknown flag accepted");
	CHECK(visor_vm_jit_compile(vm, 0) == 0, "jit: %s", visor_vm_errmsg(vm));
	run(vm, VISOR_ENGINE_AUTO, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == 0 && r.r0 == 7 && r.executed == 0,
	      "AUTO with code runs the JIT (no count without a budget): %d %llu", r.rc,
	      (unsigned long long)r.executed);
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 5, NULL, &r);
	CHECK(r.rc == 0 && r.executed == 2, "JIT counts under a budget: %llu",
	      (unsigned long long)r.executed);
	visor_vm_unload(vm);
	CHECK(visor_vm_jit_compile(vm, 0) == -EINVAL, "compile without a program");
	visor_vm_destroy(vm);
}

static uint64_t add_one(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			struct visor_vm_run *run)
{
	return a + b + c + d + e + 1;
}

static void test_late_helper(void)
{
	struct visor_vm *vm = load("mov r1, 1\nmov r2, 2\nmov r3, 3\nmov r4, 4\nmov r5, 5\n"
				   "call 7\nadd r0, r1\nadd r0, r5\nexit\n");
	struct result r;

	CHECK(visor_vm_jit_compile(vm, 0) == 0, "jit: %s", visor_vm_errmsg(vm));
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == -ENOENT && !strcmp(r.msg, "insn 5: call to unknown helper 7"),
	      "unregistered: %d %s", r.rc, r.msg);
	visor_vm_register_helper(vm, 7, "add_one", add_one);
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, NULL, &r);
	/* r1..r5 survive the call, as in the interpreter */
	CHECK(r.rc == 0 && r.r0 == 16 + 1 + 5, "registered after compiling: %d r0 %llu", r.rc,
	      (unsigned long long)r.r0);
	same(vm, 0, NULL, 0, 0, NULL, "late helper");
	visor_vm_destroy(vm);
}

static void test_regions(void)
{
	static uint64_t ro[4] = {10, 20, 30, 40}, rw[4];
	/* r1 = read-only region, r2 = writable one, r3 = which access */
	struct visor_vm *vm = load("ldxdw r0, [r1+8]\n"
				   "stxdw [r2+16], r0\n"
				   "ldxw r4, [r2+16]\n"
				   "add r0, r4\n"
				   "jeq r3, 0, out\n"
				   "jeq r3, 1, ro\n"
				   "jeq r3, 2, past\n"
				   "ldxdw r0, [r1+28]\n" /* straddles the end */
				   "exit\n"
				   "ro:\n"
				   "stxb [r1+0], r0\n"
				   "exit\n"
				   "past:\n"
				   "ldxb r0, [r2+32]\n"
				   "out:\n"
				   "exit\n");
	CHECK(visor_vm_add_region(vm, ro, sizeof(ro), false) == 0, "add ro");
	CHECK(visor_vm_add_region(vm, rw, sizeof(rw), true) == 0, "add rw");
	for (uint64_t k = 0; k < 4; k++) {
		uint64_t args[5] = {(uintptr_t)ro, (uintptr_t)rw, k, 0, 0};
		char what[32];
		snprintf(what, sizeof(what), "regions, case %llu", (unsigned long long)k);
		same(vm, 0, NULL, 0, 0, args, what);
		same(vm, 0, NULL, 0, 100, args, what);
		same(vm, VISOR_JIT_HARDEN, NULL, 0, 0, args, what);
	}
	struct result r;
	uint64_t args[5] = {(uintptr_t)ro, (uintptr_t)rw, 1, 0, 0};
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, args, &r);
	CHECK(r.rc == -EFAULT && strstr(r.msg, "insn 9: store of 1 bytes at 0x"),
	      "store to a read-only region: %d %s", r.rc, r.msg);
	args[2] = 0;
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, args, &r);
	CHECK(r.rc == 0 && r.r0 == 40 && rw[2] == 20, "regions: r0 %llu", (unsigned long long)r.r0);
	visor_vm_destroy(vm);
}

/* Every budget from 1 to past the end, on a program with a lddw, a loop, a
 * local call, a helper, memory and a packet load. */
static void test_budget_sweep(void)
{
	struct visor_vm *vm = load("lddw r6, 0x100000002\n"
				   "mov r7, 3\n"
				   "loop:\n"
				   "add r6, r7\n"
				   "stxdw [r10-8], r6\n"
				   "call local sub\n"
				   "sub r7, 1\n"
				   "jne r7, 0, loop\n"
				   "ldabsb 1\n"
				   "add r0, r6\n"
				   "exit\n"
				   "sub:\n"
				   "mov r1, r6\n"
				   "call 7\n"
				   "ldxdw r2, [r10+504]\n"
				   "lddw r3, 5\n"
				   "add r0, r2\n"
				   "exit\n");
	uint8_t mem[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	visor_vm_register_helper(vm, 7, "add_one", add_one);
	for (uint64_t b = 0; b <= 80; b++) {
		same(vm, 0, mem, sizeof(mem), b, NULL, "budget sweep");
		/* Checked JIT: the program reads its caller's frame through r10
		 * and calls an unknown helper, which no verifier accepts. */
		same(vm, VISOR_JIT_HARDEN, mem, sizeof(mem), b, NULL, "budget sweep, hardened");
	}
	visor_vm_destroy(vm);
}

static void test_depth(void)
{
	struct visor_vm *vm = load("mov r0, 0\ncall local f\nexit\n"
				   "f:\nadd r0, 1\nstxdw [r10-8], r0\ncall local f\nexit\n");
	struct result r;
	same(vm, 0, NULL, 0, 0, NULL, "depth");
	same(vm, 0, NULL, 0, 20, NULL, "depth, budget");
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == -EOVERFLOW && !strcmp(r.msg, "insn 5: call depth exceeds 8 frames"),
	      "depth: %d %s", r.rc, r.msg);
	visor_vm_destroy(vm);
}

/* Helpers check pointers against the frames in use: a callee's frame is
 * valid while it runs, not after it returned. */
static uint64_t probe(uint64_t ptr, uint64_t len, uint64_t c, uint64_t d, uint64_t e,
		      struct visor_vm_run *run)
{
	return visor_vm_run_mem_ok(run, ptr, len, true);
}

static void test_helper_frames(void)
{
	struct visor_vm *vm = load("call local f\n"
				   "mov r6, r0\n"
				   "mov r1, r7\n" /* the callee's dead frame */
				   "mov r2, 8\n"
				   "call 8\n"
				   "lsh r6, 1\n"
				   "or r0, r6\n"
				   "exit\n"
				   "f:\n"
				   "mov r1, r10\n"
				   "add r1, -8\n"
				   "mov r7, r1\n"
				   "mov r2, 8\n"
				   "call 8\n"
				   "exit\n");
	struct result r;
	visor_vm_register_helper(vm, 8, "probe", probe);
	same(vm, 0, NULL, 0, 0, NULL, "helper frames");
	run(vm, VISOR_ENGINE_JIT, NULL, 0, 0, NULL, &r);
	CHECK(r.rc == 0 && r.r0 == 2, "helper frames: r0 %llu (want 2: ok inside, not after)",
	      (unsigned long long)r.r0);
	visor_vm_destroy(vm);
}

struct thread_arg {
	struct visor_vm *vm;
	int bad;
};

static void *runner(void *p)
{
	struct thread_arg *t = p;
	for (int i = 0; i < 20000; i++) {
		uint8_t mem[16] = {0};
		char err[VISOR_ERRMSG_LEN];
		uint64_t r0 = 0;
		mem[0] = (uint8_t)i;
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = sizeof(mem),
			   .engine = VISOR_ENGINE_JIT, .errbuf = err, .errbuf_len = sizeof(err),
			   .budget = i & 1 ? 1000 : 0);
		if (visor_vm_exec(t->vm, &o, &r0) || r0 != (uint64_t)(uint8_t)i * 3 ||
		    mem[8] != (uint8_t)i)
			t->bad++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct visor_vm *vm = load("ldxb r2, [r1+0]\nstxb [r1+8], r2\nstxdw [r10-8], r2\n"
				   "ldxdw r0, [r10-8]\nmul r0, 3\nexit\n");
	struct thread_arg t[2] = {{vm, 0}, {vm, 0}};
	pthread_t th[2];
	CHECK(visor_vm_jit_compile(vm, 0) == 0, "jit: %s", visor_vm_errmsg(vm));
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, runner, &t[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].bad == 0, "thread %d: %d wrong runs", i, t[i].bad);
	}
	visor_vm_destroy(vm);
}

int main(void)
{
	if (!visor_vm_jit_supported())
		return test_skip("test_jit_api", "the JIT supports x86-64 only");
	test_engine_choice();
	test_late_helper();
	test_regions();
	test_budget_sweep();
	test_depth();
	test_helper_frames();
	test_threads();
	return test_summary("test_jit_api");
}
