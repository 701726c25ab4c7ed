/* Constant blinding (VISOR_JIT_HARDEN): no user-chosen 32- or 64-bit
 * immediate appears verbatim in the machine code, the keys change from one
 * compile to the next, and hardened code computes the same results. Without
 * hardening the same constants are in the code, which shows the search
 * would find them. */
#include <stdlib.h>
#include <string.h>

#include <visor/visor.h>

#include "testutil.h"

/* Every place an instruction carries an immediate: ALU (64/32, every
 * operation), jumps (64/32), stores, lddw, call arguments; prog adds packet
 * loads in an unreachable tail, which is compiled too. */
#define HARDEN_BODY \
	"	mov %r6, %r1\n" \
	"	lddw %r2, 0x1122334455667788\n" \
	"	add %r2, 0x5a17c0de\n" \
	"	sub32 %r2, 0x6b28d1ef\n" \
	"	mul %r2, 0x7c39e2f1\n" \
	"	or %r2, 0x0d4af302\n" \
	"	and32 %r2, 0x1e5b0413\n" \
	"	xor %r2, 0x2f6c1524\n" \
	"	mov %r3, 0x307d2635\n" \
	"	mov32 %r4, 0x418e3746\n" \
	"	div %r3, 0x529f4857\n" \
	"	mod32 %r4, 0x63a0596a\n" \
	"	sdiv %r3, 0x74b16a7b\n" \
	"	smod32 %r4, 0x35c27b8c\n" \
	"	arsh %r3, 0x2b\n" \
	"	jeq %r2, 0x46d38c9d, skip1\n" \
	"	add %r0, 1\n" \
	"skip1:\n" \
	"	jgt32 %r2, 0x57e49dae, skip2\n" \
	"	add %r0, 2\n" \
	"skip2:\n" \
	"	jset %r2, 0x68f5aebf, skip3\n" \
	"	add %r0, 4\n" \
	"skip3:\n" \
	"	stw [%r10-8], 0x7a06bfc0\n" \
	"	stdw [%r10-16], 0x0b17c0d1\n" \
	"	ldxw %r5, [%r10-8]\n" \
	"	add %r0, %r5\n" \
	"	ldxdw %r5, [%r10-16]\n" \
	"	add %r0, %r5\n" \
	"	add %r0, %r2\n" \
	"	add %r0, %r3\n" \
	"	add %r0, %r4\n"

static const char prog[] =
	HARDEN_BODY
	"	ja done\n"
	"	ldabsw 0x1c28d1e2\n"
	"	ldindh %r3, 0x2d39e2f3\n"
	"done:\n"
	"	exit\n";

/* The part of prog the verifier accepts (r0 initialised, no unreachable
 * tail): hardened code without inline checks is tested on it. */
static const char verifiable[] =
	"	mov %r0, 0\n"
	HARDEN_BODY
	"	exit\n";

static const uint32_t imm32[] = {
	0x55667788, 0x11223344, 0x5a17c0de, 0x6b28d1ef, 0x7c39e2f1, 0x0d4af302,
	0x1e5b0413, 0x2f6c1524, 0x307d2635, 0x418e3746, 0x529f4857, 0x63a0596a,
	0x74b16a7b, 0x35c27b8c, 0x46d38c9d, 0x57e49dae, 0x68f5aebf, 0x7a06bfc0,
	0x0b17c0d1, 0x1c28d1e2, 0x2d39e2f3,
};
static const uint64_t imm64 = 0x1122334455667788ull;

static bool contains(const uint8_t *code, size_t len, const void *pat, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(code + i, pat, n))
			return true;
	return false;
}

/* How many of the constants appear in the code of vm. */
static int count_visible(struct visor_vm *vm, const char *what)
{
	VISOR_OPTS(visor_vm_jit_info, info);
	int found = 0;

	CHECK(visor_vm_jit_info(vm, &info) == 0, "%s: jit info", what);
	for (size_t i = 0; i < sizeof(imm32) / sizeof(imm32[0]); i++)
		if (contains(info.code, info.code_len, &imm32[i], 4))
			found++;
	if (contains(info.code, info.code_len, &imm64, 8))
		found++;
	return found;
}

/* prog runs in unsafe mode (it reads r0 before setting it and has an
 * unreachable tail, which the verifier refuses): the JIT keeps its checks.
 * verifiable is verified (64 bytes of memory), so its JIT has none. */
static struct visor_vm *load(const char *text, bool verify)
{
	struct visor_insn *insns;
	size_t n;
	char err[256];
	struct visor_vm *vm = visor_vm_create();

	visor_vm_set_unsafe(vm, !verify);
	CHECK(visor_asm(text, &insns, &n, err, sizeof(err)) == 0, "asm: %s", err);
	CHECK(visor_vm_load(vm, insns, n) == 0, "load: %s", visor_vm_errmsg(vm));
	if (verify) {
		VISOR_OPTS(visor_verify_opts, vo, .ctx_size = 64);
		CHECK(visor_verify_vm(vm, &vo) == 0, "verify: %s", vo.errmsg);
	}
	free(insns);
	return vm;
}

static uint64_t run(struct visor_vm *vm, int engine, uint64_t budget)
{
	uint8_t pkt[64] = {0};
	uint64_t r0 = 0;
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = pkt, .mem_len = sizeof(pkt), .engine = engine,
		   .budget = budget);
	CHECK(visor_vm_exec(vm, &o, &r0) == 0, "run: %s", visor_vm_errmsg(vm));
	return r0;
}

int main(void)
{
	if (!visor_vm_jit_supported())
		return test_skip("test_jit_harden", "the JIT supports x86-64 only");

	struct visor_vm *vm = load(prog, false);
	uint64_t want = run(vm, VISOR_ENGINE_INTERP, 0);
	struct visor_vm *vvm = load(verifiable, true);
	uint64_t vwant = run(vvm, VISOR_ENGINE_INTERP, 0);

	/* Plain: the constants are there to be found. */
	CHECK(visor_vm_jit_compile(vm, 0) == 0, "jit: %s", visor_vm_errmsg(vm));
	int plain = count_visible(vm, "plain");
	CHECK(plain >= 18, "only %d of the constants found in plain code", plain);
	CHECK_EQ_U64(run(vm, VISOR_ENGINE_JIT, 0), want, "plain r0");

	/* Hardened, in both variants and with or without checks, many
	 * times (the keys are random): none is there. */
	VISOR_OPTS(visor_vm_jit_info, info);
	uint8_t *first = NULL;
	size_t first_len = 0;
	bool differ = false;
	for (int i = 0; i < 200; i++) {
		/* odd: the verified program, compiled without checks */
		struct visor_vm *v = i & 1 ? vvm : vm;
		unsigned flags = VISOR_JIT_HARDEN | (i & 1 ? VISOR_JIT_VERIFIED : 0);
		uint64_t w = i & 1 ? vwant : want;
		CHECK(visor_vm_jit_compile(v, flags) == 0, "jit: %s", visor_vm_errmsg(v));
		int seen = count_visible(v, "hardened");
		CHECK(seen == 0, "compile %d: %d constants visible in hardened code", i, seen);
		CHECK_EQ_U64(run(v, VISOR_ENGINE_JIT, 0), w, "hardened r0");
		CHECK_EQ_U64(run(v, VISOR_ENGINE_JIT, 1000), w, "hardened r0, budget");
		visor_vm_jit_info(v, &info);
		if (i == 0) {
			first = malloc(info.code_len);
			memcpy(first, info.code, info.code_len);
			first_len = info.code_len;
		} else if (!(i & 1) && (info.code_len != first_len ||
					memcmp(first, info.code, first_len))) {
			differ = true;
		}
	}
	CHECK(differ, "hardened code is the same on every compile: the keys are not random");
	free(first);
	visor_vm_destroy(vm);
	visor_vm_destroy(vvm);
	return test_summary("test_jit_harden");
}
