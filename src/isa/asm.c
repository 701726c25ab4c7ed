/* The assembler: uBPF / bpf_conformance text to instruction slots.
 *
 * One instruction per line, parsed by hand with a cursor over the line (no
 * recursion, no allocation per token). Labels may be used before they are
 * defined: such references are recorded as fixups and patched once the whole
 * text has been read. docs/ASSEMBLY.md is the reference for the syntax. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/isa.h>

#include "common/hex.h"

/* How the operands of a mnemonic are written. */
enum form {
	F_ALU,    /* add %rD, %rS|IMM */
	F_NEG,    /* neg %rD */
	F_MOVSX,  /* movsx864 %rD, %rS (off = source width) */
	F_END,    /* be16 %rD (imm = width) */
	F_LDX,    /* ldxw %rD, [%rS+OFF] */
	F_ST,     /* stw [%rD+OFF], IMM */
	F_STX,    /* stxw [%rD+OFF], %rS */
	F_LDDW,   /* lddw %rD, IMM64 | pseudo source */
	F_LDABS,  /* ldabsw IMM */
	F_LDIND,  /* ldindw %rS, IMM */
	F_JA,     /* ja TARGET (off) */
	F_JA32,   /* ja32 TARGET (imm) */
	F_JCOND,  /* jeq %rD, %rS|IMM, TARGET */
	F_CALL,   /* call [helper|local|runtime|kfunc] N|TARGET */
	F_CALLX,  /* callx %rD */
	F_EXIT,   /* exit */
	F_LOCK,   /* lock [fetch] OP [%rD+OFF], %rS */
	F_RAW,    /* .raw 0xSLOT */
};

struct mnemonic {
	const char *name;
	uint8_t form;
	uint8_t code;
	int16_t off; /* fixed offset: sdiv/smod, movsx width */
	int32_t imm; /* fixed immediate: byte swap width */
};

#define ALU32(op) (VISOR_CLS_ALU | (op))
#define ALU64(op) (VISOR_CLS_ALU64 | (op))
#define SWAP_LE (VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_LE)
#define SWAP_BE (VISOR_CLS_ALU | VISOR_ALU_END | VISOR_END_TO_BE)
#define SWAP_64 (VISOR_CLS_ALU64 | VISOR_ALU_END)
#define LDX(mode, size) (VISOR_CLS_LDX | (mode) | (size))
#define ST(size) (VISOR_CLS_ST | VISOR_MODE_MEM | (size))
#define STX(size) (VISOR_CLS_STX | VISOR_MODE_MEM | (size))
#define LD(mode, size) (VISOR_CLS_LD | (mode) | (size))

/* Mnemonics spelled out in full. */
static const struct mnemonic fixed_mnemonics[] = {
	/* byte swaps: imm is the width */
	{"le16", F_END, SWAP_LE, 0, 16},
	{"le32", F_END, SWAP_LE, 0, 32},
	{"le64", F_END, SWAP_LE, 0, 64},
	{"be16", F_END, SWAP_BE, 0, 16},
	{"be32", F_END, SWAP_BE, 0, 32},
	{"be64", F_END, SWAP_BE, 0, 64},
	{"bswap16", F_END, SWAP_64, 0, 16},
	{"bswap32", F_END, SWAP_64, 0, 32},
	{"bswap64", F_END, SWAP_64, 0, 64},
	{"swap16", F_END, SWAP_64, 0, 16}, /* bpf_conformance's spelling */
	{"swap32", F_END, SWAP_64, 0, 32},
	{"swap64", F_END, SWAP_64, 0, 64},

	/* sign-extending moves: movsx<from><to>, off is the source width */
	{"movsx864", F_MOVSX, ALU64(VISOR_ALU_MOV | VISOR_SRC_X), 8, 0},
	{"movsx1664", F_MOVSX, ALU64(VISOR_ALU_MOV | VISOR_SRC_X), 16, 0},
	{"movsx3264", F_MOVSX, ALU64(VISOR_ALU_MOV | VISOR_SRC_X), 32, 0},
	{"movsx832", F_MOVSX, ALU32(VISOR_ALU_MOV | VISOR_SRC_X), 8, 0},
	{"movsx1632", F_MOVSX, ALU32(VISOR_ALU_MOV | VISOR_SRC_X), 16, 0},

	/* memory */
	{"ldxb", F_LDX, LDX(VISOR_MODE_MEM, VISOR_SIZE_B), 0, 0},
	{"ldxh", F_LDX, LDX(VISOR_MODE_MEM, VISOR_SIZE_H), 0, 0},
	{"ldxw", F_LDX, LDX(VISOR_MODE_MEM, VISOR_SIZE_W), 0, 0},
	{"ldxdw", F_LDX, LDX(VISOR_MODE_MEM, VISOR_SIZE_DW), 0, 0},
	{"ldxsb", F_LDX, LDX(VISOR_MODE_MEMSX, VISOR_SIZE_B), 0, 0},
	{"ldxsh", F_LDX, LDX(VISOR_MODE_MEMSX, VISOR_SIZE_H), 0, 0},
	{"ldxsw", F_LDX, LDX(VISOR_MODE_MEMSX, VISOR_SIZE_W), 0, 0},
	{"stb", F_ST, ST(VISOR_SIZE_B), 0, 0},
	{"sth", F_ST, ST(VISOR_SIZE_H), 0, 0},
	{"stw", F_ST, ST(VISOR_SIZE_W), 0, 0},
	{"stdw", F_ST, ST(VISOR_SIZE_DW), 0, 0},
	{"stxb", F_STX, STX(VISOR_SIZE_B), 0, 0},
	{"stxh", F_STX, STX(VISOR_SIZE_H), 0, 0},
	{"stxw", F_STX, STX(VISOR_SIZE_W), 0, 0},
	{"stxdw", F_STX, STX(VISOR_SIZE_DW), 0, 0},
	{"lock", F_LOCK, VISOR_CLS_STX | VISOR_MODE_ATOMIC, 0, 0},
	{"lddw", F_LDDW, VISOR_OPCODE_LDDW, 0, 0},

	/* legacy packet access (result in r0) */
	{"ldabsb", F_LDABS, LD(VISOR_MODE_ABS, VISOR_SIZE_B), 0, 0},
	{"ldabsh", F_LDABS, LD(VISOR_MODE_ABS, VISOR_SIZE_H), 0, 0},
	{"ldabsw", F_LDABS, LD(VISOR_MODE_ABS, VISOR_SIZE_W), 0, 0},
	{"ldabsdw", F_LDABS, LD(VISOR_MODE_ABS, VISOR_SIZE_DW), 0, 0},
	{"ldindb", F_LDIND, LD(VISOR_MODE_IND, VISOR_SIZE_B), 0, 0},
	{"ldindh", F_LDIND, LD(VISOR_MODE_IND, VISOR_SIZE_H), 0, 0},
	{"ldindw", F_LDIND, LD(VISOR_MODE_IND, VISOR_SIZE_W), 0, 0},
	{"ldinddw", F_LDIND, LD(VISOR_MODE_IND, VISOR_SIZE_DW), 0, 0},

	/* control flow */
	{"ja", F_JA, VISOR_CLS_JMP | VISOR_JMP_JA, 0, 0},
	{"ja32", F_JA32, VISOR_CLS_JMP32 | VISOR_JMP_JA, 0, 0},
	{"gotol", F_JA32, VISOR_CLS_JMP32 | VISOR_JMP_JA, 0, 0},
	{"call", F_CALL, VISOR_OPCODE_CALL, 0, 0},
	{"callx", F_CALLX, VISOR_OPCODE_CALL | VISOR_SRC_X, 0, 0},
	{"exit", F_EXIT, VISOR_OPCODE_EXIT, 0, 0},

	/* one slot given as its 64-bit little-endian value */
	{".raw", F_RAW, 0, 0, 0},
};

/* ALU operations: no suffix or "64" is the ALU64 class, "32" the ALU class. */
static const struct mnemonic alu_mnemonics[] = {
	{"add", F_ALU, VISOR_ALU_ADD, 0, 0},
	{"sub", F_ALU, VISOR_ALU_SUB, 0, 0},
	{"mul", F_ALU, VISOR_ALU_MUL, 0, 0},
	{"div", F_ALU, VISOR_ALU_DIV, 0, 0},
	{"sdiv", F_ALU, VISOR_ALU_DIV, 1, 0},
	{"or", F_ALU, VISOR_ALU_OR, 0, 0},
	{"and", F_ALU, VISOR_ALU_AND, 0, 0},
	{"lsh", F_ALU, VISOR_ALU_LSH, 0, 0},
	{"rsh", F_ALU, VISOR_ALU_RSH, 0, 0},
	{"neg", F_NEG, VISOR_ALU_NEG, 0, 0},
	{"mod", F_ALU, VISOR_ALU_MOD, 0, 0},
	{"smod", F_ALU, VISOR_ALU_MOD, 1, 0},
	{"xor", F_ALU, VISOR_ALU_XOR, 0, 0},
	{"mov", F_ALU, VISOR_ALU_MOV, 0, 0},
	{"arsh", F_ALU, VISOR_ALU_ARSH, 0, 0},
};

/* Conditional jumps: no suffix is the JMP class, "32" the JMP32 class. */
static const struct mnemonic jmp_mnemonics[] = {
	{"jeq", F_JCOND, VISOR_JMP_JEQ, 0, 0},
	{"jgt", F_JCOND, VISOR_JMP_JGT, 0, 0},
	{"jge", F_JCOND, VISOR_JMP_JGE, 0, 0},
	{"jset", F_JCOND, VISOR_JMP_JSET, 0, 0},
	{"jne", F_JCOND, VISOR_JMP_JNE, 0, 0},
	{"jsgt", F_JCOND, VISOR_JMP_JSGT, 0, 0},
	{"jsge", F_JCOND, VISOR_JMP_JSGE, 0, 0},
	{"jlt", F_JCOND, VISOR_JMP_JLT, 0, 0},
	{"jle", F_JCOND, VISOR_JMP_JLE, 0, 0},
	{"jslt", F_JCOND, VISOR_JMP_JSLT, 0, 0},
	{"jsle", F_JCOND, VISOR_JMP_JSLE, 0, 0},
};

/* Atomic operations after "lock" ("32" suffix: 32-bit), imm of STX|ATOMIC. */
static const struct {
	const char *name;
	int32_t imm;
} atomic_ops[] = {
	{"add", VISOR_ATOMIC_ADD},
	{"or", VISOR_ATOMIC_OR},
	{"and", VISOR_ATOMIC_AND},
	{"xor", VISOR_ATOMIC_XOR},
	{"xchg", VISOR_ATOMIC_XCHG},       /* fetch is implied */
	{"cmpxchg", VISOR_ATOMIC_CMPXCHG}, /* fetch is implied */
};

/* Pseudo sources of lddw: "lddw %r1, map_value 3 + 8". */
static const struct {
	const char *name;
	uint8_t src;
} lddw_sources[] = {
	{"map_fd", VISOR_LDDW_MAP_FD},
	{"map_value", VISOR_LDDW_MAP_VALUE},
	{"btf_id", VISOR_LDDW_BTF_ID},
	{"func", VISOR_LDDW_FUNC},
	{"map_idx", VISOR_LDDW_MAP_IDX},
	{"map_idx_value", VISOR_LDDW_MAP_IDX_VALUE},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct label {
	const char *name; /* points into the source text; NULL = empty bucket */
	size_t len;
	size_t slot;
	size_t line;
};

/* A label reference waiting for its label: patches off or imm of a slot. */
struct fixup {
	const char *name;
	size_t len;
	size_t slot;
	size_t line, col;
	bool in_imm;
};

struct as {
	/* the line being parsed */
	const char *line_start, *p, *eol;
	size_t line;

	struct visor_insn *insns;
	size_t count, cap;

	struct label *labels; /* open addressing, power-of-two size */
	size_t nlabels, label_cap;

	struct fixup *fixups;
	size_t nfixups, fixup_cap;

	bool have_exit; /* the implicit "exit" label: the first exit */
	size_t first_exit;

	char *err;
	size_t err_len;
};

/* ---- errors ------------------------------------------------------------- */

static int fail_at(struct as *as, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct as *as, const char *at, const char *fmt, ...)
{
	if (as->err && as->err_len) {
		int n = snprintf(as->err, as->err_len, "line %zu, column %zu: ", as->line,
				 (size_t)(at - as->line_start) + 1);
		if (n >= 0 && (size_t)n < as->err_len) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(as->err + n, as->err_len - n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int out_of_memory(struct as *as)
{
	if (as->err && as->err_len)
		snprintf(as->err, as->err_len, "out of memory");
	return -ENOMEM;
}

/* ---- characters and tokens ---------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_start(char c)
{
	return is_alpha(c) || c == '_' || c == '.';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static void skip_space(struct as *as)
{
	while (as->p < as->eol && is_space(*as->p))
		as->p++;
}

/* A comment ("#" or ";") runs to the end of the line. */
static bool at_end(struct as *as)
{
	skip_space(as);
	return as->p >= as->eol || *as->p == '#' || *as->p == ';';
}

/* Operands are separated by a comma, blanks, or both. */
static void skip_separator(struct as *as)
{
	skip_space(as);
	if (as->p < as->eol && *as->p == ',') {
		as->p++;
		skip_space(as);
	}
}

/* Quotes the token at p for an error message, escaping what is not printable
 * (the input may be anything) and cutting long tokens short. */
static void describe_token(const char *p, const char *eol, char *buf, size_t len)
{
	if (p >= eol || *p == '#' || *p == ';') {
		snprintf(buf, len, "end of line");
		return;
	}
	const char *end = p + 1;
	if (is_ident_char(*p) || *p == '%' || *p == '+' || *p == '-')
		while (end < eol && (is_ident_char(*end) || *end == '%'))
			end++;
	size_t n = 0;
	buf[n++] = '\'';
	for (const char *q = p; q < end && n + 8 < len; q++) {
		unsigned char c = (unsigned char)*q;
		if (q - p >= 40) {
			n += snprintf(buf + n, len - n, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf[n++] = (char)c;
		else
			n += snprintf(buf + n, len - n, "\\x%02x", c);
	}
	buf[n++] = '\'';
	buf[n] = 0;
}

/* "expected <what>, found '<token at p>'" */
static int expected(struct as *as, const char *what)
{
	char tok[64];
	describe_token(as->p, as->eol, tok, sizeof(tok));
	return fail_at(as, as->p, "expected %s, found %s", what, tok);
}

static size_t ident_length(const char *p, const char *eol)
{
	const char *q = p;
	if (q < eol && is_ident_start(*q))
		for (q++; q < eol && is_ident_char(*q); q++)
			;
	return (size_t)(q - p);
}

/* Case-insensitive comparison of a token with a lowercase name. */
static bool token_is(const char *tok, size_t len, const char *name)
{
	size_t i;
	for (i = 0; i < len; i++)
		if (!name[i] || lower(tok[i]) != name[i])
			return false;
	return name[i] == 0;
}

/* Consumes the identifier `word` if it is next. */
static bool accept_word(struct as *as, const char *word)
{
	skip_space(as);
	size_t len = ident_length(as->p, as->eol);
	if (!len || !token_is(as->p, len, word))
		return false;
	as->p += len;
	return true;
}

/* ---- operands ----------------------------------------------------------- */

/* A number as written: magnitude and sign, so that callers can apply their
 * own range ("fits in 64 bits" for immediates, int16 for offsets...). */
struct number {
	uint64_t mag;
	bool neg;
};

static int parse_number(struct as *as, struct number *num, bool allow_sign)
{
	skip_space(as);
	const char *start = as->p, *q = as->p;
	unsigned base = 10;
	bool overflow = false;

	num->mag = 0;
	num->neg = false;
	if (allow_sign && q < as->eol && (*q == '+' || *q == '-'))
		num->neg = *q++ == '-';
	if (q + 2 < as->eol && q[0] == '0' && (q[1] == 'x' || q[1] == 'X') &&
	    visor_hex_digit(q[2]) >= 0) {
		base = 16;
		q += 2;
	}
	if (q >= as->eol || visor_hex_digit(*q) < 0 || (base == 10 && !is_digit(*q)))
		return expected(as, allow_sign ? "number" : "unsigned number");
	for (; q < as->eol; q++) {
		int d = visor_hex_digit(*q);
		if (d < 0 || (unsigned)d >= base)
			break;
		if (num->mag > (UINT64_MAX - (unsigned)d) / base)
			overflow = true;
		num->mag = num->mag * base + (unsigned)d;
	}
	if (q < as->eol && is_ident_char(*q))
		return expected(as, "number");
	if (overflow || (num->neg && num->mag > (uint64_t)INT64_MAX + 1)) {
		char tok[64];
		describe_token(start, as->eol, tok, sizeof(tok));
		return fail_at(as, start, "number %s does not fit in 64 bits", tok);
	}
	as->p = q;
	return 0;
}

static uint64_t number_value(const struct number *num)
{
	return num->neg ? -num->mag : num->mag;
}

/* true if min <= num <= max */
static bool number_in(const struct number *num, int64_t min, int64_t max)
{
	if (num->neg)
		return num->mag <= (uint64_t)-(min + 1) + 1;
	return num->mag <= (uint64_t)max;
}

/* "+ N" or "- N": an explicit sign, maybe followed by blanks. */
static int parse_spaced_number(struct as *as, struct number *num)
{
	skip_space(as);
	if (as->p >= as->eol || (*as->p != '+' && *as->p != '-'))
		return expected(as, "'+' or '-'");
	bool neg = *as->p++ == '-';
	int err = parse_number(as, num, false);
	num->neg = neg && num->mag;
	return err;
}

/* An immediate: anything that fits in 64 bits, truncated to the 32-bit field
 * as bpf_conformance's assembler does ("mov32 %r1, 0x876543210"). */
static int parse_imm(struct as *as, int32_t *imm)
{
	struct number num;
	int err = parse_number(as, &num, true);
	if (!err)
		*imm = (int32_t)(uint32_t)number_value(&num);
	return err;
}

/* Registers are %r0..%r15 (or r0..r15); r11..r15 encode but fail checking. */
static bool register_at(const char *p, const char *eol, uint8_t *reg, const char **end)
{
	if (p < eol && *p == '%')
		p++;
	if (p + 1 >= eol || lower(*p) != 'r' || !is_digit(p[1]))
		return false;
	unsigned v = 0, digits = 0;
	for (p++; p < eol && is_digit(*p) && digits < 3; p++, digits++)
		v = v * 10 + (unsigned)(*p - '0');
	if (v > 15 || (p < eol && is_ident_char(*p)))
		return false;
	*reg = (uint8_t)v;
	*end = p;
	return true;
}

static bool looks_like_register(struct as *as)
{
	skip_space(as);
	const char *p = as->p;
	if (p < as->eol && *p == '%')
		return true;
	return p + 1 < as->eol && lower(*p) == 'r' && is_digit(p[1]);
}

static int parse_reg(struct as *as, uint8_t *reg)
{
	skip_space(as);
	if (!register_at(as->p, as->eol, reg, &as->p))
		return expected(as, "register");
	return 0;
}

/* [%rN], [%rN+OFF], [%rN-OFF]; OFF may be written as a signed or unsigned
 * 16-bit number (so 0xffff is -1, as in bpf_conformance). */
static int parse_mem(struct as *as, uint8_t *reg, int16_t *off)
{
	struct number num = {0, false};
	bool has_offset = false;
	int err;

	skip_space(as);
	if (as->p >= as->eol || *as->p != '[')
		return expected(as, "memory operand '[%rN+offset]'");
	as->p++;
	if ((err = parse_reg(as, reg)))
		return err;
	skip_space(as);
	if (as->p < as->eol && (*as->p == '+' || *as->p == '-')) {
		const char *at = as->p;
		if ((err = parse_spaced_number(as, &num)))
			return err;
		if (!number_in(&num, INT16_MIN, UINT16_MAX))
			return fail_at(as, at, "offset out of range (16 bits)");
		has_offset = true;
		skip_space(as);
	}
	if (as->p >= as->eol || *as->p != ']')
		return expected(as, has_offset ? "']'" : "'+', '-' or ']'");
	as->p++;
	*off = (int16_t)(uint16_t)number_value(&num);
	return 0;
}

/* A jump target: +N / -N / N (slots after the next instruction) or a label.
 * A label becomes a fixup on the instruction about to be emitted. */
static int parse_target(struct as *as, bool in_imm, int32_t *value)
{
	skip_space(as);
	const char *at = as->p;
	size_t len = ident_length(as->p, as->eol);

	if (len) {
		if (as->nfixups == as->fixup_cap) {
			size_t cap = as->fixup_cap ? as->fixup_cap * 2 : 16;
			struct fixup *f = realloc(as->fixups, cap * sizeof(*f));
			if (!f)
				return out_of_memory(as);
			as->fixups = f;
			as->fixup_cap = cap;
		}
		as->fixups[as->nfixups++] = (struct fixup){
			.name = at,
			.len = len,
			.slot = as->count,
			.line = as->line,
			.col = (size_t)(at - as->line_start) + 1,
			.in_imm = in_imm,
		};
		as->p += len;
		*value = 0;
		return 0;
	}
	if (as->p < as->eol && (*as->p == '+' || *as->p == '-' || is_digit(*as->p))) {
		struct number num;
		int err = parse_number(as, &num, true);
		if (err)
			return err;
		if (in_imm ? !number_in(&num, INT32_MIN, INT32_MAX) :
			     !number_in(&num, INT16_MIN, INT16_MAX))
			return fail_at(as, at, "jump offset out of range");
		*value = (int32_t)number_value(&num);
		return 0;
	}
	return expected(as, "jump target (+N, -N or label)");
}

/* ---- output ------------------------------------------------------------- */

static int emit(struct as *as, struct visor_insn insn)
{
	if (as->count == as->cap) {
		size_t cap = as->cap ? as->cap * 2 : 64;
		struct visor_insn *n = realloc(as->insns, cap * sizeof(*n));
		if (!n)
			return out_of_memory(as);
		as->insns = n;
		as->cap = cap;
	}
	as->insns[as->count++] = insn;
	return 0;
}

/* ---- labels ------------------------------------------------------------- */

static size_t label_hash(const char *s, size_t len)
{
	size_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct label *label_find(struct as *as, const char *name, size_t len)
{
	if (!as->label_cap)
		return NULL;
	size_t mask = as->label_cap - 1;
	for (size_t i = label_hash(name, len) & mask;; i = (i + 1) & mask) {
		struct label *l = &as->labels[i];
		if (!l->name)
			return NULL;
		if (l->len == len && !memcmp(l->name, name, len))
			return l;
	}
}

static int label_define(struct as *as, const char *name, size_t len)
{
	struct label *old = label_find(as, name, len);
	if (old)
		return fail_at(as, name, "duplicate label '%.*s' (first defined at line %zu)",
			       (int)(len > 40 ? 40 : len), name, old->line);

	if (2 * (as->nlabels + 1) > as->label_cap) { /* keep the table half empty */
		size_t cap = as->label_cap ? as->label_cap * 2 : 64;
		struct label *t = calloc(cap, sizeof(*t));
		if (!t)
			return out_of_memory(as);
		for (size_t i = 0; i < as->label_cap; i++) {
			struct label *l = &as->labels[i];
			if (!l->name)
				continue;
			size_t j = label_hash(l->name, l->len) & (cap - 1);
			while (t[j].name)
				j = (j + 1) & (cap - 1);
			t[j] = *l;
		}
		free(as->labels);
		as->labels = t;
		as->label_cap = cap;
	}
	size_t mask = as->label_cap - 1, i = label_hash(name, len) & mask;
	while (as->labels[i].name)
		i = (i + 1) & mask;
	as->labels[i] = (struct label){name, len, as->count, as->line};
	as->nlabels++;
	return 0;
}

static int resolve_fixups(struct as *as)
{
	for (size_t i = 0; i < as->nfixups; i++) {
		const struct fixup *f = &as->fixups[i];
		struct label *l = label_find(as, f->name, f->len);
		size_t target;
		int n = (int)(f->len > 40 ? 40 : f->len);

		if (l)
			target = l->slot;
		else if (f->len == 4 && !memcmp(f->name, "exit", 4) && as->have_exit)
			target = as->first_exit; /* bpf_conformance's implicit label */
		else {
			as->line = f->line;
			as->line_start = f->name - (f->col - 1);
			return fail_at(as, f->name, "undefined label '%.*s'", n, f->name);
		}

		int64_t delta = (int64_t)target - (int64_t)f->slot - 1;
		struct visor_insn *in = &as->insns[f->slot];
		if (f->in_imm ? delta < INT32_MIN || delta > INT32_MAX :
				delta < INT16_MIN || delta > INT16_MAX) {
			as->line = f->line;
			as->line_start = f->name - (f->col - 1);
			return fail_at(as, f->name,
				       "jump offset out of range (label '%.*s' is %lld slots away)",
				       n, f->name, (long long)delta);
		}
		if (f->in_imm)
			in->imm = (int32_t)delta;
		else
			in->off = (int16_t)delta;
	}
	return 0;
}

/* ---- instructions ------------------------------------------------------- */

static const struct mnemonic *find_in(const struct mnemonic *table, size_t n, const char *tok,
				      size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (token_is(tok, len, table[i].name))
			return &table[i];
	return NULL;
}

/* Splits a "32" or "64" width suffix off a mnemonic. */
static size_t strip_width(const char *tok, size_t len, int *width)
{
	*width = 64;
	if (len > 2 && tok[len - 2] == '3' && tok[len - 1] == '2') {
		*width = 32;
		return len - 2;
	}
	if (len > 2 && tok[len - 2] == '6' && tok[len - 1] == '4')
		return len - 2;
	return len;
}

/* Resolves a mnemonic to its table entry, with the class folded into code. */
static bool lookup_mnemonic(const char *tok, size_t len, struct mnemonic *m)
{
	const struct mnemonic *f = find_in(fixed_mnemonics, ARRAY_SIZE(fixed_mnemonics), tok, len);
	int width;
	size_t base = strip_width(tok, len, &width);

	if (f) {
		*m = *f;
		return true;
	}
	if ((f = find_in(alu_mnemonics, ARRAY_SIZE(alu_mnemonics), tok, base))) {
		*m = *f;
		m->code |= width == 32 ? VISOR_CLS_ALU : VISOR_CLS_ALU64;
		return true;
	}
	/* jeq64 is not a thing: the JMP class has no suffix */
	if (base != len && width == 64)
		return false;
	if ((f = find_in(jmp_mnemonics, ARRAY_SIZE(jmp_mnemonics), tok, base))) {
		*m = *f;
		m->code |= width == 32 ? VISOR_CLS_JMP32 : VISOR_CLS_JMP;
		return true;
	}
	return false;
}

/* Second operand of ALU and jumps: a register selects SRC_X. */
static int parse_reg_or_imm(struct as *as, struct visor_insn *in)
{
	if (looks_like_register(as)) {
		uint8_t src;
		if (!register_at(as->p, as->eol, &src, &as->p))
			return expected(as, "register or immediate");
		in->code |= VISOR_SRC_X;
		in->src = src;
		return 0;
	}
	skip_space(as);
	if (as->p >= as->eol || !(*as->p == '+' || *as->p == '-' || is_digit(*as->p)))
		return expected(as, "register or immediate");
	return parse_imm(as, &in->imm);
}

static int parse_lddw(struct as *as, struct visor_insn *in, struct visor_insn *hi)
{
	uint8_t dst;
	int err;

	if ((err = parse_reg(as, &dst)))
		return err;
	in->dst = dst;
	skip_separator(as);

	size_t len = ident_length(as->p, as->eol);
	if (!len) {
		struct number num;
		if ((err = parse_number(as, &num, true)))
			return err;
		uint64_t v = number_value(&num);
		in->imm = (int32_t)(uint32_t)v;
		hi->imm = (int32_t)(uint32_t)(v >> 32);
		return 0;
	}

	size_t i;
	for (i = 0; i < ARRAY_SIZE(lddw_sources); i++)
		if (token_is(as->p, len, lddw_sources[i].name))
			break;
	if (i == ARRAY_SIZE(lddw_sources))
		return expected(as, "64-bit immediate or map_fd, map_value, btf_id, func, map_idx, "
				    "map_idx_value");
	in->src = lddw_sources[i].src;
	as->p += len;

	if (in->src == VISOR_LDDW_FUNC)
		return parse_target(as, true, &in->imm);
	if ((err = parse_imm(as, &in->imm)))
		return err;
	if (in->src == VISOR_LDDW_MAP_VALUE || in->src == VISOR_LDDW_MAP_IDX_VALUE) {
		/* optional "+ offset" into the value, in the second slot */
		skip_space(as);
		if (as->p < as->eol && (*as->p == '+' || *as->p == '-')) {
			struct number num;
			if ((err = parse_spaced_number(as, &num)))
				return err;
			hi->imm = (int32_t)(uint32_t)number_value(&num);
		}
	}
	return 0;
}

static int parse_call(struct as *as, struct visor_insn *in)
{
	uint8_t reg;

	if (looks_like_register(as)) {
		/* "call %r2": bpf_conformance's callx, register in dst */
		if (!register_at(as->p, as->eol, &reg, &as->p))
			return expected(as, "register");
		in->code |= VISOR_SRC_X;
		in->dst = reg;
		return 0;
	}
	if (accept_word(as, "local")) {
		in->src = VISOR_CALL_LOCAL;
		return parse_target(as, true, &in->imm);
	}
	if (accept_word(as, "runtime") || accept_word(as, "kfunc"))
		in->src = VISOR_CALL_KFUNC;
	else
		accept_word(as, "helper");
	skip_space(as);
	if (as->p >= as->eol || !(*as->p == '+' || *as->p == '-' || is_digit(*as->p)))
		return expected(as, in->src ? "function id" :
				"helper id or local, runtime, kfunc, helper");
	return parse_imm(as, &in->imm);
}

static int parse_lock(struct as *as, struct visor_insn *in)
{
	bool fetch = accept_word(as, "fetch");
	skip_space(as);
	const char *at = as->p;
	size_t len = ident_length(as->p, as->eol), i;
	int width, err;
	size_t base = strip_width(as->p, len, &width);
	uint8_t reg;

	for (i = 0; len && i < ARRAY_SIZE(atomic_ops); i++)
		if (token_is(at, base, atomic_ops[i].name))
			break;
	if (!len || i == ARRAY_SIZE(atomic_ops))
		return expected(as, "atomic operation (add, or, and, xor, xchg, cmpxchg)");
	as->p += len;
	in->code |= width == 32 ? VISOR_SIZE_W : VISOR_SIZE_DW;
	in->imm = atomic_ops[i].imm | (fetch ? VISOR_ATOMIC_FETCH : 0);

	if ((err = parse_mem(as, &reg, &in->off)))
		return err;
	in->dst = reg;
	skip_separator(as);
	if ((err = parse_reg(as, &reg)))
		return err;
	in->src = reg;
	return 0;
}

/* Operands of one instruction; emits its slot(s). */
static int parse_insn(struct as *as, const struct mnemonic *m)
{
	struct visor_insn in = {.code = m->code, .off = m->off, .imm = m->imm};
	struct visor_insn hi = {0};
	uint8_t reg;
	int err = 0;

	switch (m->form) {
	case F_ALU:
	case F_MOVSX:
		if ((err = parse_reg(as, &reg)))
			break;
		in.dst = reg;
		skip_separator(as);
		if (m->form == F_ALU) {
			err = parse_reg_or_imm(as, &in);
		} else if (!(err = parse_reg(as, &reg))) {
			in.src = reg;
		}
		break;
	case F_NEG:
	case F_END:
	case F_CALLX:
		if (!(err = parse_reg(as, &reg)))
			in.dst = reg;
		break;
	case F_LDX:
		if ((err = parse_reg(as, &reg)))
			break;
		in.dst = reg;
		skip_separator(as);
		if (!(err = parse_mem(as, &reg, &in.off)))
			in.src = reg;
		break;
	case F_ST:
	case F_STX:
		if ((err = parse_mem(as, &reg, &in.off)))
			break;
		in.dst = reg;
		skip_separator(as);
		if (m->form == F_ST)
			err = parse_imm(as, &in.imm);
		else if (!(err = parse_reg(as, &reg)))
			in.src = reg;
		break;
	case F_LDDW:
		err = parse_lddw(as, &in, &hi);
		break;
	case F_LDIND:
		if ((err = parse_reg(as, &reg)))
			break;
		in.src = reg;
		skip_separator(as);
		/* fall through */
	case F_LDABS:
		err = parse_imm(as, &in.imm);
		break;
	case F_JA: {
		int32_t v;
		if (!(err = parse_target(as, false, &v)))
			in.off = (int16_t)v;
		break;
	}
	case F_JA32:
		err = parse_target(as, true, &in.imm);
		break;
	case F_JCOND: {
		int32_t v;
		if ((err = parse_reg(as, &reg)))
			break;
		in.dst = reg;
		skip_separator(as);
		if ((err = parse_reg_or_imm(as, &in)))
			break;
		skip_separator(as);
		if (!(err = parse_target(as, false, &v)))
			in.off = (int16_t)v;
		break;
	}
	case F_CALL:
		err = parse_call(as, &in);
		break;
	case F_EXIT:
		if (!as->have_exit) {
			as->have_exit = true;
			as->first_exit = as->count;
		}
		break;
	case F_LOCK:
		err = parse_lock(as, &in);
		break;
	case F_RAW: {
		struct number num;
		if ((err = parse_number(as, &num, true)))
			break;
		uint64_t v = number_value(&num);
		uint8_t bytes[8];
		for (int i = 0; i < 8; i++)
			bytes[i] = (uint8_t)(v >> (8 * i));
		memcpy(&in, bytes, sizeof(in));
		break;
	}
	}
	if (err)
		return err;
	if (!at_end(as))
		return expected(as, "end of line");
	if ((err = emit(as, in)))
		return err;
	if (m->form == F_LDDW)
		err = emit(as, hi);
	return err;
}

/* One line: any number of "label:" then at most one instruction. */
static int parse_line(struct as *as)
{
	for (;;) {
		if (at_end(as))
			return 0;
		const char *tok = as->p;
		size_t len = ident_length(as->p, as->eol);
		if (!len)
			return expected(as, "instruction or label");
		as->p += len;
		skip_space(as);
		if (as->p < as->eol && *as->p == ':') {
			as->p++;
			int err = label_define(as, tok, len);
			if (err)
				return err;
			continue;
		}

		struct mnemonic m;
		if (!lookup_mnemonic(tok, len, &m))
			return fail_at(as, tok, "unknown mnemonic '%.*s'",
				       (int)(len > 40 ? 40 : len), tok);
		return parse_insn(as, &m);
	}
}

int visor_asm(const char *text, struct visor_insn **out, size_t *count, char *err, size_t err_len)
{
	struct as as = {.err = err, .err_len = err_len};
	int ret = 0;

	if (err && err_len)
		err[0] = 0;
	if (!out || !count)
		return -EINVAL;
	*out = NULL;
	*count = 0;
	if (!text)
		text = "";

	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		as.line++;
		as.line_start = as.p = p;
		as.eol = eol;
		if ((ret = parse_line(&as)))
			goto out;
		p = *eol ? eol + 1 : eol;
	}
	if ((ret = resolve_fixups(&as)))
		goto out;

	if (!as.insns) /* empty program: still hand back something to free() */
		as.insns = malloc(sizeof(*as.insns));
	if (!as.insns) {
		ret = out_of_memory(&as);
		goto out;
	}
	*out = as.insns;
	*count = as.count;
	as.insns = NULL;
out:
	free(as.insns);
	free(as.labels);
	free(as.fixups);
	return ret;
}
