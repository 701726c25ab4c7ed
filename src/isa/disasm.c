/* The disassembler: instruction slots to text, in two syntaxes.
 *
 * VISOR_SYNTAX_UBPF is the assembler's own syntax in canonical form, so that
 * visor_asm(visor_disasm(p)) == p for every program, valid or not: a slot
 * that visor_insn_check rejects is printed as ".raw 0x<16 hex digits>", the
 * slot's bytes read as a little-endian 64-bit number.
 * VISOR_SYNTAX_KERNEL reads like llvm-objdump and the verifier log. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/isa.h>

/* Bounded text being built; writes past the end are dropped. */
struct out {
	char *buf;
	size_t len, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (!o->len || o->pos >= o->len - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos = o->pos + (size_t)n < o->len ? o->pos + (size_t)n : o->len - 1;
}

/* ALU operations by op >> 4: uBPF mnemonic and kernel operator. Signed
 * division and modulo (off = 1) are spelled apart below. */
static const struct {
	const char *name;
	const char *op;
} alu_ops[16] = {
	[VISOR_ALU_ADD >> 4] = {"add", "+="},
	[VISOR_ALU_SUB >> 4] = {"sub", "-="},
	[VISOR_ALU_MUL >> 4] = {"mul", "*="},
	[VISOR_ALU_DIV >> 4] = {"div", "/="},
	[VISOR_ALU_OR >> 4] = {"or", "|="},
	[VISOR_ALU_AND >> 4] = {"and", "&="},
	[VISOR_ALU_LSH >> 4] = {"lsh", "<<="},
	[VISOR_ALU_RSH >> 4] = {"rsh", ">>="},
	[VISOR_ALU_NEG >> 4] = {"neg", NULL},
	[VISOR_ALU_MOD >> 4] = {"mod", "%="},
	[VISOR_ALU_XOR >> 4] = {"xor", "^="},
	[VISOR_ALU_MOV >> 4] = {"mov", "="},
	[VISOR_ALU_ARSH >> 4] = {"arsh", "s>>="},
	[VISOR_ALU_END >> 4] = {NULL, NULL},
};

/* Jumps by op >> 4: uBPF mnemonic and kernel comparison. */
static const struct {
	const char *name;
	const char *op;
} jmp_ops[16] = {
	[VISOR_JMP_JA >> 4] = {"ja", NULL},
	[VISOR_JMP_JEQ >> 4] = {"jeq", "=="},
	[VISOR_JMP_JGT >> 4] = {"jgt", ">"},
	[VISOR_JMP_JGE >> 4] = {"jge", ">="},
	[VISOR_JMP_JSET >> 4] = {"jset", "&"},
	[VISOR_JMP_JNE >> 4] = {"jne", "!="},
	[VISOR_JMP_JSGT >> 4] = {"jsgt", "s>"},
	[VISOR_JMP_JSGE >> 4] = {"jsge", "s>="},
	[VISOR_JMP_CALL >> 4] = {"call", NULL},
	[VISOR_JMP_EXIT >> 4] = {"exit", NULL},
	[VISOR_JMP_JLT >> 4] = {"jlt", "<"},
	[VISOR_JMP_JLE >> 4] = {"jle", "<="},
	[VISOR_JMP_JSLT >> 4] = {"jslt", "s<"},
	[VISOR_JMP_JSLE >> 4] = {"jsle", "s<="},
};

/* Atomic operations (imm without the fetch bit): uBPF word, kernel operator,
 * kernel fetch function. xchg and cmpxchg are handled on their own. */
static const char *atomic_name(int32_t imm, const char **op, const char **fn)
{
	switch (imm & ~VISOR_ATOMIC_FETCH) {
	case VISOR_ATOMIC_ADD:
		*op = "+=", *fn = "atomic_fetch_add";
		return "add";
	case VISOR_ATOMIC_OR:
		*op = "|=", *fn = "atomic_fetch_or";
		return "or";
	case VISOR_ATOMIC_AND:
		*op = "&=", *fn = "atomic_fetch_and";
		return "and";
	case VISOR_ATOMIC_XOR:
		*op = "^=", *fn = "atomic_fetch_xor";
		return "xor";
	}
	return NULL;
}

/* Load/store size by VISOR_SIZE >> 3: uBPF suffix and C type width. */
static const char *const size_suffix[4] = {"w", "h", "b", "dw"};
static const unsigned size_bits[4] = {32, 16, 8, 64};

/* Canonical immediate: decimal while small (-4095..4095), hex beyond so that
 * masks and addresses stay readable. Where the operation is 64 bits wide the
 * immediate is sign-extended, and the hex shows the sign (-0x80000000); where
 * it is 32 bits wide, it shows the 32 bits (0x80000000). Either re-assembles
 * to the same bytes. */
static void put_imm(struct out *o, int64_t v, bool is32)
{
	if (v > -4096 && v < 4096)
		put(o, "%lld", (long long)v);
	else if (is32)
		put(o, "0x%x", (unsigned)(uint32_t)v);
	else if (v < 0)
		put(o, "-0x%llx", (unsigned long long)-(uint64_t)v);
	else
		put(o, "0x%llx", (unsigned long long)v);
}

/* Jump immediates in the kernel syntax: hex, as the verifier log prints them. */
static void put_hex(struct out *o, int64_t v, bool is32)
{
	if (is32)
		put(o, "0x%x", (unsigned)(uint32_t)v);
	else if (v < 0)
		put(o, "-0x%llx", (unsigned long long)-(uint64_t)v);
	else
		put(o, "0x%llx", (unsigned long long)v);
}

static uint64_t slot_value(const struct visor_insn *in)
{
	uint8_t b[8];
	uint64_t v = 0;
	memcpy(b, in, sizeof(b));
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void put_raw(struct out *o, const struct visor_insn *in)
{
	put(o, ".raw 0x%016llx", (unsigned long long)slot_value(in));
}

static uint64_t lddw_value(const struct visor_insn *in)
{
	return (uint64_t)(uint32_t)in[0].imm | (uint64_t)(uint32_t)in[1].imm << 32;
}

/* ---- uBPF syntax -------------------------------------------------------- */

/* [%r1+4], [%r1-8], [%r1+0] */
static void ubpf_mem(struct out *o, unsigned reg, int16_t off)
{
	if (off < 0)
		put(o, "[%%r%u-%d]", reg, -(int)off);
	else
		put(o, "[%%r%u+%d]", reg, off);
}

/* Returns false for a form it cannot spell (then the caller prints .raw). */
static bool ubpf_insn(struct out *o, const struct visor_insn *in)
{
	uint8_t code = in->code, cls = VISOR_CLASS(code), op = VISOR_OP(code);
	unsigned size = VISOR_SIZE(code) >> 3;
	bool x = VISOR_SRC(code) == VISOR_SRC_X;
	const char *w32 = "";

	switch (cls) {
	case VISOR_CLS_ALU:
		w32 = "32";
		/* fall through */
	case VISOR_CLS_ALU64:
		if (op == VISOR_ALU_END) {
			if (cls == VISOR_CLS_ALU64)
				put(o, "bswap%d %%r%u", in->imm, in->dst);
			else
				put(o, "%s%d %%r%u", x ? "be" : "le", in->imm, in->dst);
		} else if (op == VISOR_ALU_NEG) {
			put(o, "neg%s %%r%u", w32, in->dst);
		} else if (op == VISOR_ALU_MOV && in->off) {
			put(o, "movsx%d%s %%r%u, %%r%u", in->off, *w32 ? "32" : "64", in->dst,
			    in->src);
		} else {
			const char *name = alu_ops[op >> 4].name;
			if (in->off == 1 && (op == VISOR_ALU_DIV || op == VISOR_ALU_MOD))
				name = op == VISOR_ALU_DIV ? "sdiv" : "smod";
			if (!name)
				return false;
			put(o, "%s%s %%r%u, ", name, w32, in->dst);
			if (x)
				put(o, "%%r%u", in->src);
			else
				put_imm(o, in->imm, cls == VISOR_CLS_ALU);
		}
		return true;

	case VISOR_CLS_LD:
		switch (VISOR_MODE(code)) {
		case VISOR_MODE_IMM:
			put(o, "lddw %%r%u, ", in->dst);
			switch (in->src) {
			case VISOR_LDDW_IMM:
				put(o, "0x%llx", (unsigned long long)lddw_value(in));
				break;
			case VISOR_LDDW_MAP_FD:
				put(o, "map_fd %u", (unsigned)in->imm);
				break;
			case VISOR_LDDW_MAP_VALUE:
			case VISOR_LDDW_MAP_IDX_VALUE:
				put(o, "%s %u %c ", in->src == VISOR_LDDW_MAP_VALUE ? "map_value" :
						     "map_idx_value",
				    (unsigned)in->imm, in[1].imm < 0 ? '-' : '+');
				put_imm(o, in[1].imm < 0 ? -(int64_t)in[1].imm : in[1].imm, false);
				break;
			case VISOR_LDDW_BTF_ID:
				put(o, "btf_id %u", (unsigned)in->imm);
				break;
			case VISOR_LDDW_FUNC:
				put(o, "func %+d", in->imm);
				break;
			case VISOR_LDDW_MAP_IDX:
				put(o, "map_idx %u", (unsigned)in->imm);
				break;
			default:
				return false;
			}
			return true;
		case VISOR_MODE_ABS:
			put(o, "ldabs%s ", size_suffix[size]);
			put_imm(o, in->imm, true);
			return true;
		case VISOR_MODE_IND:
			put(o, "ldind%s %%r%u, ", size_suffix[size], in->src);
			put_imm(o, in->imm, true);
			return true;
		}
		return false;

	case VISOR_CLS_LDX:
		put(o, "ldx%s%s %%r%u, ", VISOR_MODE(code) == VISOR_MODE_MEMSX ? "s" : "",
		    size_suffix[size], in->dst);
		ubpf_mem(o, in->src, in->off);
		return true;

	case VISOR_CLS_ST:
		put(o, "st%s ", size_suffix[size]);
		ubpf_mem(o, in->dst, in->off);
		put(o, ", ");
		put_imm(o, in->imm, VISOR_SIZE(code) != VISOR_SIZE_DW);
		return true;

	case VISOR_CLS_STX:
		if (VISOR_MODE(code) == VISOR_MODE_ATOMIC) {
			const char *name, *unused;
			bool fetch = false;
			if (in->imm == VISOR_ATOMIC_XCHG)
				name = "xchg";
			else if (in->imm == VISOR_ATOMIC_CMPXCHG)
				name = "cmpxchg";
			else if (!(name = atomic_name(in->imm, &unused, &unused)))
				return false;
			else
				fetch = in->imm & VISOR_ATOMIC_FETCH;
			put(o, "lock %s%s%s ", fetch ? "fetch " : "", name,
			    VISOR_SIZE(code) == VISOR_SIZE_W ? "32" : "");
		} else {
			put(o, "stx%s ", size_suffix[size]);
		}
		ubpf_mem(o, in->dst, in->off);
		put(o, ", %%r%u", in->src);
		return true;

	default: /* JMP, JMP32 */
		w32 = cls == VISOR_CLS_JMP32 ? "32" : "";
		switch (op) {
		case VISOR_JMP_JA:
			if (*w32)
				put(o, "ja32 %+d", in->imm);
			else
				put(o, "ja %+d", in->off);
			return true;
		case VISOR_JMP_CALL:
			if (x)
				put(o, "callx %%r%u", in->dst);
			else if (in->src == VISOR_CALL_LOCAL)
				put(o, "call local %+d", in->imm);
			else if (in->src == VISOR_CALL_KFUNC)
				put(o, "call runtime %d", in->imm);
			else
				put(o, "call %d", in->imm);
			return true;
		case VISOR_JMP_EXIT:
			put(o, "exit");
			return true;
		}
		if (!jmp_ops[op >> 4].op)
			return false;
		put(o, "%s%s %%r%u, ", jmp_ops[op >> 4].name, w32, in->dst);
		if (x)
			put(o, "%%r%u", in->src);
		else
			put_imm(o, in->imm, cls == VISOR_CLS_JMP32);
		put(o, ", %+d", in->off);
		return true;
	}
}

/* ---- kernel syntax ------------------------------------------------------ */

/* r1 + 4, r1 - 8 */
static void kernel_addr(struct out *o, unsigned reg, int16_t off)
{
	put(o, "r%u %c %d", reg, off < 0 ? '-' : '+', off < 0 ? -(int)off : off);
}

/* (r1 + 4) */
static void kernel_mem(struct out *o, unsigned reg, int16_t off)
{
	put(o, "(");
	kernel_addr(o, reg, off);
	put(o, ")");
}

static bool kernel_insn(struct out *o, const struct visor_insn *in)
{
	uint8_t code = in->code, cls = VISOR_CLASS(code), op = VISOR_OP(code);
	unsigned size = VISOR_SIZE(code) >> 3;
	bool x = VISOR_SRC(code) == VISOR_SRC_X;
	char r = 'r';

	switch (cls) {
	case VISOR_CLS_ALU:
		r = 'w';
		/* fall through */
	case VISOR_CLS_ALU64:
		if (op == VISOR_ALU_END) {
			if (cls == VISOR_CLS_ALU64)
				put(o, "r%u = bswap%d r%u", in->dst, in->imm, in->dst);
			else
				put(o, "r%u = %s%d r%u", in->dst, x ? "be" : "le", in->imm,
				    in->dst);
		} else if (op == VISOR_ALU_NEG) {
			put(o, "%c%u = -%c%u", r, in->dst, r, in->dst);
		} else if (op == VISOR_ALU_MOV && in->off) {
			put(o, "%c%u = (s%d)%c%u", r, in->dst, in->off, r, in->src);
		} else {
			const char *sop = alu_ops[op >> 4].op;
			if (in->off == 1 && (op == VISOR_ALU_DIV || op == VISOR_ALU_MOD))
				sop = op == VISOR_ALU_DIV ? "s/=" : "s%=";
			if (!sop)
				return false;
			put(o, "%c%u %s ", r, in->dst, sop);
			if (x)
				put(o, "%c%u", r, in->src);
			else
				put(o, "%d", in->imm);
		}
		return true;

	case VISOR_CLS_LD:
		switch (VISOR_MODE(code)) {
		case VISOR_MODE_IMM:
			put(o, "r%u = ", in->dst);
			switch (in->src) {
			case VISOR_LDDW_IMM:
				put(o, "0x%llx ll", (unsigned long long)lddw_value(in));
				break;
			case VISOR_LDDW_MAP_FD:
				put(o, "map[fd:%u]", (unsigned)in->imm);
				break;
			case VISOR_LDDW_MAP_VALUE:
				put(o, "map[fd:%u][0]+%u", (unsigned)in->imm, (unsigned)in[1].imm);
				break;
			case VISOR_LDDW_BTF_ID:
				put(o, "btf_id[%u]", (unsigned)in->imm);
				break;
			case VISOR_LDDW_FUNC:
				put(o, "subprog[%+d]", in->imm);
				break;
			case VISOR_LDDW_MAP_IDX:
				put(o, "map[idx:%u]", (unsigned)in->imm);
				break;
			case VISOR_LDDW_MAP_IDX_VALUE:
				put(o, "map[idx:%u][0]+%u", (unsigned)in->imm, (unsigned)in[1].imm);
				break;
			default:
				return false;
			}
			return true;
		case VISOR_MODE_ABS:
			put(o, "r0 = *(u%u *)skb[%d]", size_bits[size], in->imm);
			return true;
		case VISOR_MODE_IND:
			put(o, "r0 = *(u%u *)skb[r%u %c %lld]", size_bits[size], in->src,
			    in->imm < 0 ? '-' : '+', in->imm < 0 ? -(long long)in->imm : in->imm);
			return true;
		}
		return false;

	case VISOR_CLS_LDX:
		put(o, "r%u = *(%c%u *)", in->dst, VISOR_MODE(code) == VISOR_MODE_MEMSX ? 's' : 'u',
		    size_bits[size]);
		kernel_mem(o, in->src, in->off);
		return true;

	case VISOR_CLS_ST:
		put(o, "*(u%u *)", size_bits[size]);
		kernel_mem(o, in->dst, in->off);
		put(o, " = %d", in->imm);
		return true;

	case VISOR_CLS_STX:
		if (VISOR_MODE(code) != VISOR_MODE_ATOMIC) {
			put(o, "*(u%u *)", size_bits[size]);
			kernel_mem(o, in->dst, in->off);
			put(o, " = r%u", in->src);
			return true;
		}
		{
			bool is32 = VISOR_SIZE(code) == VISOR_SIZE_W;
			unsigned bits = is32 ? 32 : 64;
			const char *sop, *fn;
			r = is32 ? 'w' : 'r';
			if (in->imm == VISOR_ATOMIC_XCHG) {
				put(o, "%c%u = xchg%s_%u(", r, in->src, is32 ? "32" : "", bits);
				kernel_addr(o, in->dst, in->off);
				put(o, ", %c%u)", r, in->src);
			} else if (in->imm == VISOR_ATOMIC_CMPXCHG) {
				put(o, "%c0 = cmpxchg%s_%u(", r, is32 ? "32" : "", bits);
				kernel_addr(o, in->dst, in->off);
				put(o, ", %c0, %c%u)", r, r, in->src);
			} else if (!atomic_name(in->imm, &sop, &fn)) {
				return false;
			} else if (in->imm & VISOR_ATOMIC_FETCH) {
				put(o, "%c%u = %s((u%u *)", r, in->src, fn, bits);
				kernel_mem(o, in->dst, in->off);
				put(o, ", %c%u)", r, in->src);
			} else {
				put(o, "lock *(u%u *)", bits);
				kernel_mem(o, in->dst, in->off);
				put(o, " %s %c%u", sop, r, in->src);
			}
			return true;
		}

	default: /* JMP, JMP32 */
		if (cls == VISOR_CLS_JMP32)
			r = 'w';
		switch (op) {
		case VISOR_JMP_JA:
			if (cls == VISOR_CLS_JMP32)
				put(o, "gotol %+d", in->imm);
			else
				put(o, "goto %+d", in->off);
			return true;
		case VISOR_JMP_CALL:
			if (x)
				put(o, "callx r%u", in->dst);
			else if (in->src == VISOR_CALL_LOCAL)
				put(o, "call pc%+d", in->imm);
			else if (in->src == VISOR_CALL_KFUNC)
				put(o, "call kfunc %d", in->imm);
			else
				put(o, "call %d", in->imm);
			return true;
		case VISOR_JMP_EXIT:
			put(o, "exit");
			return true;
		}
		if (!jmp_ops[op >> 4].op)
			return false;
		put(o, "if %c%u %s ", r, in->dst, jmp_ops[op >> 4].op);
		if (x)
			put(o, "%c%u", r, in->src);
		else
			put_hex(o, in->imm, cls == VISOR_CLS_JMP32);
		put(o, " goto %+d", in->off);
		return true;
	}
}

size_t visor_disasm_insn(const struct visor_insn *insns, size_t count, size_t idx,
			 enum visor_syntax syntax, char *buf, size_t buf_len)
{
	struct out o = {buf, buf ? buf_len : 0, 0};

	if (buf && buf_len)
		buf[0] = 0;
	if (!insns || idx >= count)
		return 0;

	const struct visor_insn *in = &insns[idx];
	if (visor_insn_check(insns, count, idx, NULL, 0) == 0) {
		bool ok = syntax == VISOR_SYNTAX_KERNEL ? kernel_insn(&o, in) : ubpf_insn(&o, in);
		if (ok)
			return visor_insn_slots(in);
		o.pos = 0; /* a form check accepts but we cannot spell: keep the bytes */
		if (buf && buf_len)
			buf[0] = 0;
	}
	put_raw(&o, in);
	return 1;
}

char *visor_disasm(const struct visor_insn *insns, size_t count, enum visor_syntax syntax,
		   int with_index)
{
	size_t cap = 256, len = 0;
	char *text = malloc(cap), line[160];

	if (!text)
		return NULL;
	text[0] = 0;
	for (size_t i = 0; i < count;) {
		size_t n = visor_disasm_insn(insns, count, i, syntax, line, sizeof(line));
		size_t need = strlen(line) + 32;
		if (len + need > cap) {
			while (len + need > cap)
				cap *= 2;
			char *t = realloc(text, cap);
			if (!t) {
				free(text);
				return NULL;
			}
			text = t;
		}
		if (with_index)
			len += (size_t)sprintf(text + len, "%4zu: ", i);
		len += (size_t)sprintf(text + len, "%s\n", line);
		i += n ? n : 1;
	}
	return text;
}
