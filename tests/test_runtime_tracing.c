/* The tracing-family contexts on the visor VM (kprobe, tracepoint, raw
 * tracepoint, tracing, syscall: src/vm/ctx_tracing.c, test_run_tracing.c):
 *  - the load-time context rules, each small program also loaded into the
 *    kernel (root) whose verifier must give the same verdict;
 *  - the helper allowlist rows of these types, every Linux helper id
 *    compared with the kernel (the measurement of helper_protos.c, redone);
 *  - compiled programs (tests/progs/tracing_ctx.bpf.c, syscall.bpf.c) run
 *    in the interpreter and the JIT with expected values, and the raw
 *    tracepoint and syscall ones against the kernel's BPF_PROG_TEST_RUN
 *    through objdiff (retval, ctx_out, maps);
 *  - the test-run argument rules (the kernel's, where it test-runs). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "kernel_run.h"
#include "objdiff.h"
#include "testutil.h"

#define TRACING_OBJ VISOR_BINARY_DIR "/tests/progs/tracing_ctx.bpf.o"
#define SYSCALL_OBJ VISOR_BINARY_DIR "/tests/progs/syscall.bpf.o"

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

static const uint32_t types[] = {VISOR_VM_PROG_KPROBE, VISOR_VM_PROG_TRACEPOINT,
				 VISOR_VM_PROG_RAW_TRACEPOINT, VISOR_VM_PROG_TRACING,
				 VISOR_VM_PROG_SYSCALL};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* ---- loading the same instructions in visor and in the kernel ----------- */

/* Loads p as the type in a fresh VM with the Linux helpers; *keep receives
 * the VM (else destroyed). Returns visor_vm_load's result, message in msg.
 * A VM kept to run is verified too: a refusal is returned, the verifier's
 * reason in msg (the others only test the load's context rules). */
static int vload(uint32_t type, const struct visor_insn *p, size_t n, char *msg, size_t len,
		 struct visor_vm **keep)
{
	struct visor_vm *vm = visor_vm_create();
	int rc = visor_vm_register_linux_helpers(vm);
	if (!rc)
		rc = visor_vm_set_prog_type(vm, type);
	if (!rc)
		rc = visor_vm_load(vm, p, n);
	if (msg)
		snprintf(msg, len, "%s", visor_vm_errmsg(vm));
	if (!rc && keep) {
		VISOR_OPTS(visor_verify_opts, vo);
		rc = visor_verify_vm(vm, &vo);
		if (rc && msg)
			snprintf(msg, len, "verifier: %.400s", vo.errmsg);
	}
	if (keep)
		*keep = vm;
	else
		visor_vm_destroy(vm);
	return rc;
}

static int sys_enter_btf_id; /* tracing programs load as tp_btf/sys_enter */

/* Loads p into the kernel as the type, the way libbpf loads the matching
 * sections: syscall and kprobe programs sleepable (the larger helper set),
 * tracing as tp_btf on sys_enter (fentry is refused on these machines).
 * Returns true if accepted; the verifier log is in log. */
static bool kload(uint32_t type, const struct visor_insn *p, size_t n, char *log, size_t len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = (uint32_t)len,
		    .log_level = 1);
	if (type == VISOR_VM_PROG_SYSCALL || type == VISOR_VM_PROG_KPROBE)
		o.prog_flags = BPF_F_SLEEPABLE;
	if (type == VISOR_VM_PROG_TRACING) {
		o.expected_attach_type = BPF_TRACE_RAW_TP;
		o.attach_btf_id = (uint32_t)sys_enter_btf_id;
	}
	log[0] = 0;
	int fd = bpf_prog_load((enum bpf_prog_type)type, "visor_test", "GPL",
			       (const struct bpf_insn *)p, n, &o);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* Can the kernel be compared with? Prints one SKIP line (once) if not. */
static bool kernel_ok(const char *what)
{
	char why[256];
	if (kernel_available(why, sizeof(why))) {
		if (!sys_enter_btf_id)
			sys_enter_btf_id = libbpf_find_vmlinux_btf_id("sys_enter", BPF_TRACE_RAW_TP);
		if (sys_enter_btf_id > 0)
			return true;
		snprintf(why, sizeof(why), "no BTF id for sys_enter in /sys/kernel/btf/vmlinux");
	}
	printf("SKIP %s against the kernel: %s\n", what, why);
	return false;
}

/* ---- context rules ------------------------------------------------------- */

struct rule {
	const char *name;
	struct visor_insn access; /* through r1 = ctx; r2 = 0 before it */
	int prelude;              /* 1: r1 += 8 first; 2: ctx spilled and filled into r1 */
};

static const struct rule rules[] = {
	{"ldxdw 0", INSN(0x79, 0, 1, 0, 0), 0},	     {"ldxdw 8", INSN(0x79, 0, 1, 8, 0), 0},
	{"ldxw 0", INSN(0x61, 0, 1, 0, 0), 0},	     {"ldxw 4", INSN(0x61, 0, 1, 4, 0), 0},
	{"ldxw 8", INSN(0x61, 0, 1, 8, 0), 0},	     {"ldxb 3", INSN(0x71, 0, 1, 3, 0), 0},
	{"ldxb 8", INSN(0x71, 0, 1, 8, 0), 0},	     {"ldxh 6", INSN(0x69, 0, 1, 6, 0), 0},
	{"ldxh 7", INSN(0x69, 0, 1, 7, 0), 0},	     {"ldxdw 4", INSN(0x79, 0, 1, 4, 0), 0},
	{"ldxdw 16", INSN(0x79, 0, 1, 16, 0), 0},    {"ldxdw 88", INSN(0x79, 0, 1, 88, 0), 0},
	{"ldxdw 96", INSN(0x79, 0, 1, 96, 0), 0},    {"ldxdw 160", INSN(0x79, 0, 1, 160, 0), 0},
	{"ldxdw 168", INSN(0x79, 0, 1, 168, 0), 0},  {"ldxw 164", INSN(0x61, 0, 1, 164, 0), 0},
	{"ldxdw 2048", INSN(0x79, 0, 1, 2048, 0), 0}, {"ldxdw 8184", INSN(0x79, 0, 1, 8184, 0), 0},
	{"ldxdw 8192", INSN(0x79, 0, 1, 8192, 0), 0}, {"ldxdw 32760", INSN(0x79, 0, 1, 32760, 0), 0},
	{"ldxdw -8", INSN(0x79, 0, 1, -8, 0), 0},    {"stdw 8", INSN(0x7a, 1, 0, 8, 1), 0},
	{"stxdw 8", INSN(0x7b, 1, 2, 8, 0), 0},	     {"stw 4", INSN(0x62, 1, 0, 4, 1), 0},
	{"stxb 9", INSN(0x73, 1, 2, 9, 0), 0},	     {"stxw 6", INSN(0x63, 1, 2, 6, 0), 0},
	{"ldsxw 8", INSN(0x81, 0, 1, 8, 0), 0},	     {"ldsxb 9", INSN(0x91, 0, 1, 9, 0), 0},
	{"atomic add 8", INSN(0xdb, 1, 2, 8, 0), 0}, {"r1 += 8; ldxdw 0", INSN(0x79, 0, 1, 0, 0), 1},
	{"spilled ctx, ldxdw 8", INSN(0x79, 0, 1, 8, 0), 2},
};

static size_t rule_prog(const struct rule *r, struct visor_insn *p)
{
	size_t n = 0;
	p[n++] = INSN(0xb7, 2, 0, 0, 0); /* r2 = 0 */
	if (r->prelude == 1)
		p[n++] = INSN(0x07, 1, 0, 0, 8); /* r1 += 8 */
	if (r->prelude == 2) {
		p[n++] = INSN(0x7b, 10, 1, -8, 0); /* *(u64 *)(r10 - 8) = r1 */
		p[n++] = INSN(0xb7, 1, 0, 0, 0);
		p[n++] = INSN(0x79, 1, 10, -8, 0);
	}
	p[n++] = r->access;
	p[n++] = INSN(0xb7, 0, 0, 0, 0);
	p[n++] = INSN(0x95, 0, 0, 0, 0);
	return n;
}

/* Without the kernel: verdicts and messages worth pinning down. */
static void test_rule_messages(void)
{
	struct visor_insn p[8];
	char msg[512];
	size_t n = rule_prog(&rules[9], p); /* ldxdw 4 */
	CHECK(vload(VISOR_VM_PROG_RAW_TRACEPOINT, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      !strcmp(msg, "insn 1: misaligned access of the tracing context (u64 args[12]) at offset 4, size 8"),
	      "raw_tp misaligned: %s", msg);
	n = rule_prog(&rules[12], p); /* ldxdw 96 */
	CHECK(vload(VISOR_VM_PROG_RAW_TRACEPOINT, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      strstr(msg, "access outside of the tracing context (u64 args[12]) at offset 96"),
	      "raw_tp beyond 12 args: %s", msg);
	n = rule_prog(&rules[21], p); /* stdw 8 */
	CHECK(vload(VISOR_VM_PROG_KPROBE, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      strstr(msg, "store (the context is read-only) of the kprobe context (struct pt_regs)"),
	      "kprobe store: %s", msg);
	CHECK(vload(VISOR_VM_PROG_SYSCALL, p, n, msg, sizeof(msg), NULL) == 0, "syscall store: %s", msg);
	n = rule_prog(&rules[2], p); /* ldxw 0 */
	CHECK(vload(VISOR_VM_PROG_TRACEPOINT, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      strstr(msg, "of the tracepoint record at offset 0"),
	      "tracepoint common fields: %s", msg);
	n = rule_prog(&rules[3], p); /* ldxw 4 */
	CHECK(vload(VISOR_VM_PROG_TRACING, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      strstr(msg, "not at the start of an argument"),
	      "tracing ldxw 4: %s", msg);
	n = rule_prog(&rules[29], p); /* r1 += 8 */
	CHECK(vload(VISOR_VM_PROG_SYSCALL, p, n, msg, sizeof(msg), NULL) == -EINVAL &&
		      strstr(msg, "was moved"), "modified ctx: %s", msg);
	/* A type the VM has no context for is still refused. */
	struct visor_vm *vm = visor_vm_create();
	CHECK(visor_vm_set_prog_type(vm, 7 /* perf_event */) == -EINVAL, "perf_event type");
	visor_vm_destroy(vm);
}

static void test_rules_kernel(void)
{
	if (!kernel_ok("context rules"))
		return;
	char *log = malloc(1 << 16);
	for (size_t t = 0; t < NTYPES && log; t++) {
		for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
			const struct rule *r = &rules[i];
			struct visor_insn p[8];
			size_t n = rule_prog(r, p);
			/* tp_btf/sys_enter has 2 arguments; visor allows 12 (the
			 * count comes with the test run's ctx_in). */
			if (types[t] == VISOR_VM_PROG_TRACING && !r->prelude && r->access.off >= 16)
				continue;
			char msg[512];
			bool k = kload(types[t], p, n, log, 1 << 16);
			bool v = vload(types[t], p, n, msg, sizeof(msg), NULL) == 0;
			if (types[t] == VISOR_VM_PROG_TRACEPOINT && r->access.off < 0) {
				/* Known difference: tp_prog_is_valid_access compares
				 * off with sizeof(void *) as unsigned, so the kernel
				 * lets negative offsets through; visor refuses. */
				CHECK(k && !v, "tracepoint %s: kernel %d, visor %d (the known difference changed)",
				      r->name, k, v);
				continue;
			}
			if (types[t] == VISOR_VM_PROG_TRACING && !r->prelude && r->access.off < 8 &&
			    VISOR_SIZE(r->access.code) != VISOR_SIZE_DW && VISOR_CLASS(r->access.code) == VISOR_CLS_LDX &&
			    r->access.off % 8 == 0) {
				/* Known difference: sys_enter's args[0] is a pointer,
				 * which btf_ctx_access wants read whole; visor has no
				 * BTF types and allows narrow loads of any argument. */
				CHECK(!k && v, "tracing %s: kernel %d, visor %d (the known difference changed)",
				      r->name, k, v);
				continue;
			}
			CHECK(k == v, "type %u %s: kernel %s, visor %s (%s)", types[t], r->name,
			      k ? "accepts" : "refuses", v ? "accepts" : "refuses", v ? "" : msg);
		}
	}
	free(log);
}

/* ---- helper allowlist ---------------------------------------------------- */

static void test_helpers_kernel(void)
{
	if (!kernel_ok("helper allowlist"))
		return;
	char *log = malloc(1 << 16);
	int mismatches = 0;
	for (size_t t = 0; t < NTYPES && log; t++) {
		for (int32_t id = 1; id <= 211; id++) {
			struct visor_insn p[] = {INSN(0x85, 0, 0, 0, id), INSN(0xb7, 0, 0, 0, 0),
						 INSN(0x95, 0, 0, 0, 0)};
			bool k = kload(types[t], p, 3, log, 1 << 16);
			/* Refused for the helper itself, not for its (missing)
			 * arguments: what no program of the type can call. */
			if (!k)
				k = !strstr(log, "unknown func") && !strstr(log, "cannot use helper") &&
				    !strstr(log, "might sleep") && !strstr(log, "not allowed in probe") &&
				    !strstr(log, "supported only for");
			char msg[512];
			bool v = vload(types[t], p, 3, msg, sizeof(msg), NULL) == 0;
			CHECK(k == v, "type %u helper %d: kernel %s, visor %s (%s)", types[t], id,
			      k ? "allows" : "refuses", v ? "allows" : "refuses", msg);
			mismatches += k != v;
		}
	}
	/* One past the kernel's last helper is refused by both. */
	struct visor_insn p[] = {INSN(0x85, 0, 0, 0, 212), INSN(0xb7, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0)};
	char msg[512];
	CHECK(!kload(VISOR_VM_PROG_RAW_TRACEPOINT, p, 3, log, 1 << 16) &&
		      vload(VISOR_VM_PROG_RAW_TRACEPOINT, p, 3, msg, sizeof(msg), NULL) == -EINVAL,
	      "helper 212: %s", msg);
	if (mismatches)
		printf("%d helper verdicts differ from the kernel's\n", mismatches);
	free(log);
}

/* ---- compiled programs, against the kernel ------------------------------ */

static void test_raw_tp_objdiff(void)
{
	uint64_t a[6][12] = {
		{0x1122334455667788ull, 39}, {0x1122334455667788ull, 39}, {0xfffffffe00000001ull, 0},
		{0x00000005deadbeefull, 257}, {7, 0x1ff, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 2},
	};
	struct objdiff_case c[] = {
		{.name = "getpid", .ctx = a[0], .ctx_len = 16},
		{.name = "getpid again", .ctx = a[1], .ctx_len = 16},
		{.name = "read", .ctx = a[2], .ctx_len = 16},
		{.name = "id 257", .ctx = a[3], .ctx_len = 20},
		{.name = "12 args", .ctx = a[4], .ctx_len = 96},
		{.name = "args[1] missing", .ctx = a[5], .ctx_len = 8},
		{.name = "13 args", .ctx = a[4], .ctx_len = 104},
		{.name = "no ctx"},
	};
	struct objdiff d = {.path = TRACING_OBJ, .prog = "raw_count"};
	struct objdiff_result res[8];
	int engines = objdiff_check(&d, c, 8, res);
	CHECK(engines >= 2, "raw_count: objdiff");
	if (engines < 2)
		return;
	/* (id & 0xff) + the high half of args[0] */
	CHECK(res[0].err == 0 && res[0].retval == 39 + 0x11223344, "getpid: %d %u", res[0].err,
	      res[0].retval);
	CHECK(res[2].err == 0 && res[2].retval == 0xfffffffe, "read: %u", res[2].retval);
	CHECK(res[3].err == 0 && res[3].retval == 1 + 5, "id 257: %u", res[3].retval);
	CHECK(res[4].err == 0 && res[4].retval == 0xff, "12 args: %u", res[4].retval);
	CHECK(res[0].ctx_len == 0, "raw_tp ctx_out: %u bytes", res[0].ctx_len);
	CHECK(res[5].err == -EINVAL && res[6].err == -EINVAL && res[7].err == -EINVAL,
	      "short / long / no ctx: %d %d %d", res[5].err, res[6].err, res[7].err);
}

struct calc_args {
	uint64_t a, b;
	uint32_t op, status;
	int64_t result;
	uint64_t calls;
	uint8_t tag[4], out_tag[4];
};

static void check_totals(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const int64_t *want = arg;
	struct visor_map *m = objdiff_map(obj, maps, "totals");
	CHECK(m != NULL, "no map totals");
	for (uint32_t k = 0; m && k < 4; k++) {
		int64_t v = 0;
		CHECK(visor_map_lookup(m, &k, &v) == 0 && v == want[k], "totals[%u] = %lld, want %lld", k,
		      (long long)v, (long long)want[k]);
	}
}

static void test_syscall_objdiff(void)
{
	struct calc_args in[7] = {
		{.a = 40, .b = 2, .op = 0, .tag = "abcd"},
		{.a = 1ull << 40, .b = 3, .op = 1, .tag = "wxyz"},
		{.a = 5, .b = 9, .op = 2, .tag = {1, 2, 3, 4}},
		{.a = 100, .b = 7, .op = 3},
		{.a = 1, .b = 0, .op = 3},
		{.a = 1, .b = 1, .op = 9},
		{.a = 2, .b = 2, .op = 0},
	};
	struct objdiff_case c[] = {
		{.name = "add", .ctx = &in[0], .ctx_len = sizeof(in[0])},
		{.name = "multiply", .ctx = &in[1], .ctx_len = sizeof(in[1])},
		{.name = "subtract", .ctx = &in[2], .ctx_len = sizeof(in[2])},
		{.name = "divide", .ctx = &in[3], .ctx_len = sizeof(in[3])},
		{.name = "divide by 0", .ctx = &in[4], .ctx_len = sizeof(in[4])},
		{.name = "unknown op", .ctx = &in[5], .ctx_len = sizeof(in[5])},
		{.name = "short ctx", .ctx = &in[6], .ctx_len = sizeof(in[6]) - 4},
	};
	int64_t totals[4] = {42, 3ll << 40, -4, 14};
	struct objdiff d = {.path = SYSCALL_OBJ, .prog = "calc", .check_maps = check_totals,
			    .check_arg = totals};
	struct objdiff_result res[7];
	int engines = objdiff_check(&d, c, 7, res);
	CHECK(engines >= 2, "calc: objdiff");
	if (engines < 2)
		return;
	struct calc_args out[6];
	for (int i = 0; i < 6; i++) {
		CHECK(res[i].err == 0 && res[i].ctx_len == sizeof(out[i]), "case %d: %d, %u bytes", i,
		      res[i].err, res[i].ctx_len);
		memcpy(&out[i], res[i].ctx, sizeof(out[i]));
		CHECK(out[i].calls == (uint64_t)i + 1, "case %d: calls %llu", i,
		      (unsigned long long)out[i].calls);
	}
	CHECK(res[0].retval == 0 && out[0].result == 42 && !memcmp(out[0].out_tag, "dcba", 4),
	      "add: %lld", (long long)out[0].result);
	CHECK(out[1].result == 3ll << 40, "multiply: %lld", (long long)out[1].result);
	CHECK(out[2].result == -4 && out[2].out_tag[0] == 4, "subtract: %lld", (long long)out[2].result);
	CHECK(out[3].result == 14, "divide: %lld", (long long)out[3].result);
	CHECK(res[4].retval == 2 && out[4].status == 2, "divide by 0: %u", res[4].retval);
	CHECK(res[5].retval == 1 && out[5].status == 1 && out[5].a == 1, "unknown op: %u",
	      res[5].retval);
	CHECK(res[6].err == -EINVAL, "short ctx: %d", res[6].err);
}

/* ---- compiled programs the kernel cannot test-run ----------------------- */

/* Loads prog of the tracing object with its maps; NULL on failure. */
static struct visor_vm *load_obj_prog(const char *path, const char *name, struct visor_obj **obj,
				      struct visor_map ***maps, size_t *nmaps)
{
	char err[512];
	*obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(*obj != NULL, "open %s: %s", path, err);
	if (!*obj)
		return NULL;
	struct visor_obj_prog *p = visor_obj_find_prog(*obj, name);
	struct visor_vm *vm = visor_vm_create();
	int rc = !p || visor_obj_maps_create(*obj, maps, nmaps, err, sizeof(err)) ||
		 visor_obj_prog_load_vm(vm, p, *maps, *nmaps, err, sizeof(err));
	CHECK(!rc, "load %s: %s", name, err);
	if (rc) {
		visor_vm_destroy(vm);
		return NULL;
	}
	return vm;
}

static uint64_t seen_slot(struct visor_obj *obj, struct visor_map **maps, uint32_t slot)
{
	uint64_t v = 0;
	int i = visor_obj_find_map(obj, "seen");
	if (i >= 0)
		visor_map_lookup(maps[i], &slot, &v);
	return v;
}

static void run_tracing_prog(const char *name, int engine)
{
	struct visor_obj *obj = NULL;
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	struct visor_vm *vm = load_obj_prog(TRACING_OBJ, name, &obj, &maps, &nmaps);
	if (!vm)
		goto out;
	if (engine == VISOR_ENGINE_JIT &&
	    (!visor_vm_jit_supported() || visor_vm_jit_compile(vm, 0)))
		goto out;
	char err[512] = "";
	if (!strcmp(name, "tp_openat")) {
		/* common fields, nr 257, dfd -100 (AT_FDCWD), filename, flags O_RDWR|O_CREAT, mode */
		uint64_t rec[7] = {0x1234, 257, (uint64_t)-100, 0x7fff0000, 0102, 0644};
		VISOR_OPTS(visor_prog_test_run_opts, o, .ctx_in = rec, .ctx_size_in = 48,
			   .repeat = 3, .engine = engine, .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 2, "tp_openat: %u %s", o.retval, err);
		CHECK(seen_slot(obj, maps, 1) == 257 && seen_slot(obj, maps, 2) == (uint64_t)-100 &&
			      seen_slot(obj, maps, 3) == 0102,
		      "tp_openat fields");
		o.ctx_size_in = 36; /* flags is bytes 32..39 */
		CHECK(visor_prog_test_run(vm, &o) == -EINVAL && strstr(err, "up to byte 40"),
		      "tp_openat short record: %s", err);
	} else if (!strcmp(name, "kp_openat")) {
		struct visor_pt_regs regs = {.di = (uint64_t)-100, .si = 0x7fff1000, .dx = 0x55,
					     .ip = 0xffffffff81000000ull};
		VISOR_OPTS(visor_prog_test_run_opts, o, .ctx_in = &regs, .ctx_size_in = sizeof(regs),
			   .engine = engine, .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 0x55, "kp_openat: %u %s", o.retval,
		      err);
		CHECK(seen_slot(obj, maps, 4) == (uint64_t)-100 && seen_slot(obj, maps, 5) == 0x7fff1000 &&
			      seen_slot(obj, maps, 6) == 0xffffffff81000000ull,
		      "kp_openat registers");
		/* A shorter ctx_in is zero-padded to the whole struct pt_regs. */
		o.ctx_size_in = 8;
		CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 0 && seen_slot(obj, maps, 4) == 0,
		      "kp_openat padded: %u %s", o.retval, err);
		o.ctx_size_in = 176;
		CHECK(visor_prog_test_run(vm, &o) == -EINVAL, "kp_openat ctx_in > pt_regs: %s", err);
	} else {
		uint64_t args[2] = {0xffff888000001000ull, 59};
		VISOR_OPTS(visor_prog_test_run_opts, o, .ctx_in = args, .ctx_size_in = 16,
			   .repeat = 2, .engine = engine, .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 59, "btf_count: %u %s", o.retval,
		      err);
		uint64_t key = 59, v = 0;
		int i = visor_obj_find_map(obj, "ids");
		CHECK(i >= 0 && visor_map_lookup(maps[i], &key, &v) == 0 && v == 2, "btf_count ids[59] %llu",
		      (unsigned long long)v);
	}
out:
	visor_vm_destroy(vm);
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
}

/* ---- test-run argument rules -------------------------------------------- */

static void test_run_rules(void)
{
	struct visor_vm *vm;
	char msg[512];
	/* r0 = *(u64 *)(r1 + 8); exit */
	struct visor_insn p[] = {INSN(0x79, 0, 1, 8, 0), INSN(0x95, 0, 0, 0, 0)};
	CHECK(vload(VISOR_VM_PROG_RAW_TRACEPOINT, p, 2, msg, sizeof(msg), &vm) == 0, "load: %s", msg);
	uint64_t args[13] = {1, 0x1234};
	uint8_t data[64] = {0}, out[128];
	char err[512];
	VISOR_OPTS(visor_prog_test_run_opts, o, .ctx_in = args, .ctx_size_in = 16, .errbuf = err,
		   .errbuf_len = sizeof(err));
	CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 0x1234, "raw_tp: %s", err);
	o.repeat = 1; /* the kernel refuses even 1; visor's opts say 0 means 1 */
	CHECK(visor_prog_test_run(vm, &o) == 0, "raw_tp repeat 1: %s", err);
	o.repeat = 2;
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL && strstr(err, "repeat"), "raw_tp repeat 2: %s", err);
	o.repeat = 0, o.data_in = data, o.data_size_in = 14;
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL && strstr(err, "no data_in"), "raw_tp data_in: %s",
	      err);
	o.data_in = NULL, o.data_size_in = 0, o.ctx_size_in = 12;
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL && strstr(err, "up to byte 16"),
	      "raw_tp short ctx: %s", err);
	o.ctx_size_in = 20; /* not a multiple of 8: the kernel takes it too */
	CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 0x1234, "raw_tp ctx 20: %s", err);
	o.ctx_size_in = 104;
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL && strstr(err, "at most 96"), "raw_tp 13 args: %s",
	      err);
	o.ctx_size_in = 16, o.ctx_out = out, o.ctx_size_out = sizeof(out);
	CHECK(visor_prog_test_run(vm, &o) == 0 && o.ctx_size_out == 0, "raw_tp ctx_out: %u",
	      o.ctx_size_out);
	visor_vm_destroy(vm);

	/* syscall: *(u64 *)(r1 + 8) += 1 through a load and a store; r0 = 7 */
	struct visor_insn s[] = {INSN(0x79, 2, 1, 8, 0), INSN(0x07, 2, 0, 0, 1), INSN(0x7b, 1, 2, 8, 0),
				 INSN(0xb7, 0, 0, 0, 7), INSN(0x95, 0, 0, 0, 0)};
	for (int e = 0; e < 2; e++) {
		CHECK(vload(VISOR_VM_PROG_SYSCALL, s, 5, msg, sizeof(msg), &vm) == 0, "load: %s", msg);
		if (e && (!visor_vm_jit_supported() || visor_vm_jit_compile(vm, 0))) {
			visor_vm_destroy(vm);
			break;
		}
		uint64_t buf[3] = {5, 41, 9}, back[3] = {0};
		VISOR_OPTS(visor_prog_test_run_opts, so, .ctx_in = buf, .ctx_size_in = 24, .ctx_out = back,
			   .ctx_size_out = 24, .engine = e ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP,
			   .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &so) == 0 && so.retval == 7 && back[0] == 5 &&
			      back[1] == 42 && back[2] == 9 && buf[1] == 41 && so.ctx_size_out == 24,
		      "syscall engine %d: %llu %s", e, (unsigned long long)back[1], err);
		so.ctx_size_out = 8;
		CHECK(visor_prog_test_run(vm, &so) == -ENOSPC && so.ctx_size_out == 24, "syscall short ctx_out");
		so.ctx_size_in = 65536, so.ctx_size_out = 24;
		CHECK(visor_prog_test_run(vm, &so) == -EINVAL, "syscall ctx 65536: %s", err);
		visor_vm_destroy(vm);
	}
}

int main(void)
{
	test_rule_messages();
	test_rules_kernel();
	test_helpers_kernel();
	test_run_rules();
	static const char *const progs[] = {"tp_openat", "kp_openat", "btf_count"};
	for (int i = 0; i < 3; i++) {
		run_tracing_prog(progs[i], VISOR_ENGINE_INTERP);
		run_tracing_prog(progs[i], VISOR_ENGINE_JIT);
	}
	test_raw_tp_objdiff();
	test_syscall_objdiff();
	return test_summary("test_runtime_tracing");
}
