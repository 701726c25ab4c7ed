/* bpf_tail_call on the visor engine, and the one-call object load that
 * wires prog arrays (visor_obj_vm_load): tests/progs/tailcall.bpf.c and
 * tailcall_edge.bpf.c in the interpreter and the JIT, expected values
 * checked, the same programs compared with the kernel (objdiff); prog
 * array updates by id, type and id refusals, the 33-call limit, empty and
 * out-of-range slots, budgets across a chain, tail calls from a
 * subprogram, lifetimes after destroy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "lib/objdiff.h"
#include "lib/packets.h"
#include "lib/testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define TAILCALL PROGS "tailcall.bpf.o"
#define EDGE PROGS "tailcall_edge.bpf.o"
#define MIXED PROGS "tailcall_mixed.bpf.o"

static const int engines[2] = {VISOR_ENGINE_INTERP, VISOR_ENGINE_JIT};
static const char *const engine_names[2] = {"interp", "jit"};

static uint8_t ipv4[128], ipv6[128], arp[64];
static size_t ipv4_len, ipv6_len, arp_len;

static void make_packets(void)
{
	uint8_t a[16], b[16];
	ipv4_len = pkt_udp4(ipv4, 0xc0000201, 0xc6336401, 1234, 53, "q", 1);
	pkt_addr6(a, 1);
	pkt_addr6(b, 2);
	ipv6_len = pkt_udp6(ipv6, a, b, 1234, 53, "q", 1);
	arp_len = pkt_eth_hdr(arp, 0x0806);
	memset(arp + arp_len, 0, 28);
	arp_len += 28;
}

static struct visor_obj *open_obj(const char *path)
{
	char err[256] = "";
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(obj != NULL, "open %s: %s", path, err);
	return obj;
}

/* Every program verified (the verifier must accept them), or with unsafe
 * those it refuses loaded in unsafe mode. */
static struct visor_obj_vm *load_mode(const struct visor_obj *obj, bool jit, bool unsafe)
{
	char err[512] = "";
	VISOR_OPTS(visor_obj_vm_opts, o, .jit = jit, .unsafe = unsafe);
	struct visor_obj_vm *ovm = visor_obj_vm_load(obj, &o, err, sizeof(err));
	CHECK(ovm != NULL, "visor_obj_vm_load: %s", err);
	return ovm;
}

static struct visor_obj_vm *load(const struct visor_obj *obj, bool jit)
{
	return load_mode(obj, jit, false);
}

/* One test run; returns its error, retval in *ret, the message in err. */
static int run(struct visor_vm *vm, const void *pkt, size_t len, int engine, uint64_t budget,
	       uint32_t *ret, char *err, size_t errlen)
{
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		   .engine = engine, .budget = budget, .errbuf = err, .errbuf_len = errlen);
	int rc = visor_prog_test_run(vm, &o);
	*ret = o.retval;
	return rc;
}

/* Offset of a global variable in its data section, from BTF as libbpf's
 * open fixes it up (the object's own DATASEC records carry no offsets). */
static long var_off(const char *path, const char *sec, const char *name)
{
	struct bpf_object *bo = bpf_object__open_file(path, NULL);
	const struct btf *btf = bo ? bpf_object__btf(bo) : NULL;
	int id = btf ? btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC) : -1;
	long off = -1;
	if (id >= 0) {
		const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
		const struct btf_var_secinfo *v = btf_var_secinfos(t);
		for (unsigned i = 0; i < btf_vlen(t) && off < 0; i++, v++)
			if (!strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off), name))
				off = v->offset;
	}
	bpf_object__close(bo);
	return off;
}

static uint64_t bss_read(const char *path, struct visor_obj_vm *ovm, const char *var, size_t size)
{
	uint8_t bss[256] = {0};
	uint32_t key = 0;
	struct visor_map *m = visor_obj_vm_map(ovm, ".bss");
	long off = var_off(path, ".bss", var);
	CHECK(m && off >= 0 && visor_map_lookup(m, &key, bss) == 0, ".bss variable %s", var);
	if (!m || off < 0)
		return UINT64_MAX;
	uint64_t v = 0;
	memcpy(&v, bss + off, size);
	return v;
}

static void bss_clear(struct visor_obj_vm *ovm)
{
	uint8_t zero[256] = {0};
	uint32_t key = 0;
	CHECK(visor_map_update(visor_obj_vm_map(ovm, ".bss"), &key, zero, VISOR_ANY) == 0,
	      "clear .bss");
}

/* tailcall.bpf.o: dispatch by EtherType, and 34 runs of tail_recurse. */
static void test_dispatch(void)
{
	struct visor_obj *obj = open_obj(TAILCALL);
	if (!obj)
		return;
	for (int e = 0; e < 2; e++) {
		struct visor_obj_vm *ovm = load(obj, e == 1);
		if (!ovm)
			continue;
		const char *en = engine_names[e];
		struct visor_vm *d = visor_obj_vm_prog(ovm, "xdp_dispatch");
		char err[256];
		uint32_t ret;
		CHECK(d != NULL, "%s: xdp_dispatch loaded", en);
		int rc = run(d, ipv4, ipv4_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_PASS, "%s: ipv4: %d %u %s", en, rc, ret, err);
		rc = run(d, ipv6, ipv6_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_DROP, "%s: ipv6: %d %u %s", en, rc, ret, err);
		rc = run(d, arp, arp_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_PASS, "%s: arp: %d %u %s", en, rc, ret, err);
		CHECK_EQ_U64(bss_read(TAILCALL, ovm, "ipv4_packets", 8), 1, "ipv4_packets");
		CHECK_EQ_U64(bss_read(TAILCALL, ovm, "ipv6_packets", 8), 1, "ipv6_packets");
		CHECK_EQ_U64(bss_read(TAILCALL, ovm, "other_packets", 8), 1, "other_packets");

		/* 33 tail calls: 34 runs, the last returns the depth. */
		struct visor_vm *r = visor_obj_vm_prog(ovm, "tail_recurse");
		rc = run(r, arp, arp_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == 34, "%s: tail_recurse: %d %u %s", en, rc, ret, err);
		CHECK_EQ_U64(bss_read(TAILCALL, ovm, "recurse_depth", 4), 34, "recurse_depth");
		/* repeat: every run starts a new chain with its own count. */
		bss_clear(ovm);
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = arp, .data_size_in = (uint32_t)arp_len,
			   .engine = engines[e], .repeat = 5);
		CHECK(visor_prog_test_run(r, &o) == 0 && o.retval == 170, "%s: repeat 5: retval %u",
		      en, o.retval);
		CHECK_EQ_U64(bss_read(TAILCALL, ovm, "recurse_depth", 4), 170, "recurse_depth after 5 runs");
		visor_obj_vm_destroy(ovm);
	}
	visor_obj_close(obj);
}

/* User space rewires slots by program id, as with prog fds in the kernel. */
static void test_update_by_id(void)
{
	struct visor_obj *obj = open_obj(TAILCALL);
	struct visor_obj *edge = open_obj(EDGE);
	if (!obj || !edge)
		goto out_close;
	struct visor_obj_vm *ovm = load(obj, true), *other = load(obj, false);
	struct visor_obj_vm *eovm = load(edge, false);
	if (!ovm || !other || !eovm)
		goto out;
	struct visor_map *jt = visor_obj_vm_map(ovm, "jump_table");
	struct visor_vm *d = visor_obj_vm_prog(ovm, "xdp_dispatch");
	uint32_t id4 = visor_obj_vm_prog_id(ovm, "tail_ipv4");
	uint32_t id6 = visor_obj_vm_prog_id(ovm, "tail_ipv6");
	uint32_t idr = visor_obj_vm_prog_id(ovm, "tail_recurse");
	CHECK(jt && d && id4 && id6 && idr && id4 != id6 && id6 != idr, "ids %u %u %u", id4, id6, idr);
	CHECK(visor_obj_vm_prog_id(other, "tail_ipv4") != id4, "ids are process-unique");
	CHECK(visor_obj_vm_prog_id(ovm, "nope") == 0 && visor_obj_vm_prog(ovm, "nope") == NULL &&
		      errno == ENOENT,
	      "unknown program");
	uint32_t k = 0, v = 0;
	CHECK(visor_map_lookup(jt, &k, &v) == 0 && v == id4, "slot 0 holds tail_ipv4's id (%u)", v);
	k = 3;
	CHECK(visor_map_lookup(jt, &k, &v) == -ENOENT, "slot 3 empty");

	char err[256];
	uint32_t ret;
	for (int e = 0; e < 2; e++) {
		k = 0;
		CHECK(visor_map_update(jt, &k, &id6, VISOR_ANY) == 0, "slot 0 = tail_ipv6: %s",
		      visor_map_errmsg(jt));
		int rc = run(d, ipv4, ipv4_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_DROP, "%s: ipv4 now goes to tail_ipv6: %d %u %s",
		      engine_names[e], rc, ret, err);
		CHECK(visor_map_delete(jt, &k) == 0, "delete slot 0");
		rc = run(d, ipv4, ipv4_len, engines[e], 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_PASS, "%s: empty slot falls through: %d %u %s",
		      engine_names[e], rc, ret, err);
		CHECK(visor_map_update(jt, &k, &id4, VISOR_ANY) == 0, "slot 0 = tail_ipv4 again");
	}
	CHECK_EQ_U64(bss_read(TAILCALL, ovm, "ipv6_packets", 8), 2, "ipv6_packets");
	CHECK_EQ_U64(bss_read(TAILCALL, ovm, "other_packets", 8), 2, "other_packets");

	/* The kernel's answers: a bad fd is -EBADF, another type -EINVAL,
	 * an index past the end -E2BIG, flags other than ANY -EINVAL. */
	uint32_t bogus = 0x7ffffff0, foreign = visor_obj_vm_prog_id(other, "tail_ipv4");
	k = 1;
	CHECK(visor_map_update(jt, &k, &bogus, VISOR_ANY) == -EBADF, "unknown id: %s",
	      visor_map_errmsg(jt));
	CHECK(visor_map_update(jt, &k, &foreign, VISOR_ANY) == -EBADF,
	      "another object's program: %s", visor_map_errmsg(jt));
	k = 4;
	CHECK(visor_map_update(jt, &k, &id4, VISOR_ANY) == -E2BIG, "index 4 of 4");
	k = 1;
	CHECK(visor_map_update(jt, &k, &id4, VISOR_NOEXIST) == -EINVAL, "NOEXIST");
	CHECK(visor_map_lookup(jt, &k, &v) == 0 && v == id6, "slot 1 unchanged by the refusals");

	struct visor_map *et = visor_obj_vm_map(eovm, "edge_table");
	uint32_t tc = visor_obj_vm_prog_id(eovm, "edge_tc");
	uint32_t tgt = visor_obj_vm_prog_id(eovm, "edge_target");
	k = 2;
	CHECK(et && tc && visor_map_update(et, &k, &tc, VISOR_ANY) == -EINVAL,
	      "a tc program into an XDP prog array: %s", et ? visor_map_errmsg(et) : "");
	CHECK(visor_map_update(et, &k, &tgt, VISOR_ANY) == 0, "an XDP one fits");
out:
	visor_obj_vm_destroy(ovm);
	visor_obj_vm_destroy(other);
	visor_obj_vm_destroy(eovm);
out_close:
	visor_obj_close(obj);
	visor_obj_close(edge);
}

/* A program using a prog array another type owns does not load. */
static void test_mixed_types(void)
{
	struct visor_obj *obj = open_obj(MIXED);
	if (!obj)
		return;
	struct visor_obj_vm *ovm = load(obj, false);
	const char *why = NULL;
	CHECK(ovm && visor_obj_vm_prog_status(ovm, "mixed_xdp", &why) == 0, "mixed_xdp loads");
	CHECK(ovm && visor_obj_vm_prog_status(ovm, "mixed_tc", &why) == -EINVAL &&
		      strstr(why, "prog array 'mixed_table' belongs to xdp programs"),
	      "mixed_tc refused: %s", why ? why : "");
	CHECK(ovm && visor_obj_vm_prog(ovm, "mixed_tc") == NULL && errno == EINVAL,
	      "no VM for mixed_tc");
	visor_obj_vm_destroy(ovm);
	char err[256] = "";
	VISOR_OPTS(visor_obj_vm_opts, o, .require_all = true);
	ovm = visor_obj_vm_load(obj, &o, err, sizeof(err));
	CHECK(!ovm && errno == EINVAL && strstr(err, "mixed_tc"), "require_all: %s", err);
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
}

/* The corners, on visor alone (the kernel comparison is below). */
static void test_edges(void)
{
	struct visor_obj *obj = open_obj(EDGE);
	if (!obj)
		return;
	static const struct {
		const char *prog;
		uint32_t ret, target_runs;
	} want[] = {
		{"edge_empty_33", VISOR_XDP_TX, 1},
		{"edge_empty_32", VISOR_XDP_TX, 1},
		{"edge_out_of_range", VISOR_XDP_TX, 1},
	};
	for (int e = 0; e < 2; e++) {
		struct visor_obj_vm *ovm = load(obj, e == 1);
		if (!ovm)
			continue;
		char err[256];
		uint32_t ret;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			bss_clear(ovm);
			int rc = run(visor_obj_vm_prog(ovm, want[i].prog), arp, arp_len, engines[e], 0,
				     &ret, err, sizeof(err));
			CHECK(rc == 0 && ret == want[i].ret, "%s %s: %d ret %u %s", engine_names[e],
			      want[i].prog, rc, ret, err);
			CHECK_EQ_U64(bss_read(EDGE, ovm, "target_runs", 4), want[i].target_runs,
				     want[i].prog);
		}
		/* From a subprogram: the verifier refuses it (the visor engine
		 * does not support it) ... */
		const char *why = NULL;
		CHECK(visor_obj_vm_prog_status(ovm, "edge_from_subprog", &why) == -EACCES && why &&
			      strstr(why, "not supported by the visor engine") &&
			      strstr(why, "tailcall_edge.bpf.c:"),
		      "%s: from a subprogram, verifier: %s", engine_names[e], why ? why : "");
		visor_obj_vm_destroy(ovm);
		/* ... and in unsafe mode the helper refuses it, naming the call. */
		ovm = load_mode(obj, e == 1, true);
		if (!ovm)
			continue;
		int rc = run(visor_obj_vm_prog(ovm, "edge_from_subprog"), arp, arp_len, engines[e], 0,
			     &ret, err, sizeof(err));
		CHECK(rc == -EOPNOTSUPP &&
			      strstr(err, "helper bpf_tail_call: tail call from a subprogram (call depth 1) is not supported"),
		      "%s: from a subprogram: %d %s", engine_names[e], rc, err);
		CHECK(strncmp(err, "insn ", 5) == 0, "the message names the instruction: %s", err);
		visor_obj_vm_destroy(ovm);
	}
	visor_obj_close(obj);
}

/* The smallest budget with which the interpreter runs the chain. */
static uint64_t min_budget(struct visor_vm *vm, const void *pkt, size_t len)
{
	uint64_t lo = 1, hi = 1000000;
	char err[256];
	uint32_t ret;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (run(vm, pkt, len, VISOR_ENGINE_INTERP, mid, &ret, err, sizeof(err)) == 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The budget goes on across the chain, and insns_executed counts it all. */
static void test_budget(void)
{
	struct visor_obj *obj = open_obj(TAILCALL);
	if (!obj)
		return;
	struct visor_obj_vm *ovm = load(obj, true);
	if (!ovm) {
		visor_obj_close(obj);
		return;
	}
	struct visor_vm *d = visor_obj_vm_prog(ovm, "xdp_dispatch");
	struct visor_vm *r = visor_obj_vm_prog(ovm, "tail_recurse");
	char err[256];
	uint32_t ret;
	/* The whole chain's count: the smallest budget that passes. */
	struct visor_vm *vms[2] = {d, r};
	uint64_t total[2] = {min_budget(d, ipv4, ipv4_len), min_budget(r, arp, arp_len)};
	/* xdp_dispatch + tail_ipv4 is a handful of instructions; 34 runs of
	 * tail_recurse at least 34 times more than one. */
	CHECK(total[0] > 10 && total[0] < 100, "dispatch chain: %llu", (unsigned long long)total[0]);
	CHECK(total[1] > 34 * 5, "recursion chain: %llu", (unsigned long long)total[1]);
	for (int e = 0; e < 2; e++) {
		for (int p = 0; p < 2; p++) {
			const void *pkt = p ? arp : ipv4;
			size_t len = p ? arp_len : ipv4_len;
			int rc = run(vms[p], pkt, len, engines[e], total[p], &ret, err, sizeof(err));
			CHECK(rc == 0, "%s: budget %llu passes: %s", engine_names[e],
			      (unsigned long long)total[p], err);
			rc = run(vms[p], pkt, len, engines[e], total[p] - 1, &ret, err, sizeof(err));
			CHECK(rc == -E2BIG && strstr(err, "after tail call ") &&
				      strstr(err, "instruction budget"),
			      "%s: budget %llu fails in a target: %d %s", engine_names[e],
			      (unsigned long long)(total[p] - 1), rc, err);
		}
	}
	/* A budget that ends exactly at the tail call: the target's first
	 * instruction is the one too many. Dispatch runs up to its call,
	 * then tail_ipv4's instructions: find the call's count. */
	uint64_t first = 0;
	for (uint64_t b = 1; b < total[0]; b++) {
		int rc = run(d, ipv4, ipv4_len, VISOR_ENGINE_INTERP, b, &ret, err, sizeof(err));
		if (rc == -E2BIG && strstr(err, "after tail call 1: insn 0:")) {
			first = b;
			break;
		}
	}
	CHECK(first > 0, "a budget stops at the target's first instruction");
	for (int e = 0; first && e < 2; e++) {
		int rc = run(d, ipv4, ipv4_len, engines[e], first, &ret, err, sizeof(err));
		CHECK(rc == -E2BIG && strstr(err, "after tail call 1: insn 0: instruction budget of"),
		      "%s: budget %llu: %s", engine_names[e], (unsigned long long)first, err);
	}
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
}

/* VISOR_ENGINE_AUTO mixes engines along a chain; VISOR_ENGINE_JIT needs
 * every target compiled. */
static void test_engines(void)
{
	struct visor_obj *obj = open_obj(TAILCALL);
	struct visor_obj_vm *ovm = obj ? load(obj, false) : NULL;
	if (!ovm) {
		visor_obj_close(obj);
		return;
	}
	struct visor_vm *d = visor_obj_vm_prog(ovm, "xdp_dispatch");
	CHECK(visor_vm_jit_compile(d, 0) == 0, "compile dispatch: %s", visor_vm_errmsg(d));
	char err[256];
	uint32_t ret;
	int rc = run(d, ipv6, ipv6_len, VISOR_ENGINE_AUTO, 0, &ret, err, sizeof(err));
	CHECK(rc == 0 && ret == VISOR_XDP_DROP, "auto: jit then interpreter: %d %u %s", rc, ret, err);
	rc = run(d, ipv6, ipv6_len, VISOR_ENGINE_JIT, 0, &ret, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "helper bpf_tail_call: slot 1: the target is not JIT-compiled"),
	      "jit: target not compiled: %d %s", rc, err);
	/* Without errbuf the message lands in the first program's VM. */
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = ipv6, .data_size_in = (uint32_t)ipv6_len,
		   .engine = VISOR_ENGINE_INTERP, .budget = min_budget(d, ipv6, ipv6_len) - 1);
	rc = visor_prog_test_run(d, &o);
	CHECK(rc == -E2BIG && strstr(visor_vm_errmsg(d), "after tail call 1: "),
	      "errmsg of the first VM: %d %s", rc, visor_vm_errmsg(d));
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
}

/* The helper on plain visor_vm_exec, with references stored by hand. */
static void test_exec_by_hand(void)
{
	/* target: r0 = *(u8 *)(r1 + 0); exit */
	struct visor_insn target_prog[] = {
		{.code = VISOR_CLS_LDX | VISOR_MODE_MEM | VISOR_SIZE_B, .dst = 0, .src = 1},
		{.code = VISOR_CLS_JMP | VISOR_JMP_EXIT},
	};
	/* r2 = map 0; r3 = 1; call 12; r0 = 99; exit */
	struct visor_insn caller_prog[] = {
		{.code = VISOR_OPCODE_LDDW, .dst = 2, .src = VISOR_LDDW_MAP_IDX, .imm = 0},
		{0},
		{.code = VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, .dst = 3, .imm = 1},
		{.code = VISOR_CLS_JMP | VISOR_JMP_CALL, .imm = 12},
		{.code = VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, .dst = 0, .imm = 99},
		{.code = VISOR_CLS_JMP | VISOR_JMP_EXIT},
	};
	struct visor_map *pa = NULL;
	VISOR_OPTS(visor_map_create_opts, mo, .type = VISOR_MAP_TYPE_PROG_ARRAY, .key_size = 4,
		   .value_size = 4, .max_entries = 2);
	CHECK(visor_map_create(&mo, &pa) == 0, "prog array");
	struct visor_vm *caller = visor_vm_create(), *target = visor_vm_create();
	struct visor_vm *typed = visor_vm_create();
	CHECK(visor_vm_set_maps(caller, &pa, 1) == 0 && visor_vm_register_linux_helpers(caller) == 0 &&
		      visor_vm_load(caller, caller_prog, 6) == 0,
	      "caller: %s", visor_vm_errmsg(caller));
	CHECK(visor_vm_load(target, target_prog, 2) == 0, "target: %s", visor_vm_errmsg(target));
	/* Untyped programs: r1 = the 4 bytes of mem. */
	VISOR_OPTS(visor_verify_opts, vo, .ctx_size = 4);
	CHECK(visor_verify_vm(caller, &vo) == 0, "caller: verifier: %s", vo.errmsg);
	vo = (struct visor_verify_opts){.sz = sizeof(vo), .ctx_size = 4};
	CHECK(visor_verify_vm(target, &vo) == 0, "target: verifier: %s", vo.errmsg);
	CHECK(visor_vm_jit_compile(caller, 0) == 0 && visor_vm_jit_compile(target, 0) == 0, "jit");
	uint8_t mem[4] = {42};
	uint64_t r0 = 0;
	for (int e = 0; e < 2; e++) {
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = sizeof(mem),
			   .engine = engines[e]);
		CHECK(visor_vm_exec(caller, &o, &r0) == 0 && r0 == 99, "%s: empty slot: %llu",
		      engine_names[e], (unsigned long long)r0);
	}
	uint32_t k = 1;
	CHECK(visor_map_update_ref(pa, &k, target, 7, VISOR_ANY) == 0, "store by hand");
	for (int e = 0; e < 2; e++) {
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = sizeof(mem),
			   .engine = engines[e], .budget = 100);
		CHECK(visor_vm_exec(caller, &o, &r0) == 0 && r0 == 42, "%s: target ran: %llu",
		      engine_names[e], (unsigned long long)r0);
		CHECK(o.insns_executed == 3 + 2, "%s: insns_executed %llu over the chain",
		      engine_names[e], (unsigned long long)o.insns_executed);
	}
	/* A reference of another program type, stored behind the checks'
	 * back: the helper refuses it. */
	struct visor_insn ret5[] = {
		{.code = VISOR_CLS_ALU64 | VISOR_ALU_MOV | VISOR_SRC_K, .dst = 0, .imm = 5},
		{.code = VISOR_CLS_JMP | VISOR_JMP_EXIT},
	};
	CHECK(visor_vm_set_prog_type(typed, VISOR_VM_PROG_XDP) == 0 &&
		      visor_vm_load(typed, ret5, 2) == 0,
	      "typed target");
	vo = (struct visor_verify_opts){.sz = sizeof(vo)};
	CHECK(visor_verify_vm(typed, &vo) == 0, "typed target: verifier: %s", vo.errmsg);
	CHECK(visor_map_update_ref(pa, &k, typed, 8, VISOR_ANY) == 0, "store typed");
	visor_map_synchronize(); /* no run sees the old slot: nothing to wait for */
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = sizeof(mem));
	int rc = visor_vm_exec(caller, &o, &r0);
	CHECK(rc == -EINVAL && strstr(visor_vm_errmsg(caller), "slot 1 holds a program of type 6, the caller's type is 0"),
	      "type refused at run time: %d %s", rc, visor_vm_errmsg(caller));
	/* An unverified target (not in unsafe mode) never runs. */
	struct visor_vm *raw = visor_vm_create();
	CHECK(visor_vm_load(raw, ret5, 2) == 0, "unverified target");
	CHECK(visor_map_update_ref(pa, &k, raw, 9, VISOR_ANY) == 0, "store unverified");
	visor_map_synchronize();
	for (int e = 0; e < 2; e++) {
		o.engine = engines[e];
		rc = visor_vm_exec(caller, &o, &r0);
		CHECK(rc < 0 && strstr(visor_vm_errmsg(caller), "not verified"),
		      "%s: unverified target refused at run time: %d %s", engine_names[e], rc,
		      visor_vm_errmsg(caller));
	}
	uint32_t k0 = 1;
	visor_map_delete(pa, &k0);
	visor_map_synchronize();
	visor_vm_destroy(raw);
	visor_vm_destroy(caller);
	visor_map_destroy(pa);
	visor_vm_destroy(target);
	visor_vm_destroy(typed);
}

/* A prog array kept past the object's destroy is empty and resolves
 * nothing more (ASan: nothing freed early, nothing leaked). */
static void test_lifetime(void)
{
	struct visor_obj *obj = open_obj(TAILCALL);
	struct visor_obj_vm *ovm = obj ? load(obj, true) : NULL;
	if (!ovm) {
		visor_obj_close(obj);
		return;
	}
	struct visor_map *jt = visor_map_get(visor_obj_vm_map(ovm, "jump_table"));
	uint32_t id = visor_obj_vm_prog_id(ovm, "tail_ipv4"), k = 0, v;
	/* A replaced slot's program stays until the grace period is over. */
	uint32_t id6 = visor_obj_vm_prog_id(ovm, "tail_ipv6");
	CHECK(visor_map_update(jt, &k, &id6, VISOR_ANY) == 0, "replace slot 0");
	visor_obj_vm_destroy(ovm);
	CHECK(visor_map_lookup(jt, &k, &v) == -ENOENT, "emptied on destroy");
	CHECK(visor_map_update(jt, &k, &id, VISOR_ANY) == -EBADF, "ids of a destroyed object");
	visor_map_put(jt);
	visor_obj_close(obj);
	/* The object may be closed right after loading. */
	obj = open_obj(TAILCALL);
	ovm = obj ? load(obj, false) : NULL;
	visor_obj_close(obj);
	if (ovm) {
		char err[256];
		uint32_t ret;
		int rc = run(visor_obj_vm_prog(ovm, "xdp_dispatch"), ipv6, ipv6_len,
			     VISOR_ENGINE_INTERP, 0, &ret, err, sizeof(err));
		CHECK(rc == 0 && ret == VISOR_XDP_DROP, "after close: %d %u %s", rc, ret, err);
		visor_obj_vm_destroy(ovm);
	}
}

/* ---- against the kernel ------------------------------------------------ */

static void recurse_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	uint8_t bss[64] = {0};
	uint32_t key = 0;
	long off = var_off(TAILCALL, ".bss", "recurse_depth");
	struct visor_map *m = objdiff_map(obj, maps, ".bss");
	CHECK(m && off >= 0 && visor_map_lookup(m, &key, bss) == 0, ".bss");
	uint32_t depth = 0;
	if (off >= 0)
		memcpy(&depth, bss + off, 4);
	CHECK(depth == 34 * 2, "recurse_depth after two runs: %u", depth);
}

static void test_kernel(void)
{
	struct objdiff_case dispatch[] = {
		{.name = "ipv4", .data = ipv4, .data_len = (uint32_t)ipv4_len},
		{.name = "ipv6", .data = ipv6, .data_len = (uint32_t)ipv6_len},
		{.name = "arp", .data = arp, .data_len = (uint32_t)arp_len},
		{.name = "ipv4 x3", .data = ipv4, .data_len = (uint32_t)ipv4_len, .repeat = 3},
		{.name = "bare ethernet", .data = arp, .data_len = 14},
	};
	struct objdiff_result res[5];
	struct objdiff d = {.path = TAILCALL, .prog = "xdp_dispatch"};
	int engines_compared = objdiff_check(&d, dispatch, 5, res);
	static const uint32_t want[5] = {VISOR_XDP_PASS, VISOR_XDP_DROP, VISOR_XDP_PASS,
					 VISOR_XDP_PASS, VISOR_XDP_PASS};
	for (int i = 0; i < 5 && engines_compared > 0; i++)
		CHECK(res[i].err == 0 && res[i].retval == want[i], "dispatch %s: %d %u",
		      dispatch[i].name, res[i].err, res[i].retval);

	struct objdiff_case rec[] = {
		{.name = "first", .data = arp, .data_len = (uint32_t)arp_len},
		{.name = "second", .data = ipv4, .data_len = (uint32_t)ipv4_len},
	};
	struct objdiff r = {.path = TAILCALL, .prog = "tail_recurse", .check_maps = recurse_maps};
	objdiff_check(&r, rec, 2, res);
	CHECK(res[0].retval == 34 && res[1].retval == 68, "tail_recurse: %u %u", res[0].retval,
	      res[1].retval);

	static const struct {
		const char *prog;
		uint32_t ret;
	} edges[] = {
		{"edge_empty_33", VISOR_XDP_TX},
		{"edge_empty_32", VISOR_XDP_TX},
		{"edge_out_of_range", VISOR_XDP_TX},
	};
	struct objdiff_case one = {.name = "arp", .data = arp, .data_len = (uint32_t)arp_len};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		struct objdiff e = {.path = EDGE, .prog = edges[i].prog};
		objdiff_check(&e, &one, 1, res);
		CHECK(res[0].err == 0 && res[0].retval == edges[i].ret, "%s: %d %u", edges[i].prog,
		      res[0].err, res[0].retval);
	}
}

int main(void)
{
	make_packets();
	test_dispatch();
	test_update_by_id();
	test_mixed_types();
	test_edges();
	test_budget();
	test_engines();
	test_exec_by_hand();
	test_lifetime();
	test_kernel(); /* objdiff prints the SKIP line when the kernel cannot run it */
	return test_summary("test_runtime_tailcall");
}
