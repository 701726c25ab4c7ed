/* Helpers that call back into the program: bpf_loop and
 * bpf_for_each_map_elem. Assembly programs (lddw func) check the re-entry
 * in every engine variant (interpreter, JIT with and without a budget,
 * hardened, verified): results, frames, budget counted across callbacks,
 * and the error paths (fault, depth, budget inside a callback, stop, bad
 * callback values, flags and counts, lddw func refused at load). The
 * compiled tests/progs/loop.bpf.c and foreach.bpf.c run in the interpreter,
 * the JIT and (as root) the kernel through objdiff, with expected values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "testutil.h"

#define LOOP_OBJ VISOR_BINARY_DIR "/tests/progs/loop.bpf.o"
#define FOREACH_OBJ VISOR_BINARY_DIR "/tests/progs/foreach.bpf.o"

/* ---- assembly programs ---------------------------------------------------- */

struct variant {
	const char *name;
	int engine;
	int jit_flags; /* -1: not compiled */
	uint64_t budget;
};

static const struct variant variants[] = {
	{"interp", VISOR_ENGINE_INTERP, -1, 0},
	{"interp+budget", VISOR_ENGINE_INTERP, -1, 1000000},
	{"jit", VISOR_ENGINE_JIT, 0, 0},
	{"jit+budget", VISOR_ENGINE_JIT, 0, 1000000},
	{"jit-harden", VISOR_ENGINE_JIT, VISOR_JIT_HARDEN, 0},
	{"jit-verified", VISOR_ENGINE_JIT, VISOR_JIT_VERIFIED, 0},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

struct result {
	int rc;
	uint64_t r0, executed;
	char msg[VISOR_ERRMSG_LEN];
};

static uint64_t stop_with_42(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			     struct visor_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	visor_vm_run_stop(run, 42);
	return 0;
}

static int verified_cases; /* expect() cases also run as verified code */

static struct visor_vm *load(const char *text)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	struct visor_vm *vm = visor_vm_create();
	/* Unsafe mode: the cases test how the engines handle callbacks at run
	 * time, faults and forged callbacks included. jit-verified verifies
	 * each program first (expect). */
	visor_vm_set_unsafe(vm, true);
	CHECK(visor_asm(text, &insns, &n, err, sizeof(err)) == 0, "asm: %s\n%s", err, text);
	CHECK(visor_vm_register_linux_helpers(vm) == 0, "register helpers");
	visor_vm_register_helper(vm, 200, "stop_with_42", stop_with_42);
	CHECK(visor_vm_load(vm, insns, n) == 0, "load: %s\n%s", visor_vm_errmsg(vm), text);
	free(insns);
	return vm;
}

static struct result run(struct visor_vm *vm, const struct variant *v, void *mem, size_t len,
			 uint64_t budget)
{
	struct result r = {0};
	if (v->jit_flags >= 0)
		CHECK(visor_vm_jit_compile(vm, (unsigned)v->jit_flags) == 0, "%s: compile: %s",
		      v->name, visor_vm_errmsg(vm));
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = len, .engine = v->engine,
		   .budget = budget ? budget : v->budget, .errbuf = r.msg,
		   .errbuf_len = sizeof(r.msg));
	r.rc = visor_vm_exec(vm, &o, &r.r0);
	r.executed = o.insns_executed;
	return r;
}

/* The message with every "0x..." number masked (stack addresses differ). */
static void mask(const char *in, char *out, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; in[i] && k + 1 < len; i++) {
		if (in[i] == '0' && in[i + 1] == 'x') {
			out[k++] = '#';
			i += 2;
			while (in[i] && strchr("0123456789abcdef", in[i]))
				i++;
			i--;
			continue;
		}
		out[k++] = in[i];
	}
	out[k] = 0;
}

/* Runs text in every variant; each must give rc and r0 (when rc is 0), a
 * message containing want_msg (when given), and all must agree on the
 * message (addresses masked) and, with a budget, the count. */
static void expect(const char *what, const char *text, int rc, uint64_t r0, const char *want_msg)
{
	struct result first = {0};
	uint64_t counted = 0;
	for (size_t i = 0; i < NVARIANTS; i++) {
		const struct variant *v = &variants[i];
		if (v->jit_flags >= 0 && !visor_vm_jit_supported())
			continue;
		if (v->jit_flags == VISOR_JIT_VERIFIED && rc == -EFAULT)
			continue; /* faults are the checks verified code leaves out */
		struct visor_vm *vm = load(text);
		uint64_t mem[4] = {0};
		if (v->jit_flags == VISOR_JIT_VERIFIED) {
			/* Verified code only for what the verifier accepts (untyped:
			 * r1 = mem); the other cases test run-time checks. */
			VISOR_OPTS(visor_verify_opts, vo, .ctx_size = sizeof(mem));
			if (visor_verify_vm(vm, &vo)) {
				if (getenv("VISOR_TEST_VERBOSE"))
					printf("%s: not verified (%s): no jit-verified run\n", what,
					       vo.errmsg);
				visor_vm_destroy(vm);
				continue;
			}
			verified_cases++;
		}
		struct result r = run(vm, v, mem, sizeof(mem), 0);
		CHECK(r.rc == rc, "%s [%s]: rc %d, want %d (%s)", what, v->name, r.rc, rc, r.msg);
		CHECK(rc || r.r0 == r0, "%s [%s]: r0 %lld, want %lld", what, v->name,
		      (long long)r.r0, (long long)r0);
		CHECK(!want_msg || strstr(r.msg, want_msg), "%s [%s]: message \"%s\", want \"%s\"",
		      what, v->name, r.msg, want_msg);
		char a[VISOR_ERRMSG_LEN], b[VISOR_ERRMSG_LEN];
		mask(r.msg, a, sizeof(a));
		mask(first.msg, b, sizeof(b));
		if (i == 0)
			first = r;
		else
			CHECK(!strcmp(a, b), "%s [%s]: message \"%s\" differs from the interpreter's \"%s\"",
			      what, v->name, r.msg, first.msg);
		if (v->budget && v->engine == VISOR_ENGINE_INTERP)
			counted = r.executed;
		else if (v->budget)
			CHECK(r.executed == counted, "%s [%s]: executed %llu, the interpreter %llu",
			      what, v->name, (unsigned long long)r.executed,
			      (unsigned long long)counted);
		visor_vm_destroy(vm);
	}
}

/* Callback sums indexes into the caller's stack, writes its own frame
 * (which must not be the caller's), stops after index 6. */
static const char sum_prog[] =
	"mov r6, 77\n"
	"mov r1, 0\n"
	"stxdw [r10-8], r1\n"
	"mov r1, 10\n"
	"lddw r2, func cb\n"
	"mov r3, r10\n"
	"add r3, -8\n"
	"mov r4, 0\n"
	"call 181\n"
	"ldxdw r1, [r10-8]\n"
	"mul r0, 1000\n"
	"add r0, r1\n"
	"add r0, r6\n"
	"exit\n"
	"cb:\n"
	"ldxdw r3, [r2+0]\n"
	"add r3, r1\n"
	"stxdw [r2+0], r3\n"
	"stxdw [r10-8], r1\n"
	"mov r6, 5\n" /* the caller's r6 must survive */
	"mov r0, 0\n"
	"jne r1, 6, +1\n"
	"mov r0, 1\n"
	"exit\n";

static void test_loop_basic(void)
{
	expect("bpf_loop sum", sum_prog, 0, 7 * 1000 + 21 + 77, NULL);
	/* nr_loops is a u32: the high half is ignored, as in the kernel. */
	expect("u32 count",
	       "lddw r1, 0x100000003\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
	       "cb:\nmov r0, 0\nexit\n",
	       0, 3, NULL);
	expect("zero loops",
	       "mov r1, 0\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
	       "cb:\nldxdw r0, [r0+0]\nexit\n",
	       0, 0, NULL);
	expect("flags", "mov r1, 3\nlddw r2, func cb\nmov r3, 0\nmov r4, 1\ncall 181\nexit\n"
			"cb:\nmov r0, 0\nexit\n",
	       0, (uint64_t)-EINVAL, NULL);
	expect("too many loops",
	       "mov r1, 0x800001\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
	       "cb:\nmov r0, 0\nexit\n",
	       0, (uint64_t)-E2BIG, NULL);
	/* The callback's index and r3..r5 (0), and a local call inside it. */
	expect("callback arguments",
	       "mov r1, 2\nlddw r2, func cb\nmov r3, 0x55\nmov r4, 0\nmov r5, 9\ncall 181\n"
	       "exit\n"
	       "cb:\njne r2, 0x55, bad\njne r3, 0, bad\njne r4, 0, bad\njne r5, 0, bad\n"
	       "call local sub\nexit\nbad:\nmov r0, 1\nexit\n"
	       "sub:\nmov r0, 0\nexit\n",
	       0, 2, NULL);
}

static void test_loop_errors(void)
{
	/* insn 9 is the callback's load through r1 = index 0. */
	expect("fault in the callback",
	       "mov r1, 2\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nmov r0, 5\nexit\n"
	       "mov r0, 0\n"
	       "cb:\nldxdw r0, [r1+0]\nexit\n",
	       -EFAULT, 0, "insn 9: load of 8 bytes at 0x0 is outside");
	/* Each callback calls bpf_loop again: 7 frames below the main one. */
	expect("depth",
	       "mov r1, 1\nlddw r2, func cb\nmov r3, r1\nmov r4, 0\ncall 181\nexit\n"
	       "cb:\nmov r1, 1\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nmov r0, 0\nexit\n",
	       -EOVERFLOW, 0, "insn 12: helper bpf_loop: callback at insn 7: call depth exceeds 8 frames");
	expect("garbage callback",
	       "mov r1, 1\nmov r2, 12345\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
	       "lddw r2, func +1\nexit\n",
	       -EINVAL, 0, "insn 4: helper bpf_loop: bpf_loop: callback_fn (r2) (0x3039) is not a callback function");
	/* A tagged value, but of an instruction no lddw func names. */
	expect("forged callback",
	       "mov r1, 1\nlddw r2, 0xbfc0000000000009\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
	       "lddw r2, func cb\nexit\ncb:\nmov r0, 0\nexit\n",
	       -EINVAL, 0, "is not a callback function");
	/* A helper stopping the run from inside a callback ends the run. */
	expect("stop inside",
	       "mov r1, 3\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nmov r0, 5\nexit\n"
	       "cb:\ncall 200\nmov r0, 0\nexit\n",
	       0, 42, NULL);
	/* LD_ABS out of bounds inside a callback ends the whole run, r0 = 0. */
	expect("ldabs inside",
	       "mov r6, r1\nmov r1, 3\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\n"
	       "mov r0, 5\nexit\n"
	       "cb:\nldabsw 1000\nmov r0, 0\nexit\n",
	       0, 0, NULL);
	/* The callback's frame is gone once it returned. */
	expect("dead frame",
	       "mov r1, 1\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\n"
	       "ldxdw r0, [r10-520]\nexit\n"
	       "cb:\nmov r0, 0\nexit\n",
	       -EFAULT, 0, "insn 6: load of 8 bytes at");
	/* for_each with no map bound. */
	expect("for_each without a map",
	       "mov r1, 1\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 164\nexit\n"
	       "cb:\nmov r0, 0\nexit\n",
	       -EINVAL, 0, "insn 5: helper bpf_for_each_map_elem: bpf_for_each_map_elem: map (r1) is not a map bound");
}

static void test_load_refusals(void)
{
	const char *bad[][2] = {
		{"mov r0, 0\nlddw r2, func +100\nexit\n", "insn 1: lddw func to 102 is outside the program (0..3)"},
		{"lddw r2, func -2\nexit\n", "insn 0: lddw func to -1 is outside the program"},
		{"lddw r2, func +2\nlddw r3, 5\nexit\n", "insn 0: lddw func to 3 lands in the middle of lddw"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct visor_insn *insns;
		size_t n;
		char err[256];
		CHECK(visor_asm(bad[i][0], &insns, &n, err, sizeof(err)) == 0, "asm: %s", err);
		struct visor_vm *vm = visor_vm_create();
		int rc = visor_vm_load(vm, insns, n);
		CHECK(rc == -EINVAL && strstr(visor_vm_errmsg(vm), bad[i][1]),
		      "load refused: %d \"%s\", want \"%s\"", rc, visor_vm_errmsg(vm), bad[i][1]);
		visor_vm_destroy(vm);
		free(insns);
	}
}

/* 0: mov, 1-2: lddw, 3, 4: movs, 5: call, 6: exit; callback 7, 8. */
static const char count_prog[] = "mov r1, 4\nlddw r2, func cb\nmov r3, 0\nmov r4, 0\ncall 181\nexit\n"
				 "cb:\nmov r0, 0\nexit\n";

/* The budget runs on through callbacks: every budget from 1 to past the
 * end gives the same stop, message and count in both engines. */
static void test_budget(void)
{
	const uint64_t total = 6 + 4 * 2;
	for (uint64_t budget = 1; budget <= total + 1; budget++) {
		struct result res[2];
		for (int e = 0; e < 2; e++) {
			if (e && !visor_vm_jit_supported())
				break;
			struct variant v = {e ? "jit" : "interp", e ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP,
					    e ? 0 : -1, 0};
			struct visor_vm *vm = load(count_prog);
			res[e] = run(vm, &v, NULL, 0, budget);
			visor_vm_destroy(vm);
			if (budget >= total) {
				CHECK(res[e].rc == 0 && res[e].r0 == 4 && res[e].executed == total,
				      "[%s] budget %llu: rc %d r0 %llu executed %llu", v.name,
				      (unsigned long long)budget, res[e].rc,
				      (unsigned long long)res[e].r0, (unsigned long long)res[e].executed);
			} else {
				CHECK(res[e].rc == -E2BIG && res[e].executed == budget,
				      "[%s] budget %llu: rc %d executed %llu (%s)", v.name,
				      (unsigned long long)budget, res[e].rc,
				      (unsigned long long)res[e].executed, res[e].msg);
			}
			if (e)
				CHECK(!strcmp(res[0].msg, res[1].msg), "budget %llu: \"%s\" vs \"%s\"",
				      (unsigned long long)budget, res[0].msg, res[1].msg);
		}
	}
	/* Budget 9: main's 5 instructions, callback 0 (2), then 7 and 8 of
	 * callback 1; the dispatch of insn 7 for index 2 is the tenth. */
	struct variant v = {"interp", VISOR_ENGINE_INTERP, -1, 0};
	struct visor_vm *vm = load(count_prog);
	struct result r = run(vm, &v, NULL, 0, 9);
	CHECK(r.rc == -E2BIG && !strcmp(r.msg, "insn 7: instruction budget of 9 exhausted"),
	      "budget inside the callback: %d \"%s\"", r.rc, r.msg);
	visor_vm_destroy(vm);
}

/* ---- compiled objects against the kernel ----------------------------------- */

static uint8_t frames[4][64];

static void frame_cases(struct objdiff_case *c, const uint32_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(frames[i], 0, sizeof(frames[i]));
		frames[i][12] = 0x08; /* IPv4 ethertype; the content is not read */
		frames[i][14] = (uint8_t)i;
		c[i] = (struct objdiff_case){.name = "frame", .data = frames[i], .data_len = lens[i]};
	}
}

static uint64_t lookup_u64(struct visor_map *m, uint32_t key)
{
	uint64_t v = ~0ull;
	CHECK(m && visor_map_lookup(m, &key, &v) == 0, "lookup %u", key);
	return v;
}

/* loop.bpf.c: .bss = {loop_iters, loop_sum} (clang's order). */
struct loop_expect {
	uint64_t sum, iters;
};

static void check_loop(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct loop_expect *want = arg;
	struct visor_map *bss = objdiff_map(obj, maps, ".bss");
	uint64_t v[2] = {0};
	uint32_t key = 0;
	CHECK(bss && visor_map_value_size(bss) == sizeof(v) && visor_map_lookup(bss, &key, v) == 0,
	      "loop: .bss");
	CHECK(v[1] == want->sum && v[0] == want->iters, "loop: sum %llu iters %llu, want %llu %llu",
	      (unsigned long long)v[1], (unsigned long long)v[0], (unsigned long long)want->sum,
	      (unsigned long long)want->iters);
}

/* objdiff_check, saying how many engines agreed. */
static int compare(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
		   struct objdiff_result *res)
{
	int engines = objdiff_check(d, cases, n, res);
	printf("%s: %s: %d engines compared%s\n", d->path + strlen(VISOR_BINARY_DIR) + 1, d->prog,
	       engines, engines == 3 ? " (interp, jit, kernel)" : "");
	return engines;
}

static void test_loop_object(void)
{
	const uint32_t lens[] = {14, 40, 63};
	struct objdiff_case cases[3];
	frame_cases(cases, lens, 3);
	/* The last case: n = 63 squares summed until the sum passes 20000. */
	struct loop_expect want = {0, 0};
	for (uint32_t i = 0; i < 63; i++) {
		want.sum += (uint64_t)i * i;
		want.iters = i + 1;
		if (want.sum > 20000)
			break;
	}
	struct objdiff d = {.path = LOOP_OBJ, .prog = "xdp_loop", .check_maps = check_loop,
			    .check_arg = &want};
	struct objdiff_result res[3] = {0};
	int engines = compare(&d, cases, 3, res);
	CHECK(engines >= 2, "loop.bpf.o: objdiff %d", engines);
	for (int i = 0; i < 3; i++)
		CHECK(res[i].err == 0 && res[i].retval == 2, "loop case %d: err %d retval %u", i,
		      res[i].err, res[i].retval);
}

/* foreach.bpf.c's result slots (same order as its enum). */
enum {
	R_HASH_N, R_HASH_SUM, R_HASH_STOP_N, R_HASH_STOP_SEEN, R_ARRAY_N, R_ARRAY_SUM,
	R_ARRAY_STOP_N, R_LRU_N, R_LRU_SUM, R_PCPU_N, R_PCPU_SUM, R_PCPU_HASH_N,
	R_PCPU_HASH_SUM, R_FOREACH_FLAGS, R_NESTED_N, R_NESTED_SUM, R_NESTED_INNER,
	R_LOOP_FLAGS, R_LOOP_BIG, R_LOOP_ZERO, R_LOOP_MAX, R_COUNT
};

/* What xdp_foreach leaves after running on frames of these lengths. */
struct foreach_model {
	const uint32_t *lens;
	size_t n;
};

static void check_foreach(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct foreach_model *m = arg;
	struct visor_map *res = objdiff_map(obj, maps, "results");
	struct visor_map *table = objdiff_map(obj, maps, "table");
	struct visor_map *slots = objdiff_map(obj, maps, "slots");
	/* The hash: keys i * 7 + len -> i + 1, doubled by each first walk. */
	uint64_t hkeys[64], hvals[64];
	size_t nh = 0;
	uint64_t hash_sum = 0, lru_n = 0, lru_sum = 0;
	uint32_t len = 0;
	for (size_t c = 0; c < m->n; c++) {
		len = m->lens[c];
		uint32_t n = len % 16 + 4;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t k = i * 7 + len;
			size_t j = 0;
			while (j < nh && hkeys[j] != k)
				j++;
			hkeys[j] = k;
			hvals[j] = i + 1;
			nh += j == nh;
			lru_n++;
			lru_sum += ((k << 32) | i) ^ (i * 3);
		}
		hash_sum = 0;
		for (size_t j = 0; j < nh; j++) {
			hash_sum += hkeys[j] * 1000 + hvals[j];
			hvals[j] *= 2;
		}
	}
	uint64_t array_sum = 0;
	for (uint64_t k = 0; k < 16; k++)
		array_sum += k * k + len;
	uint32_t npc = 0; /* keys 0..5, as many as the largest n */
	for (size_t c = 0; c < m->n; c++)
		if (m->lens[c] % 16 + 4 > npc)
			npc = m->lens[c] % 16 + 4 < 6 ? m->lens[c] % 16 + 4 : 6;
	uint64_t pcpu_hash_sum = 0;
	for (uint32_t i = 0; i < npc; i++)
		pcpu_hash_sum += i + i * 3;
	const uint64_t want[R_PCPU_HASH_SUM + 2] = {
		[R_HASH_N] = nh, [R_HASH_SUM] = hash_sum, [R_HASH_STOP_N] = 3,
		[R_HASH_STOP_SEEN] = 3, [R_ARRAY_N] = 16, [R_ARRAY_SUM] = array_sum,
		[R_ARRAY_STOP_N] = 6, [R_LRU_N] = lru_n, [R_LRU_SUM] = lru_sum, [R_PCPU_N] = 4,
		[R_PCPU_SUM] = m->n * 10, [R_PCPU_HASH_N] = npc, [R_PCPU_HASH_SUM] = pcpu_hash_sum,
		[R_FOREACH_FLAGS] = (uint64_t)-EINVAL,
	};
	for (uint32_t s = 0; s <= R_FOREACH_FLAGS; s++)
		CHECK(lookup_u64(res, s) == want[s], "foreach result %u: %lld, want %lld", s,
		      (long long)lookup_u64(res, s), (long long)want[s]);
	for (size_t j = 0; j < nh; j++) {
		uint32_t k = (uint32_t)hkeys[j];
		CHECK(lookup_u64(table, k) == hvals[j], "table[%u] = %llu, want %llu", k,
		      (unsigned long long)lookup_u64(table, k), (unsigned long long)hvals[j]);
	}
	for (uint32_t k = 0; k < 16; k++)
		CHECK(lookup_u64(slots, k) == (uint64_t)k * k + (k < 6 ? 1 : len),
		      "slots[%u] = %llu", k, (unsigned long long)lookup_u64(slots, k));
}

static void check_nested(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *res = objdiff_map(obj, maps, "results");
	struct visor_map *slots = objdiff_map(obj, maps, "slots");
	/* Slots 0..9 visited; slot k runs k loops summing 0..k-1. */
	uint64_t sum = 0, inner = 0;
	for (uint64_t k = 0; k < 10; k++) {
		sum += k ? k * (k - 1) / 2 : 0;
		inner += k;
	}
	CHECK(lookup_u64(res, R_NESTED_N) == 10, "nested visited %llu",
	      (unsigned long long)lookup_u64(res, R_NESTED_N));
	CHECK(lookup_u64(res, R_NESTED_SUM) == sum, "nested sum %llu, want %llu",
	      (unsigned long long)lookup_u64(res, R_NESTED_SUM), (unsigned long long)sum);
	CHECK(lookup_u64(res, R_NESTED_INNER) == inner, "nested inner %llu",
	      (unsigned long long)lookup_u64(res, R_NESTED_INNER));
	CHECK(lookup_u64(slots, 9) == 36 && lookup_u64(slots, 10) == 0, "nested slots");
}

static void check_loop_args(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *res = objdiff_map(obj, maps, "results");
	CHECK(lookup_u64(res, R_LOOP_FLAGS) == (uint64_t)-EINVAL, "bpf_loop flags: %lld",
	      (long long)lookup_u64(res, R_LOOP_FLAGS));
	CHECK(lookup_u64(res, R_LOOP_BIG) == (uint64_t)-E2BIG, "bpf_loop 2^23+1: %lld",
	      (long long)lookup_u64(res, R_LOOP_BIG));
	CHECK(lookup_u64(res, R_LOOP_ZERO) == 0, "bpf_loop 0");
	CHECK(lookup_u64(res, R_LOOP_MAX) == 1u << 23, "bpf_loop 2^23: %llu",
	      (unsigned long long)lookup_u64(res, R_LOOP_MAX));
}

static void test_foreach_object(void)
{
	static const uint32_t lens[] = {60, 33};
	struct objdiff_case cases[2];
	frame_cases(cases, lens, 2);
	struct foreach_model model = {lens, 2};
	struct objdiff_result res[2] = {0};

	struct objdiff d = {.path = FOREACH_OBJ, .prog = "xdp_foreach",
			    .check_maps = check_foreach, .check_arg = &model};
	CHECK(compare(&d, cases, 2, res) >= 2, "xdp_foreach");
	CHECK(res[0].retval == 2 && res[1].retval == 2, "xdp_foreach retval");

	d = (struct objdiff){.path = FOREACH_OBJ, .prog = "xdp_nested", .check_maps = check_nested};
	CHECK(compare(&d, cases, 1, res) >= 2, "xdp_nested");
	CHECK(res[0].retval == 2, "xdp_nested retval %u", res[0].retval);

	d = (struct objdiff){.path = FOREACH_OBJ, .prog = "xdp_loop_args",
			     .check_maps = check_loop_args};
	CHECK(compare(&d, cases, 1, res) >= 2, "xdp_loop_args");
	CHECK(res[0].retval == 2, "xdp_loop_args retval %u (2^23 iterations)", res[0].retval);
}

int main(void)
{
	test_loop_basic();
	test_loop_errors();
	test_load_refusals();
	test_budget();
	test_loop_object();
	test_foreach_object();
	printf("test_runtime_callbacks: %d hand-written cases also ran verified (jit-verified)\n",
	       verified_cases);
	return test_summary("test_runtime_callbacks");
}
