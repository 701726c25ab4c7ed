/* Assembler and disassembler: every encoding visor_insn_check accepts must
 * survive disasm -> asm unchanged, invalid slots too (as .raw); the kernel
 * syntax matches golden strings; malformed text fails with a located error. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/isa.h>

#include "testutil.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct visor_insn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct visor_insn in = {.code = code, .off = off, .imm = imm};
	in.dst = dst & 15;
	in.src = src & 15;
	return in;
}

/* A growable program. */
struct prog {
	struct visor_insn *insns;
	size_t count, cap;
};

static void push(struct prog *p, struct visor_insn in)
{
	if (p->count == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->insns = realloc(p->insns, p->cap * sizeof(*p->insns));
		if (!p->insns) {
			perror("realloc");
			exit(2);
		}
	}
	p->insns[p->count++] = in;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state; /* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Disassembles (uBPF syntax) and re-assembles a program; checks the bytes.
 * On a mismatch, names the first slot that differs. */
static void check_round_trip(const struct visor_insn *insns, size_t count, const char *what)
{
	char *text = visor_disasm(insns, count, VISOR_SYNTAX_UBPF, 0);
	struct visor_insn *back = NULL;
	size_t n = 0;
	char err[256];

	CHECK(text != NULL, "%s: visor_disasm failed", what);
	if (!text)
		return;
	int ret = visor_asm(text, &back, &n, err, sizeof(err));
	CHECK(ret == 0, "%s: re-assembly failed: %s", what, err);
	if (ret == 0) {
		CHECK(n == count, "%s: %zu slots in, %zu out", what, count, n);
		for (size_t i = 0; i < n && i < count; i++) {
			if (memcmp(&insns[i], &back[i], sizeof(insns[i])) == 0)
				continue;
			char line[160];
			size_t at = i && insns[i - 1].code == VISOR_OPCODE_LDDW ? i - 1 : i;
			visor_disasm_insn(insns, count, at, VISOR_SYNTAX_UBPF, line, sizeof(line));
			CHECK(0, "%s: slot %zu (\"%s\") does not round-trip", what, i, line);
			break;
		}
	}
	free(back);
	free(text);
}

/* ---- 1. every valid encoding round-trips -------------------------------- */

static const uint8_t regs[] = {0, 1, 10, 11, 15};
static const int16_t offs[] = {0, 1, -1, 8, 16, 32, 4095, -4096, INT16_MAX, INT16_MIN};
static const int32_t imms[] = {
	0, 1, -1, 16, 32, 64, 4095, -4095, 4096, -4096, INT32_MAX, INT32_MIN, 0x12345678,
	/* every atomic operation, with and without fetch */
	0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe0, 0xe1, 0xf0, 0xf1,
};

static void test_all_encodings(void)
{
	struct prog good = {0}, bad = {0};
	size_t rejected_per_code[256] = {0}, accepted = 0;
	char line[160];

	for (unsigned code = 0; code < 256; code++) {
		for (size_t d = 0; d < ARRAY_SIZE(regs); d++)
		for (size_t s = 0; s < ARRAY_SIZE(regs); s++)
		for (size_t o = 0; o < ARRAY_SIZE(offs); o++)
		for (size_t m = 0; m < ARRAY_SIZE(imms); m++) {
			struct visor_insn in[2] = {
				I(code, regs[d], regs[s], offs[o], imms[m]),
				I(0, 0, 0, 0, 0),
			};
			/* lddw: every src, and second-slot immediates */
			size_t nhi = code == VISOR_OPCODE_LDDW ? 4 : 1;
			static const int32_t his[] = {0, 1, -1, 0x7edcba98};
			for (size_t h = 0; h < nhi; h++) {
				in[1].imm = his[h];
				if (code == VISOR_OPCODE_LDDW)
					in[0].src = (uint8_t)((s * 4 + h) % 8);
				size_t n = visor_insn_slots(&in[0]);
				if (visor_insn_check(in, 2, 0, NULL, 0) == 0) {
					visor_disasm_insn(in, 2, 0, VISOR_SYNTAX_UBPF, line,
							  sizeof(line));
					CHECK(strncmp(line, ".raw", 4) != 0,
					      "valid 0x%02x src %u off %d imm %d printed as %s",
					      code, in[0].src, in[0].off, in[0].imm, line);
					visor_disasm_insn(in, 2, 0, VISOR_SYNTAX_KERNEL, line,
							  sizeof(line));
					CHECK(strncmp(line, ".raw", 4) != 0 && line[0],
					      "valid 0x%02x printed as '%s' in kernel syntax", code,
					      line);
					for (size_t k = 0; k < n; k++)
						push(&good, in[k]);
					accepted++;
				} else if (rejected_per_code[code]++ < 64) {
					size_t used = visor_disasm_insn(in, 2, 0, VISOR_SYNTAX_UBPF,
									line, sizeof(line));
					CHECK(used == 1 && strncmp(line, ".raw 0x", 7) == 0 &&
						      strlen(line) == 23,
					      "invalid 0x%02x printed as '%s'", code, line);
					push(&bad, in[0]);
				}
			}
		}
	}
	CHECK(accepted > 10000, "only %zu valid encodings enumerated", accepted);
	check_round_trip(good.insns, good.count, "valid encodings");
	check_round_trip(bad.insns, bad.count, "invalid slots");

	char *text = visor_disasm(good.insns, good.count, VISOR_SYNTAX_UBPF, 0);
	CHECK(text && !strstr(text, ".raw"), "a valid encoding was printed as .raw");
	free(text);
	text = visor_disasm(good.insns, good.count, VISOR_SYNTAX_KERNEL, 1);
	CHECK(text && !strstr(text, ".raw"), "a valid encoding was printed as .raw (kernel)");
	free(text);
	free(good.insns);
	free(bad.insns);
}

/* Random slots, and random slots with a plausible opcode (more of them valid). */
static void test_random_slots(void)
{
	struct prog p = {0};
	size_t n = (size_t)(40000 * test_scale());
	unsigned valid = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng();
		struct visor_insn in;
		memcpy(&in, &r, sizeof(in));
		if (i & 1) { /* small registers, fields often zero (reserved) */
			uint64_t z = rng();
			in.dst = r >> 8 & 7;
			in.src = z & 1 ? 0 : r >> 12 & 7;
			in.off = z & 2 ? 0 : (int16_t)(z >> 8 & 15) - 4;
			in.imm = z & 4 ? 0 : z & 8 ? (int32_t)(z >> 16 & 127) : in.imm;
		}
		push(&p, in);
	}
	for (size_t i = 0; i < p.count; i++)
		valid += visor_insn_check(p.insns, p.count, i, NULL, 0) == 0;
	CHECK(valid > n / 20, "only %u of %zu random slots valid", valid, n);
	check_round_trip(p.insns, p.count, "random slots");

	char *text = visor_disasm(p.insns, p.count, VISOR_SYNTAX_KERNEL, 1);
	CHECK(text != NULL, "kernel disassembly of random slots");
	free(text);
	free(p.insns);
}

/* ---- 2. golden disassembly ---------------------------------------------- */

struct golden {
	struct visor_insn in[2];
	const char *ubpf, *kernel;
};

#define ALU64_K(op) (VISOR_CLS_ALU64 | VISOR_ALU_##op | VISOR_SRC_K)
#define ALU64_X(op) (VISOR_CLS_ALU64 | VISOR_ALU_##op | VISOR_SRC_X)
#define ALU32_K(op) (VISOR_CLS_ALU | VISOR_ALU_##op | VISOR_SRC_K)
#define ALU32_X(op) (VISOR_CLS_ALU | VISOR_ALU_##op | VISOR_SRC_X)
#define JMP_K(op) (VISOR_CLS_JMP | VISOR_JMP_##op | VISOR_SRC_K)
#define JMP_X(op) (VISOR_CLS_JMP | VISOR_JMP_##op | VISOR_SRC_X)
#define JMP32_K(op) (VISOR_CLS_JMP32 | VISOR_JMP_##op | VISOR_SRC_K)
#define JMP32_X(op) (VISOR_CLS_JMP32 | VISOR_JMP_##op | VISOR_SRC_X)
#define MEM(cls, mode, size) (VISOR_CLS_##cls | VISOR_MODE_##mode | VISOR_SIZE_##size)
#define ONE(code, dst, src, off, imm) {{code, dst, src, off, imm}}
#define EXIT_INSN {VISOR_OPCODE_EXIT, 0, 0, 0, 0}
#define LDDW(dst, src, lo, hi) {{VISOR_OPCODE_LDDW, dst, src, 0, lo}, {0, 0, 0, 0, hi}}

static const struct golden goldens[] = {
	{ONE(ALU64_K(MOV), 0, 0, 0, 1), "mov %r0, 1", "r0 = 1"},
	{ONE(ALU32_K(MOV), 0, 0, 0, 1), "mov32 %r0, 1", "w0 = 1"},
	{ONE(ALU64_X(MOV), 0, 1, 0, 0), "mov %r0, %r1", "r0 = r1"},
	{ONE(ALU64_X(ADD), 0, 1, 0, 0), "add %r0, %r1", "r0 += r1"},
	{ONE(ALU32_K(SUB), 0, 0, 0, 5), "sub32 %r0, 5", "w0 -= 5"},
	{ONE(ALU64_K(MUL), 3, 0, 0, -7), "mul %r3, -7", "r3 *= -7"},
	{ONE(ALU64_X(DIV), 0, 1, 0, 0), "div %r0, %r1", "r0 /= r1"},
	{ONE(ALU64_X(DIV), 0, 1, 1, 0), "sdiv %r0, %r1", "r0 s/= r1"},
	{ONE(ALU32_K(DIV), 0, 0, 1, 3), "sdiv32 %r0, 3", "w0 s/= 3"},
	{ONE(ALU64_X(MOD), 0, 1, 0, 0), "mod %r0, %r1", "r0 %= r1"},
	{ONE(ALU64_X(MOD), 0, 1, 1, 0), "smod %r0, %r1", "r0 s%= r1"},
	{ONE(ALU64_K(OR), 1, 0, 0, 0xff00), "or %r1, 0xff00", "r1 |= 65280"},
	{ONE(ALU32_K(AND), 1, 0, 0, (int32_t)0xffff0000), "and32 %r1, 0xffff0000",
	 "w1 &= -65536"},
	{ONE(ALU64_K(AND), 1, 0, 0, (int32_t)0xffff0000), "and %r1, -0x10000", "r1 &= -65536"},
	{ONE(ALU64_K(LSH), 1, 0, 0, 3), "lsh %r1, 3", "r1 <<= 3"},
	{ONE(ALU64_K(RSH), 1, 0, 0, 3), "rsh %r1, 3", "r1 >>= 3"},
	{ONE(ALU32_X(ARSH), 1, 2, 0, 0), "arsh32 %r1, %r2", "w1 s>>= w2"},
	{ONE(ALU64_X(XOR), 1, 2, 0, 0), "xor %r1, %r2", "r1 ^= r2"},
	{ONE(ALU64_K(NEG), 0, 0, 0, 0), "neg %r0", "r0 = -r0"},
	{ONE(ALU32_K(NEG), 0, 0, 0, 0), "neg32 %r0", "w0 = -w0"},
	{ONE(ALU64_X(MOV), 0, 1, 8, 0), "movsx864 %r0, %r1", "r0 = (s8)r1"},
	{ONE(ALU64_X(MOV), 0, 1, 32, 0), "movsx3264 %r0, %r1", "r0 = (s32)r1"},
	{ONE(ALU32_X(MOV), 0, 1, 16, 0), "movsx1632 %r0, %r1", "w0 = (s16)w1"},
	{ONE(ALU32_K(END) | VISOR_END_TO_BE, 0, 0, 0, 16), "be16 %r0", "r0 = be16 r0"},
	{ONE(ALU32_K(END), 0, 0, 0, 64), "le64 %r0", "r0 = le64 r0"},
	{ONE(ALU64_K(END), 0, 0, 0, 32), "bswap32 %r0", "r0 = bswap32 r0"},
	{ONE(MEM(LDX, MEM, W), 0, 1, 4, 0), "ldxw %r0, [%r1+4]", "r0 = *(u32 *)(r1 + 4)"},
	{ONE(MEM(LDX, MEM, DW), 0, 10, -8, 0), "ldxdw %r0, [%r10-8]", "r0 = *(u64 *)(r10 - 8)"},
	{ONE(MEM(LDX, MEMSX, B), 0, 1, -2, 0), "ldxsb %r0, [%r1-2]", "r0 = *(s8 *)(r1 - 2)"},
	{ONE(MEM(LDX, MEMSX, W), 0, 1, 0, 0), "ldxsw %r0, [%r1+0]", "r0 = *(s32 *)(r1 + 0)"},
	{ONE(MEM(STX, MEM, H), 10, 2, -8, 0), "stxh [%r10-8], %r2", "*(u16 *)(r10 - 8) = r2"},
	{ONE(MEM(ST, MEM, H), 10, 0, -8, 5), "sth [%r10-8], 5", "*(u16 *)(r10 - 8) = 5"},
	{ONE(MEM(ST, MEM, DW), 10, 0, -8, -1), "stdw [%r10-8], -1", "*(u64 *)(r10 - 8) = -1"},
	{LDDW(0, 0, 0x1234, 0), "lddw %r0, 0x1234", "r0 = 0x1234 ll"},
	{LDDW(0, 0, -1, -1), "lddw %r0, 0xffffffffffffffff", "r0 = 0xffffffffffffffff ll"},
	{LDDW(1, 0, 0x9abcdef0, 0x12345678), "lddw %r1, 0x123456789abcdef0",
	 "r1 = 0x123456789abcdef0 ll"},
	{LDDW(1, 1, 3, 0), "lddw %r1, map_fd 3", "r1 = map[fd:3]"},
	{LDDW(1, 2, 3, 8), "lddw %r1, map_value 3 + 8", "r1 = map[fd:3][0]+8"},
	{LDDW(1, 3, 123, 0), "lddw %r1, btf_id 123", "r1 = btf_id[123]"},
	{LDDW(1, 4, 5, 0), "lddw %r1, func +5", "r1 = subprog[+5]"},
	{LDDW(1, 4, -3, 0), "lddw %r1, func -3", "r1 = subprog[-3]"},
	{LDDW(1, 5, 0, 0), "lddw %r1, map_idx 0", "r1 = map[idx:0]"},
	{LDDW(1, 6, 0, 8), "lddw %r1, map_idx_value 0 + 8", "r1 = map[idx:0][0]+8"},
	{ONE(MEM(LD, ABS, B), 0, 0, 0, 12), "ldabsb 12", "r0 = *(u8 *)skb[12]"},
	{ONE(MEM(LD, IND, H), 0, 1, 0, 12), "ldindh %r1, 12", "r0 = *(u16 *)skb[r1 + 12]"},
	{ONE(MEM(LD, IND, W), 0, 1, 0, -4), "ldindw %r1, -4", "r0 = *(u32 *)skb[r1 - 4]"},
	{ONE(MEM(STX, ATOMIC, DW), 1, 2, 0, VISOR_ATOMIC_ADD), "lock add [%r1+0], %r2",
	 "lock *(u64 *)(r1 + 0) += r2"},
	{ONE(MEM(STX, ATOMIC, W), 1, 2, 4, VISOR_ATOMIC_OR), "lock or32 [%r1+4], %r2",
	 "lock *(u32 *)(r1 + 4) |= w2"},
	{ONE(MEM(STX, ATOMIC, DW), 1, 2, 0, VISOR_ATOMIC_ADD | VISOR_ATOMIC_FETCH),
	 "lock fetch add [%r1+0], %r2", "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)"},
	{ONE(MEM(STX, ATOMIC, W), 1, 2, -8, VISOR_ATOMIC_AND | VISOR_ATOMIC_FETCH),
	 "lock fetch and32 [%r1-8], %r2", "w2 = atomic_fetch_and((u32 *)(r1 - 8), w2)"},
	{ONE(MEM(STX, ATOMIC, DW), 1, 2, 0, VISOR_ATOMIC_XOR | VISOR_ATOMIC_FETCH),
	 "lock fetch xor [%r1+0], %r2", "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)"},
	{ONE(MEM(STX, ATOMIC, DW), 1, 2, 0, VISOR_ATOMIC_XCHG), "lock xchg [%r1+0], %r2",
	 "r2 = xchg_64(r1 + 0, r2)"},
	{ONE(MEM(STX, ATOMIC, W), 1, 2, 0, VISOR_ATOMIC_XCHG), "lock xchg32 [%r1+0], %r2",
	 "w2 = xchg32_32(r1 + 0, w2)"},
	{ONE(MEM(STX, ATOMIC, DW), 1, 2, 0, VISOR_ATOMIC_CMPXCHG), "lock cmpxchg [%r1+0], %r2",
	 "r0 = cmpxchg_64(r1 + 0, r0, r2)"},
	{ONE(MEM(STX, ATOMIC, W), 1, 2, 0, VISOR_ATOMIC_CMPXCHG), "lock cmpxchg32 [%r1+0], %r2",
	 "w0 = cmpxchg32_32(r1 + 0, w0, w2)"},
	{ONE(JMP_K(JGT), 1, 0, 3, 0x10), "jgt %r1, 16, +3", "if r1 > 0x10 goto +3"},
	{ONE(JMP32_X(JSLT), 1, 2, -1, 0), "jslt32 %r1, %r2, -1", "if w1 s< w2 goto -1"},
	{ONE(JMP_X(JSET), 1, 2, 1, 0), "jset %r1, %r2, +1", "if r1 & r2 goto +1"},
	{ONE(JMP_K(JNE), 1, 0, 0, -1), "jne %r1, -1, +0", "if r1 != -0x1 goto +0"},
	{ONE(JMP32_K(JEQ), 1, 0, 2, -1), "jeq32 %r1, -1, +2", "if w1 == 0xffffffff goto +2"},
	{ONE(JMP_K(JSGE), 1, 0, 2, 0x12345678), "jsge %r1, 0x12345678, +2",
	 "if r1 s>= 0x12345678 goto +2"},
	{ONE(JMP_K(JLE), 1, 0, 2, 7), "jle %r1, 7, +2", "if r1 <= 0x7 goto +2"},
	{ONE(JMP_K(JA), 0, 0, 3, 0), "ja +3", "goto +3"},
	{ONE(JMP_K(JA), 0, 0, -1, 0), "ja -1", "goto -1"},
	{ONE(JMP32_K(JA), 0, 0, 0, 3), "ja32 +3", "gotol +3"},
	{ONE(VISOR_OPCODE_CALL, 0, 0, 0, 5), "call 5", "call 5"},
	{ONE(VISOR_OPCODE_CALL, 0, 1, 0, 3), "call local +3", "call pc+3"},
	{ONE(VISOR_OPCODE_CALL, 0, 1, 0, -4), "call local -4", "call pc-4"},
	{ONE(VISOR_OPCODE_CALL, 0, 2, 0, 17), "call runtime 17", "call kfunc 17"},
	{ONE(VISOR_OPCODE_EXIT, 0, 0, 0, 0), "exit", "exit"},
	/* invalid: printed as raw bytes in both syntaxes */
	{ONE(VISOR_OPCODE_EXIT, 1, 0, 0, 0), ".raw 0x0000000000000195", ".raw 0x0000000000000195"},
	{ONE(0xff, 15, 15, -1, -1), ".raw 0xffffffffffffffff", ".raw 0xffffffffffffffff"},
	{ONE(ALU64_K(MOV), 11, 0, 0, 0x12345678), ".raw 0x1234567800000bb7",
	 ".raw 0x1234567800000bb7"},
};

static void test_goldens(void)
{
	char buf[160];

	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		const struct golden *g = &goldens[i];
		size_t n = g->in[0].code == VISOR_OPCODE_LDDW ? 2 : 1;

		visor_disasm_insn(g->in, n, 0, VISOR_SYNTAX_UBPF, buf, sizeof(buf));
		CHECK(!strcmp(buf, g->ubpf), "ubpf: got '%s', want '%s'", buf, g->ubpf);
		visor_disasm_insn(g->in, n, 0, VISOR_SYNTAX_KERNEL, buf, sizeof(buf));
		CHECK(!strcmp(buf, g->kernel), "kernel: got '%s', want '%s'", buf, g->kernel);

		/* and the uBPF text assembles back to the instruction */
		struct visor_insn *back = NULL;
		size_t count = 0;
		char err[256];
		int ret = visor_asm(g->ubpf, &back, &count, err, sizeof(err));
		CHECK(ret == 0 && count == n && !memcmp(back, g->in, n * sizeof(*back)),
		      "'%s' does not assemble back (%s)", g->ubpf, ret ? err : "bytes differ");
		free(back);
	}
}

static void test_disasm_api(void)
{
	struct visor_insn prog[] = {
		I(ALU64_K(MOV), 0, 0, 0, 1),
		I(VISOR_OPCODE_LDDW, 1, 0, 0, 2), I(0, 0, 0, 0, 0),
		I(VISOR_OPCODE_EXIT, 0, 0, 0, 0),
	};
	char *text = visor_disasm(prog, 4, VISOR_SYNTAX_UBPF, 1);
	CHECK(text && !strcmp(text, "   0: mov %r0, 1\n   1: lddw %r1, 0x2\n   3: exit\n"),
	      "indexed listing: '%s'", text ? text : "(null)");
	free(text);
	text = visor_disasm(prog, 4, VISOR_SYNTAX_KERNEL, 0);
	CHECK(text && !strcmp(text, "r0 = 1\nr1 = 0x2 ll\nexit\n"), "kernel listing: '%s'",
	      text ? text : "(null)");
	free(text);
	text = visor_disasm(prog, 0, VISOR_SYNTAX_UBPF, 0);
	CHECK(text && !strcmp(text, ""), "empty listing");
	free(text);

	/* lddw cut short by the end of the program: one raw slot */
	char buf[64];
	size_t n = visor_disasm_insn(prog, 2, 1, VISOR_SYNTAX_UBPF, buf, sizeof(buf));
	CHECK(n == 1 && !strcmp(buf, ".raw 0x0000000200000118"), "truncated lddw: %zu '%s'", n,
	      buf);
	n = visor_disasm_insn(prog, 4, 1, VISOR_SYNTAX_UBPF, buf, sizeof(buf));
	CHECK(n == 2, "lddw takes two slots, got %zu", n);
	n = visor_disasm_insn(prog, 4, 4, VISOR_SYNTAX_UBPF, buf, sizeof(buf));
	CHECK(n == 0 && buf[0] == 0, "past the end: %zu '%s'", n, buf);
	/* a small buffer is filled, not overrun */
	memset(buf, 'x', sizeof(buf));
	visor_disasm_insn(prog, 4, 1, VISOR_SYNTAX_KERNEL, buf, 6);
	CHECK(!strcmp(buf, "r1 = ") && buf[6] == 'x', "small buffer: '%.8s'", buf);
	CHECK(visor_disasm_insn(prog, 4, 0, VISOR_SYNTAX_UBPF, NULL, 0) == 1, "NULL buffer");
	CHECK(visor_disasm_insn(prog, 4, 0, VISOR_SYNTAX_UBPF, NULL, 64) == 1,
	      "NULL buffer with a length");
}

/* ---- 3. assembler: accepted spellings ----------------------------------- */

struct spelling {
	const char *text;
	struct visor_insn in[3];
	size_t n;
};

static const struct spelling spellings[] = {
	/* registers with or without %, operands with commas and/or blanks */
	{"mov r1, r2", {{ALU64_X(MOV), 1, 2, 0, 0}}, 1},
	{"mov %r1 %r2", {{ALU64_X(MOV), 1, 2, 0, 0}}, 1},
	{"MOV %R1,%R2", {{ALU64_X(MOV), 1, 2, 0, 0}}, 1},
	{"  add64\t%r10 , -1  # comment", {{ALU64_K(ADD), 10, 0, 0, -1}}, 1},
	{"add %r1, 1 ; comment", {{ALU64_K(ADD), 1, 0, 0, 1}}, 1},
	{"mov %r15, %r11", {{ALU64_X(MOV), 15, 11, 0, 0}}, 1},
	/* immediates: truncated to 32 bits, any sign or base */
	{"mov32 %r1, 0x876543210", {{ALU32_K(MOV), 1, 0, 0, 0x76543210}}, 1},
	{"mov %r1, 0xffffffffffffffff", {{ALU64_K(MOV), 1, 0, 0, -1}}, 1},
	{"mov %r1, -0x8000000000000000", {{ALU64_K(MOV), 1, 0, 0, 0}}, 1},
	{"mov %r1, +0XAbC", {{ALU64_K(MOV), 1, 0, 0, 0xabc}}, 1},
	{"mov %r1, -0x80000000", {{ALU64_K(MOV), 1, 0, 0, INT32_MIN}}, 1},
	{"stdw [%r10-4], 0xCCBBAA99", {{MEM(ST, MEM, DW), 10, 0, -4, (int32_t)0xccbbaa99}}, 1},
	/* memory operands */
	{"ldxw %r1, [%r2]", {{MEM(LDX, MEM, W), 1, 2, 0, 0}}, 1},
	{"ldxw %r1, [ %r2 + 0x10 ]", {{MEM(LDX, MEM, W), 1, 2, 16, 0}}, 1},
	{"ldxw %r1, [%r2-32768]", {{MEM(LDX, MEM, W), 1, 2, INT16_MIN, 0}}, 1},
	{"ldxw %r1, [%r2+0xffff]", {{MEM(LDX, MEM, W), 1, 2, -1, 0}}, 1},
	{"stxb [%r1-0], %r2", {{MEM(STX, MEM, B), 1, 2, 0, 0}}, 1},
	/* byte swaps and their aliases */
	{"swap16 %r3", {{ALU64_K(END), 3, 0, 0, 16}}, 1},
	{"be64 %r3", {{ALU32_K(END) | VISOR_END_TO_BE, 3, 0, 0, 64}}, 1},
	{"movsx832 %r1, %r2", {{ALU32_X(MOV), 1, 2, 8, 0}}, 1},
	{"smod32 %r1, -3", {{ALU32_K(MOD), 1, 0, 1, -3}}, 1},
	/* atomics */
	{"lock fetch xchg [%r1+8], %r2", {{MEM(STX, ATOMIC, DW), 1, 2, 8, VISOR_ATOMIC_XCHG}}, 1},
	{"lock add64 [%r1], %r2", {{MEM(STX, ATOMIC, DW), 1, 2, 0, 0}}, 1},
	/* calls */
	{"call helper 5", {{VISOR_OPCODE_CALL, 0, 0, 0, 5}}, 1},
	{"call kfunc 17", {{VISOR_OPCODE_CALL, 0, 2, 0, 17}}, 1},
	{"call %r2", {{VISOR_OPCODE_CALL | VISOR_SRC_X, 2, 0, 0, 0}}, 1},
	{"callx r3", {{VISOR_OPCODE_CALL | VISOR_SRC_X, 3, 0, 0, 0}}, 1},
	{"gotol -2", {{VISOR_CLS_JMP32, 0, 0, 0, -2}}, 1},
	{"ja 2", {{VISOR_CLS_JMP, 0, 0, 2, 0}}, 1},
	/* lddw */
	{"lddw %r1, -2", {{VISOR_OPCODE_LDDW, 1, 0, 0, -2}, {0, 0, 0, 0, -1}}, 2},
	{"lddw %r1, map_value 7", {{VISOR_OPCODE_LDDW, 1, 2, 0, 7}, {0}}, 2},
	{"lddw %r1, map_value 7+0x10", {{VISOR_OPCODE_LDDW, 1, 2, 0, 7}, {0, 0, 0, 0, 16}}, 2},
	{"lddw %r1, map_idx_value 1 - 4", {{VISOR_OPCODE_LDDW, 1, 6, 0, 1}, {0, 0, 0, 0, -4}}, 2},
	/* .raw takes any 64-bit number */
	{".raw 0x95", {{VISOR_OPCODE_EXIT, 0, 0, 0, 0}}, 1},
	{".raw -1", {{0xff, 15, 15, -1, -1}}, 1},
	/* labels */
	{"top: ja top", {{VISOR_CLS_JMP, 0, 0, -1, 0}}, 1},
	{"a: b:\nja a\nja b", {{VISOR_CLS_JMP, 0, 0, -1, 0}, {VISOR_CLS_JMP, 0, 0, -2, 0}}, 2},
	{"ja .L1_x$\n.L1_x$:\nexit", {{VISOR_CLS_JMP, 0, 0, 0, 0}, EXIT_INSN}, 2},
	{"Exit: ja exit\nexit", {{VISOR_CLS_JMP, 0, 0, 0, 0}, EXIT_INSN}, 2},
	{"exit:\nja exit\nexit", {{VISOR_CLS_JMP, 0, 0, -1, 0}, EXIT_INSN}, 2},
	{"\r\n# only comments\n;\n\n", {{0}}, 0},
	{"", {{0}}, 0},
};

static void test_spellings(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		const struct spelling *s = &spellings[i];
		struct visor_insn *out = NULL;
		size_t n = 99;
		char err[256];
		int ret = visor_asm(s->text, &out, &n, err, sizeof(err));
		CHECK(ret == 0, "'%s': %s", s->text, err);
		if (ret)
			continue;
		CHECK(out != NULL, "'%s': no array for an empty program", s->text);
		CHECK(n == s->n, "'%s': %zu slots, want %zu", s->text, n, s->n);
		for (size_t k = 0; k < n && k < s->n; k++)
			CHECK(!memcmp(&out[k], &s->in[k], sizeof(out[k])),
			      "'%s': slot %zu is %02x %u %u %d %d", s->text, k, out[k].code,
			      out[k].dst, out[k].src, out[k].off, out[k].imm);
		free(out);
	}
}

/* ---- 4. labels, the implicit exit label, calls, lddw in offsets --------- */

static void test_labels(void)
{
	const char *text = "# counts down from 3\n"
			   "        mov %r1, 3\n"
			   "        lddw %r2, 0x100000000   # two slots\n"
			   "loop:   sub %r1, 1\n"
			   "        lddw %r3, func helper_fn\n"
			   "        jne %r1, 0, loop\n"
			   "        jeq32 %r1, %r2, exit    # the first exit\n"
			   "        call local helper_fn\n"
			   "        ja32 end\n"
			   "        exit\n"
			   "helper_fn:\n"
			   "        mov %r0, 7\n"
			   "        exit\n"
			   "end:    exit\n";
	struct visor_insn *p = NULL;
	size_t n = 0;
	char err[256];
	int ret = visor_asm(text, &p, &n, err, sizeof(err));

	CHECK(ret == 0, "label program: %s", err);
	if (ret)
		return;
	/* slots: 0 mov, 1-2 lddw, 3 sub (loop), 4-5 lddw func, 6 jne, 7 jeq32,
	 * 8 call, 9 ja32, 10 exit, 11 mov (helper_fn), 12 exit, 13 exit (end) */
	CHECK(n == 14, "%zu slots", n);
	if (n != 14)
		goto out;
	CHECK_EQ_U64(p[4].imm, 11 - 4 - 1, "lddw func: pc-relative to the next slot");
	CHECK_EQ_U64(p[4].src, VISOR_LDDW_FUNC, "lddw func src");
	CHECK_EQ_U64((int64_t)p[6].off, -4, "jne back over the two-slot lddw");
	CHECK_EQ_U64(p[7].off, 10 - 7 - 1, "jump to the implicit exit label");
	CHECK_EQ_U64(p[7].code, JMP32_X(JEQ), "jeq32 with register");
	CHECK_EQ_U64(p[8].imm, 11 - 8 - 1, "call local label");
	CHECK_EQ_U64(p[8].src, VISOR_CALL_LOCAL, "call local src");
	CHECK_EQ_U64(p[9].imm, 13 - 9 - 1, "ja32 label in imm");
	CHECK_EQ_U64(p[9].off, 0, "ja32 leaves off zero");
	check_round_trip(p, n, "label program");
out:
	free(p);

	/* 40000 slots away: too far for off, fine for imm */
	size_t far = 40000;
	char *big = malloc(far * 5 + 64), *w = big;
	if (!big)
		return;
	w += sprintf(w, "ja32 end\nja end\n");
	for (size_t i = 0; i < far; i++)
		w += sprintf(w, "exit\n");
	sprintf(w, "end: exit\n");
	ret = visor_asm(big, &p, &n, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "line 2, column 4: jump offset out of range"),
	      "far ja: %d %s", ret, err);
	big[9] = '#'; /* comment out the ja */
	ret = visor_asm(big, &p, &n, err, sizeof(err));
	CHECK(ret == 0 && n == far + 2 && p[0].imm == (int32_t)far, "far ja32: %s", err);
	if (ret == 0)
		free(p);
	free(big);
}

/* ---- 5. malformed input ------------------------------------------------- */

static const struct {
	const char *text, *error;
} malformed[] = {
	{"foo %r1", "line 1, column 1: unknown mnemonic 'foo'"},
	{"exit\n  jeq64 %r1, 0, +1", "line 2, column 3: unknown mnemonic 'jeq64'"},
	{"mov 1, %r1", "line 1, column 5: expected register, found '1'"},
	{"mov %r16, 1", "line 1, column 5: expected register, found '%r16'"},
	{"mov %r1", "line 1, column 8: expected register or immediate, found end of line"},
	{"mov %r1, # no operand", "line 1, column 10: expected register or immediate, found end"},
	{"mov %r1,, 2", "column 9: expected register or immediate, found ','"},
	{"mov %r1, foo", "column 10: expected register or immediate, found 'foo'"},
	{"mov %r1, 12abc", "column 10: expected number, found '12abc'"},
	{"mov %r1, 0x", "column 10: expected number, found '0x'"},
	{"mov %r1, 0x10000000000000000", "column 10: number '0x10000000000000000' does not fit"},
	{"mov %r1, -0x8000000000000001", "does not fit in 64 bits"},
	{"mov %r1, 2 3", "column 12: expected end of line, found '3'"},
	{"exit 0", "line 1, column 6: expected end of line, found '0'"},
	{"ldxw %r1, %r2", "column 11: expected memory operand '[%rN+offset]', found '%r2'"},
	{"ldxw %r1, [%r2", "column 15: expected '+', '-' or ']', found end of line"},
	{"ldxw %r1, [%r2+4", "column 17: expected ']', found end of line"},
	{"ldxw %r1, [%r2*4]", "expected '+', '-' or ']', found '*'"},
	{"ldxw %r1, [%r2+70000]", "column 15: offset out of range"},
	{"ldxw %r1, [%r2-32769]", "offset out of range"},
	{"ldxw %r1, [4]", "column 12: expected register, found '4'"},
	{"stw [%r1], %r2", "column 12: expected number, found '%r2'"},
	{"stxw [%r1], 5", "column 13: expected register, found '5'"},
	{"ja", "line 1, column 3: expected jump target (+N, -N or label), found end of line"},
	{"ja +32768", "column 4: jump offset out of range"},
	{"ja -32769", "jump offset out of range"},
	{"ja32 +2147483648", "jump offset out of range"},
	{"jeq %r1, 1", "column 11: expected jump target (+N, -N or label), found end of line"},
	{"ja nowhere", "line 1, column 4: undefined label 'nowhere'"},
	{"mov %r0, 0\n\tjne %r0, 1, exit", "line 2, column 14: undefined label 'exit'"},
	{"x: exit\nexit\n  x:", "line 3, column 3: duplicate label 'x' (first defined at line 1)"},
	{"123", "column 1: expected instruction or label, found '123'"},
	{"%r1 = 1", "column 1: expected instruction or label, found '%r1'"},
	{"mov %r1, 1 \x01", "expected end of line, found '\\x01'"},
	{"lock", "expected atomic operation (add, or, and, xor, xchg, cmpxchg), found end"},
	{"lock sub [%r1], %r2", "column 6: expected atomic operation"},
	{"lock add32 [%r1] %r2 %r3", "column 22: expected end of line, found '%r3'"},
	{"lddw %r1, map_thing 3", "column 11: expected 64-bit immediate or map_fd"},
	{"lddw %r1, map_value 3 + ", "column 25: expected unsigned number, found end of line"},
	{"lddw %r1, map_fd", "column 17: expected number, found end of line"},
	{"lddw %r1, func", "expected jump target"},
	{"call", "column 5: expected helper id or local, runtime, kfunc, helper"},
	{"call bpf_map_lookup_elem", "column 6: expected helper id"},
	{"call local", "expected jump target"},
	{"call runtime x", "column 14: expected function id, found 'x'"},
	{".raw", "column 5: expected number, found end of line"},
	{".raw 0x1ffffffffffffffff", "does not fit in 64 bits"},
	{"neg %r1, 1", "column 8: expected end of line, found ','"},
	{"le16", "expected register, found end of line"},
	{"movsx864 %r1, 5", "column 15: expected register, found '5'"},
	{"ldabsw %r1", "column 8: expected number, found '%r1'"},
	{"ldindw 4, 4", "column 8: expected register, found '4'"},
	{"\n\n   ja +1 +2", "line 3, column 10: expected end of line, found '+2'"},
};

static void test_malformed(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
		struct visor_insn *out = (struct visor_insn *)&out;
		size_t n = 99;
		char err[256] = "";
		int ret = visor_asm(malformed[i].text, &out, &n, err, sizeof(err));
		CHECK(ret == -EINVAL, "'%s': returned %d", malformed[i].text, ret);
		CHECK(strstr(err, malformed[i].error) != NULL, "'%s': error '%s', want '%s'",
		      malformed[i].text, err, malformed[i].error);
		CHECK(out == NULL && n == 0, "'%s': outputs not cleared", malformed[i].text);
		if (ret == 0)
			free(out);
	}

	/* a tiny error buffer is filled, not overrun */
	char small[12];
	struct visor_insn *out;
	size_t n;
	memset(small, 'x', sizeof(small));
	CHECK(visor_asm("bogus", &out, &n, small, 8) == -EINVAL && strlen(small) == 7 &&
		      small[8] == 'x',
	      "small error buffer: '%.12s'", small);
	CHECK(visor_asm("bogus", &out, &n, NULL, 0) == -EINVAL, "NULL error buffer");
}

/* ---- 6. mutated text never crashes, and what assembles round-trips ----- */

static void test_mutations(void)
{
	static const char seed[] = "start: mov %r1, 0x10\n"
				   "lddw %r2, map_value 3 + 8\n"
				   "ldxw %r3, [%r1-4] # load\n"
				   "lock fetch add32 [%r1+0], %r3\n"
				   "jne %r1, 0, start\n"
				   "call local start\n"
				   ".raw 0x0123456789abcdef\n"
				   "exit\n";
	static const char alphabet[] = "%r0123456789+-[],:#;\n x.abcdefgjlmnoqstuvwxyz";
	size_t iters = (size_t)(4000 * test_scale());
	char text[sizeof(seed) + 16];
	unsigned assembled = 0;

	for (size_t i = 0; i < iters; i++) {
		memcpy(text, seed, sizeof(seed));
		size_t len = sizeof(seed) - 1;
		for (int k = 1 + (int)(rng() % 4); k > 0; k--) {
			size_t at = rng() % len;
			switch (rng() % 3) {
			case 0: /* replace */
				text[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				memmove(text + at, text + at + 1, len - at);
				len--;
				break;
			default: /* any byte */
				text[at] = (char)(rng() % 255 + 1);
			}
		}
		struct visor_insn *p = NULL;
		size_t n = 0;
		char err[128];
		if (visor_asm(text, &p, &n, err, sizeof(err)) == 0) {
			assembled++;
			check_round_trip(p, n, text);
			free(p);
		} else {
			CHECK(!strncmp(err, "line ", 5), "error without location: '%s'", err);
		}
	}
	CHECK(assembled > 0, "no mutant assembled");
}

int main(void)
{
	test_goldens();
	test_disasm_api();
	test_spellings();
	test_labels();
	test_malformed();
	test_all_encodings();
	test_random_slots();
	test_mutations();
	return test_summary("test_asm");
}
