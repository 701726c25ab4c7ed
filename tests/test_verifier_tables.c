/* The two tables the verifier shares with the VM:
 *  - the helper prototypes (src/verifier/helper_protos.c): one for every
 *    helper visor_vm_register_linux_helpers registers and none for another
 *    id, each well formed, a few compared field by field with the kernel's
 *    struct bpf_func_proto;
 *  - the context rules (visor_vm_ctx_access, src/vm/ctx_access.c): verdicts
 *    of representative accesses of every type, and the same verdict and
 *    reason as visor_vm_load gives for every small access near the context
 *    (the load-time rewrite uses the same rules), plus the helper allowlist
 *    and names the verifier reads from the VM. */
#include <errno.h>
#include <string.h>

#include <visor/visor.h>

#include "../src/verifier/helper_protos.h"
#include "testutil.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

/* Helpers visor registers but the verifier deliberately does not know (a
 * call is then refused), with the reason. None today: every registered
 * helper takes only kinds the verifier can check. */
static const struct {
	uint32_t id;
	const char *why;
} left_out[] = {{0, NULL}};

static bool is_left_out(uint32_t id)
{
	for (size_t i = 0; i < NELEM(left_out); i++)
		if (left_out[i].why && left_out[i].id == id)
			return true;
	return false;
}

static bool is_mem(uint8_t k)
{
	return k == VARG_MEM || k == VARG_MEM_OR_NULL || k == VARG_UNINIT_MEM;
}

/* The shape rules the verifier relies on. */
static void check_well_formed(const struct visor_helper_proto *p)
{
	const char *n = p->name;
	bool ended = false, has_func = false;
	for (int i = 0; i < 5; i++) {
		uint8_t k = p->args[i];
		CHECK(k <= VARG_FIXED_MEM, "%s arg %d: kind %u", n, i + 1, k);
		CHECK(!ended || k == VARG_NONE, "%s arg %d after a missing one", n, i + 1);
		ended |= k == VARG_NONE;
		if (k == VARG_SIZE || k == VARG_SIZE_OR_ZERO)
			CHECK(i > 0 && is_mem(p->args[i - 1]), "%s arg %d: a size of no memory", n, i + 1);
		if (is_mem(k))
			CHECK(i < 4 && (p->args[i + 1] == VARG_SIZE || p->args[i + 1] == VARG_SIZE_OR_ZERO),
			      "%s arg %d: memory without a size", n, i + 1);
		if (k == VARG_MAP_KEY || k == VARG_MAP_VALUE || k == VARG_MAP_VALUE_UNINIT)
			CHECK(i >= 1 && p->args[0] == VARG_MAP_PTR, "%s arg %d: no map before", n, i + 1);
		if (k == VARG_ALLOC_SIZE)
			CHECK(i == 1 && p->args[0] == VARG_MAP_PTR, "%s: alloc size", n);
		CHECK((k == VARG_FIXED_MEM) == (p->fixed[i] != 0), "%s arg %d: fixed %u", n, i + 1,
		      p->fixed[i]);
		has_func |= k == VARG_FUNC;
	}
	CHECK(has_func == (p->callback_args != 0) && p->callback_args <= 5, "%s: callback args %u", n,
	      p->callback_args);
	CHECK(p->ret <= VRET_RINGBUF_RECORD_OR_NULL, "%s: ret %u", n, p->ret);
	if (p->ret == VRET_MAP_VALUE_OR_NULL)
		CHECK(p->args[0] == VARG_MAP_PTR, "%s: a map value of no map", n);
	if (p->ret == VRET_RINGBUF_RECORD_OR_NULL)
		CHECK(p->args[0] == VARG_MAP_PTR && p->args[1] == VARG_ALLOC_SIZE, "%s: record size", n);
}

static void test_helper_coverage(void)
{
	struct visor_vm *vm = visor_vm_create();
	CHECK(vm && visor_vm_register_linux_helpers(vm) == 0, "register");
	int registered = 0;
	for (uint32_t id = 0; vm && id < 256; id++) {
		const char *name = visor_vm_helper_name(vm, id);
		const struct visor_helper_proto *p = visor_verifier_helper(id);
		if (!name) {
			CHECK(!p, "helper %u (%s) has a prototype but visor does not implement it", id,
			      p ? p->name : "");
			continue;
		}
		registered++;
		const char *linux_name = visor_vm_helper_linux_name(id);
		CHECK(linux_name && !strcmp(linux_name, name), "helper %u: registered as %s, Linux %s", id,
		      name, linux_name ? linux_name : "(none)");
		if (is_left_out(id)) {
			CHECK(!p, "helper %u (%s) is left out but has a prototype", id, name);
			continue;
		}
		CHECK(p, "helper %u (%s) has no verifier prototype", id, name);
		if (!p)
			continue;
		CHECK(p->id == id && !strcmp(p->name, name), "helper %u: prototype %u %s", id, p->id,
		      p->name);
		check_well_formed(p);
		/* Some program type may call it, or the prototype is dead. */
		static const uint32_t types[] = {1, 2, 3, 5, 6, 17, 26, 31};
		bool callable = false;
		for (size_t t = 0; t < NELEM(types); t++)
			callable |= visor_vm_helper_allowed(types[t], id);
		CHECK(callable, "helper %u (%s): no program type may call it", id, name);
	}
	CHECK(registered >= 44, "only %d helpers registered", registered);
	CHECK(!visor_verifier_helper(0) && !visor_verifier_helper(255) &&
		      !visor_verifier_helper(100000) && !visor_verifier_helper(UINT32_MAX),
	      "ids without a helper");
	visor_vm_destroy(vm);
}

/* A few prototypes field by field (the kernel's bpf_func_proto). */
static void expect_proto(uint32_t id, uint8_t ret, const uint8_t args[5], bool changes_packet,
			 uint8_t callback_args)
{
	const struct visor_helper_proto *p = visor_verifier_helper(id);
	CHECK(p, "helper %u: no prototype", id);
	if (!p)
		return;
	CHECK(p->ret == ret, "%s: ret %u, want %u", p->name, p->ret, ret);
	for (int i = 0; i < 5; i++)
		CHECK(p->args[i] == args[i], "%s arg %d: %u, want %u", p->name, i + 1, p->args[i],
		      args[i]);
	CHECK(p->changes_packet == changes_packet, "%s: changes_packet %d", p->name, p->changes_packet);
	CHECK(p->callback_args == callback_args, "%s: callback args %u", p->name, p->callback_args);
}

static void test_helper_spot_checks(void)
{
	expect_proto(1, VRET_MAP_VALUE_OR_NULL, (const uint8_t[5]){VARG_MAP_PTR, VARG_MAP_KEY}, false, 0);
	expect_proto(2, VRET_INTEGER,
		     (const uint8_t[5]){VARG_MAP_PTR, VARG_MAP_KEY, VARG_MAP_VALUE, VARG_ANYTHING}, false,
		     0);
	expect_proto(6, VRET_INTEGER, (const uint8_t[5]){VARG_MEM, VARG_SIZE}, false, 0);
	expect_proto(12, VRET_VOID, (const uint8_t[5]){VARG_CTX, VARG_MAP_PTR, VARG_ANYTHING}, true, 0);
	expect_proto(16, VRET_INTEGER, (const uint8_t[5]){VARG_UNINIT_MEM, VARG_SIZE}, false, 0);
	expect_proto(25, VRET_INTEGER,
		     (const uint8_t[5]){VARG_CTX, VARG_MAP_PTR, VARG_ANYTHING, VARG_MEM,
					VARG_SIZE_OR_ZERO},
		     false, 0);
	expect_proto(26, VRET_INTEGER,
		     (const uint8_t[5]){VARG_CTX, VARG_ANYTHING, VARG_UNINIT_MEM, VARG_SIZE}, false, 0);
	expect_proto(44, VRET_INTEGER, (const uint8_t[5]){VARG_CTX, VARG_ANYTHING}, true, 0);
	expect_proto(40, VRET_INTEGER, (const uint8_t[5]){VARG_CTX, VARG_ANYTHING}, false, 0);
	expect_proto(88, VRET_INTEGER, (const uint8_t[5]){VARG_MAP_PTR, VARG_MAP_VALUE_UNINIT}, false, 0);
	expect_proto(93, VRET_VOID, (const uint8_t[5]){VARG_SPIN_LOCK}, false, 0);
	expect_proto(112, VRET_INTEGER,
		     (const uint8_t[5]){VARG_UNINIT_MEM, VARG_SIZE_OR_ZERO, VARG_ANYTHING}, false, 0);
	expect_proto(130, VRET_INTEGER,
		     (const uint8_t[5]){VARG_MAP_PTR, VARG_MEM, VARG_SIZE_OR_ZERO, VARG_ANYTHING}, false,
		     0);
	expect_proto(131, VRET_RINGBUF_RECORD_OR_NULL,
		     (const uint8_t[5]){VARG_MAP_PTR, VARG_ALLOC_SIZE, VARG_ANYTHING}, false, 0);
	expect_proto(132, VRET_VOID, (const uint8_t[5]){VARG_RINGBUF_RECORD, VARG_ANYTHING}, false, 0);
	expect_proto(133, VRET_VOID, (const uint8_t[5]){VARG_RINGBUF_RECORD, VARG_ANYTHING}, false, 0);
	expect_proto(164, VRET_INTEGER,
		     (const uint8_t[5]){VARG_MAP_PTR, VARG_FUNC, VARG_STACK_OR_NULL, VARG_ANYTHING},
		     false, 4);
	expect_proto(165, VRET_INTEGER,
		     (const uint8_t[5]){VARG_UNINIT_MEM, VARG_SIZE_OR_ZERO, VARG_CONST_STR,
					VARG_MEM_OR_NULL, VARG_SIZE_OR_ZERO},
		     false, 0);
	expect_proto(181, VRET_INTEGER,
		     (const uint8_t[5]){VARG_ANYTHING, VARG_FUNC, VARG_STACK_OR_NULL, VARG_ANYTHING},
		     false, 2);
	expect_proto(182, VRET_INTEGER, (const uint8_t[5]){VARG_MEM, VARG_SIZE, VARG_CONST_STR}, false, 0);
}

static void test_allowlist(void)
{
	CHECK(visor_vm_helper_allowed(VISOR_VM_PROG_XDP, 44), "xdp may adjust its head");
	CHECK(!visor_vm_helper_allowed(VISOR_VM_PROG_SOCKET_FILTER, 44), "socket filter adjust_head");
	CHECK(visor_vm_helper_allowed(VISOR_VM_PROG_SCHED_CLS, 26), "tc skb_load_bytes");
	CHECK(!visor_vm_helper_allowed(VISOR_VM_PROG_KPROBE, 26), "kprobe skb_load_bytes");
	CHECK(visor_vm_helper_allowed(VISOR_VM_PROG_KPROBE, 1), "kprobe map lookup");
	CHECK(!visor_vm_helper_allowed(VISOR_VM_PROG_XDP, 0) &&
		      !visor_vm_helper_allowed(VISOR_VM_PROG_XDP, 5000),
	      "xdp: ids that are no Linux helper");
	CHECK(visor_vm_helper_allowed(0, 5000), "untyped: any registered helper");
	CHECK(!visor_vm_helper_allowed(7 /* perf_event */, 1), "a type without a context");
	CHECK(!strcmp(visor_vm_helper_linux_name(1), "bpf_map_lookup_elem") &&
		      !strcmp(visor_vm_helper_linux_name(181), "bpf_loop") &&
		      !visor_vm_helper_linux_name(0) && !visor_vm_helper_linux_name(100000),
	      "Linux names");
}

/* ---- context rules ------------------------------------------------------- */

enum { OK = 1, NO = 0 };

struct verdict {
	uint32_t type;
	int off, size, access;
	int want;       /* OK or NO */
	int kind;       /* if OK */
	const char *in; /* if NO: part of the reason */
};

static void test_ctx_verdicts(void)
{
	const uint32_t XDP = VISOR_VM_PROG_XDP, SF = VISOR_VM_PROG_SOCKET_FILTER,
		       TC = VISOR_VM_PROG_SCHED_CLS, KP = VISOR_VM_PROG_KPROBE,
		       TP = VISOR_VM_PROG_TRACEPOINT, RAW = VISOR_VM_PROG_RAW_TRACEPOINT,
		       TR = VISOR_VM_PROG_TRACING, SYS = VISOR_VM_PROG_SYSCALL;
	const int R = VISOR_CTX_READ, SX = VISOR_CTX_READ_SX, W = VISOR_CTX_WRITE,
		  AT = VISOR_CTX_ATOMIC;
	const struct verdict v[] = {
		{XDP, 0, 4, R, OK, VISOR_CTX_PKT_DATA, NULL},
		{XDP, 4, 4, R, OK, VISOR_CTX_PKT_END, NULL},
		{XDP, 8, 4, R, OK, VISOR_CTX_PKT_META, NULL},
		{XDP, 0, 8, R, NO, 0, "pointer field"},
		{XDP, 4, 2, R, NO, 0, "pointer field"},
		{XDP, 12, 4, R, OK, VISOR_CTX_SCALAR, NULL},
		{XDP, 13, 1, R, NO, 0, "4 bytes wide"},
		{XDP, 16, 4, R, OK, VISOR_CTX_SCALAR, NULL},
		{XDP, 20, 4, R, NO, 0, "devmap"},
		{XDP, 24, 4, R, NO, 0, "struct xdp_md"},
		{XDP, 12, 4, W, NO, 0, "read-only"},
		{XDP, 12, 4, SX, NO, 0, "sign-extending"},
		{SF, 0, 4, R, OK, VISOR_CTX_SCALAR, NULL},                           /* len */
		{SF, 76, 4, R, NO, 0, "socket filter programs may not access this field"}, /* data */
		{SF, 8, 4, W, NO, 0, "socket filter programs may write only cb[]"},  /* mark */
		{SF, 48, 4, W, OK, VISOR_CTX_SCALAR, NULL},                          /* cb[0] */
		{SF, 48, 8, W, OK, VISOR_CTX_SCALAR, NULL},
		{SF, 64, 8, R, NO, 0, "cb[]"},                                       /* past cb[4] */
		{TC, 76, 4, R, OK, VISOR_CTX_PKT_DATA, NULL},
		{TC, 80, 4, R, OK, VISOR_CTX_PKT_END, NULL},
		{TC, 140, 4, R, OK, VISOR_CTX_PKT_META, NULL},
		{TC, 76, 4, W, NO, 0, "store into a packet pointer field"},
		{TC, 76, 2, R, NO, 0, "packet pointer field"},
		{TC, 8, 4, W, OK, VISOR_CTX_SCALAR, NULL},                           /* mark */
		{TC, 8, 2, W, NO, 0, "4 bytes wide"},
		{TC, 8, 1, R, OK, VISOR_CTX_SCALAR, NULL},
		{TC, 8, 8, R, NO, 0, "8-byte access to a 32-bit field"},
		{TC, 8, 4, AT, NO, 0, "atomic"},
		{TC, 152, 8, W, OK, VISOR_CTX_SCALAR, NULL},                         /* tstamp */
		{TC, 152, 4, R, NO, 0, "64-bit field"},
		{TC, 184, 8, W, NO, 0, "read-only field"},                           /* hwtstamp */
		{TC, 184, 8, R, OK, VISOR_CTX_SCALAR, NULL},
		{TC, 88, 4, R, NO, 0, "tc programs may not access this field"},      /* family */
		{TC, 168, 8, R, NO, 0, "may not access"},                            /* sk */
		{TC, 192, 4, R, NO, 0, "invalid"},
		{TC, -4, 4, R, NO, 0, "invalid"},
		{TC, 2, 4, R, NO, 0, "misaligned"},
		{KP, 160, 8, R, OK, VISOR_CTX_SCALAR, NULL},
		{KP, 168, 8, R, NO, 0, "access outside of the kprobe context (struct pt_regs)"},
		{KP, 0, 8, W, NO, 0, "read-only"},
		{KP, 4, 8, R, NO, 0, "misaligned"},
		{KP, 112, 4, SX, OK, VISOR_CTX_SCALAR, NULL},
		{TP, 0, 4, R, NO, 0, "access outside of the tracepoint record"},
		{TP, 8, 8, R, OK, VISOR_CTX_SCALAR, NULL},
		{TP, 8184, 8, R, OK, VISOR_CTX_SCALAR, NULL},
		{TP, 8192, 1, R, NO, 0, "outside"},
		{RAW, 88, 8, R, OK, VISOR_CTX_SCALAR, NULL},
		{RAW, 96, 8, R, NO, 0, "outside"},
		{RAW, 4, 4, R, OK, VISOR_CTX_SCALAR, NULL},
		{TR, 4, 4, R, NO, 0, "not at the start of an argument"},
		{TR, 8, 4, R, OK, VISOR_CTX_SCALAR, NULL},
		{SYS, 104, 8, W, OK, VISOR_CTX_SCALAR, NULL},
		{SYS, 65534, 1, R, OK, VISOR_CTX_SCALAR, NULL},
		{SYS, 65535, 1, R, NO, 0, "outside"},
		{SYS, 0, 8, AT, NO, 0, "atomic"},
	};
	for (size_t i = 0; i < NELEM(v); i++) {
		char why[256] = "unset";
		int kind = -1;
		int rc = visor_vm_ctx_access(v[i].type, v[i].off, v[i].size, v[i].access, &kind, why,
					     sizeof(why));
		if (v[i].want == OK)
			CHECK(rc == 0 && kind == v[i].kind,
			      "type %u off %d size %d access %d: rc %d kind %d (%s)", v[i].type, v[i].off,
			      v[i].size, v[i].access, rc, kind, why);
		else
			CHECK(rc == -EACCES && strstr(why, v[i].in) && kind == -1,
			      "type %u off %d size %d access %d: rc %d, why \"%s\", want \"%s\"",
			      v[i].type, v[i].off, v[i].size, v[i].access, rc, why, v[i].in);
	}
	char why[128];
	CHECK(visor_vm_ctx_access(7, 0, 4, VISOR_CTX_READ, NULL, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "no context"),
	      "perf_event: %s", why);
	CHECK(visor_vm_ctx_access(0, 0, 4, VISOR_CTX_READ, NULL, why, sizeof(why)) == -EINVAL,
	      "untyped");
	CHECK(visor_vm_ctx_access(XDP, 0, 3, VISOR_CTX_READ, NULL, why, sizeof(why)) == -EINVAL,
	      "size 3");
	CHECK(visor_vm_ctx_access(XDP, 0, 4, 9, NULL, NULL, 0) == -EINVAL, "access 9, no why");

	CHECK(visor_vm_ctx_size(XDP) == 24 && visor_vm_ctx_size(SF) == 192 &&
		      visor_vm_ctx_size(TC) == 192 && visor_vm_ctx_size(KP) == 168 &&
		      visor_vm_ctx_size(TP) == 8192 && visor_vm_ctx_size(RAW) == 96 &&
		      visor_vm_ctx_size(TR) == 96 && visor_vm_ctx_size(SYS) == 65535 &&
		      visor_vm_ctx_size(0) == 0 && visor_vm_ctx_size(7) == 0,
	      "context sizes");
}

/* The instruction making the access through r1 (r2 = 0 is the stored value). */
static bool access_insn(int size, int access, int off, struct visor_insn *in)
{
	static const uint8_t size_bits[9] = {[1] = 0x10, [2] = 0x08, [4] = 0x00, [8] = 0x18};
	uint8_t sz = size_bits[size];
	switch (access) {
	case VISOR_CTX_READ:
		*in = INSN(0x61 | sz, 0, 1, off, 0);
		return true;
	case VISOR_CTX_READ_SX:
		*in = INSN(0x81 | sz, 0, 1, off, 0);
		return size != 8; /* no 64-bit sign extension */
	case VISOR_CTX_WRITE:
		*in = INSN(0x63 | sz, 1, 2, off, 0);
		return true;
	default:
		*in = INSN(0xc3 | sz, 1, 2, off, 0); /* atomic add */
		return size >= 4;
	}
}

/* visor_vm_load gives the same verdict and reason as visor_vm_ctx_access
 * for every access near each context: the rewrite applies these rules and
 * has none of its own. */
static void test_ctx_matches_load(void)
{
	static const uint32_t types[] = {1, 2, 3, 5, 6, 17, 26, 31};
	static const int sizes[] = {1, 2, 4, 8};
	static const int far[] = {8184, 8188, 8192, 32760, 32767, -32768};
	int stride = test_scale() < 1 ? 3 : 1, compared = 0;
	for (size_t t = 0; t < NELEM(types); t++) {
		for (int o = -8 - (int)NELEM(far); o < 232; o += o < -8 ? 1 : stride) {
			int off = o < -8 ? far[o + 8 + (int)NELEM(far)] : o;
			for (size_t s = 0; s < NELEM(sizes); s++) {
				for (int a = VISOR_CTX_READ; a <= VISOR_CTX_ATOMIC; a++) {
					struct visor_insn p[4];
					if (!access_insn(sizes[s], a, off, &p[1]))
						continue;
					p[0] = INSN(0xb7, 2, 0, 0, 0); /* r2 = 0 */
					p[2] = INSN(0xb7, 0, 0, 0, 0);
					p[3] = INSN(0x95, 0, 0, 0, 0);
					char why[256];
					int rc = visor_vm_ctx_access(types[t], off, sizes[s], a, NULL, why,
								     sizeof(why));
					struct visor_vm *vm = visor_vm_create();
					int lrc = visor_vm_set_prog_type(vm, types[t]);
					if (!lrc)
						lrc = visor_vm_load(vm, p, 4);
					const char *msg = visor_vm_errmsg(vm);
					CHECK((rc == 0) == (lrc == 0) && (rc == 0 || strstr(msg, why)),
					      "type %u off %d size %d access %d: rules %d (%s), load %d (%s)",
					      types[t], off, sizes[s], a, rc, rc ? why : "", lrc, msg);
					visor_vm_destroy(vm);
					compared++;
				}
			}
		}
	}
	CHECK(compared > 5000, "only %d accesses compared", compared);
}

int main(void)
{
	test_helper_coverage();
	test_helper_spot_checks();
	test_allowlist();
	test_ctx_verdicts();
	test_ctx_matches_load();
	return test_summary("test_verifier_tables");
}
