/* Well-formedness of single instructions, as strict as the kernel's verifier
 * about reserved fields, so that a program visor accepts is one the kernel
 * could decode too. Control flow and register liveness are checked elsewhere. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <visor/isa.h>

static int bad(char *why, size_t len, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_alu(const struct visor_insn *in, char *why, size_t len)
{
	int is64 = VISOR_CLASS(in->code) == VISOR_CLS_ALU64;
	int x = VISOR_SRC(in->code) == VISOR_SRC_X;
	uint8_t op = VISOR_OP(in->code);

	if (op > VISOR_ALU_END)
		return bad(why, len, "unknown ALU operation 0x%02x", op);
	if (op == VISOR_ALU_END) {
		if (is64 && x)
			return bad(why, len, "64-bit byte swap has no big-endian form");
		if (in->src || in->off)
			return bad(why, len, "byte swap uses reserved fields");
		if (in->imm != 16 && in->imm != 32 && in->imm != 64)
			return bad(why, len, "byte swap width must be 16, 32 or 64, not %d", in->imm);
		return 0;
	}
	if (op == VISOR_ALU_NEG) {
		if (x || in->src || in->off || in->imm)
			return bad(why, len, "neg uses reserved fields");
		return 0;
	}
	if (x) {
		if (in->imm)
			return bad(why, len, "register-source ALU operation has a non-zero immediate");
	} else if (in->src) {
		return bad(why, len, "immediate-source ALU operation has a non-zero source register");
	}
	switch (op) {
	case VISOR_ALU_DIV:
	case VISOR_ALU_MOD:
		if (in->off != 0 && in->off != 1)
			return bad(why, len, "division offset must be 0 (unsigned) or 1 (signed), not %d",
				   in->off);
		return 0;
	case VISOR_ALU_MOV:
		if (in->off == 0)
			return 0;
		if (!x)
			return bad(why, len, "sign-extending move needs a register source");
		if (in->off == 8 || in->off == 16 || (is64 && in->off == 32))
			return 0;
		return bad(why, len, "sign-extending move width must be 8, 16%s, not %d",
			   is64 ? " or 32" : "", in->off);
	default:
		if (in->off)
			return bad(why, len, "ALU operation has a non-zero offset");
		return 0;
	}
}

static int check_jmp(const struct visor_insn *in, char *why, size_t len)
{
	int is32 = VISOR_CLASS(in->code) == VISOR_CLS_JMP32;
	int x = VISOR_SRC(in->code) == VISOR_SRC_X;
	uint8_t op = VISOR_OP(in->code);

	switch (op) {
	case VISOR_JMP_JA:
		if (x || in->src || in->dst)
			return bad(why, len, "ja uses reserved fields");
		if (is32 ? in->off != 0 : in->imm != 0)
			return bad(why, len, "%s uses reserved fields", is32 ? "gotol" : "ja");
		return 0;
	case VISOR_JMP_CALL:
		if (is32 || x || in->dst || in->off)
			return bad(why, len, "call uses reserved fields");
		if (in->src > VISOR_CALL_KFUNC)
			return bad(why, len, "unknown call kind %u", in->src);
		return 0;
	case VISOR_JMP_EXIT:
		if (is32 || x || in->dst || in->src || in->off || in->imm)
			return bad(why, len, "exit uses reserved fields");
		return 0;
	case 0xe0:
	case 0xf0:
		return bad(why, len, "unknown jump operation 0x%02x", op);
	default:
		if (x ? in->imm != 0 : in->src != 0)
			return bad(why, len, "conditional jump uses reserved fields");
		return 0;
	}
}

static int check_ld(const struct visor_insn *insns, size_t count, size_t idx, char *why,
		    size_t len)
{
	const struct visor_insn *in = &insns[idx];

	switch (VISOR_MODE(in->code)) {
	case VISOR_MODE_IMM: {
		if (VISOR_SIZE(in->code) != VISOR_SIZE_DW)
			return bad(why, len, "immediate load must be 64-bit (lddw)");
		if (in->off)
			return bad(why, len, "lddw uses reserved fields");
		if (in->src > VISOR_LDDW_MAP_IDX_VALUE)
			return bad(why, len, "unknown lddw source %u", in->src);
		if (idx + 1 >= count)
			return bad(why, len, "lddw is missing its second slot");
		const struct visor_insn *hi = &insns[idx + 1];
		if (hi->code || hi->dst || hi->src || hi->off)
			return bad(why, len, "second slot of lddw uses reserved fields");
		if (hi->imm && in->src != VISOR_LDDW_IMM && in->src != VISOR_LDDW_MAP_VALUE &&
		    in->src != VISOR_LDDW_MAP_IDX_VALUE)
			return bad(why, len, "second slot of lddw has an immediate this source ignores");
		return 0;
	}
	case VISOR_MODE_ABS:
		/* The kernel knows 1, 2 and 4-byte legacy packet loads only. */
		if (VISOR_SIZE(in->code) == VISOR_SIZE_DW)
			return bad(why, len, "ldabs cannot be 64-bit");
		if (in->dst || in->src || in->off)
			return bad(why, len, "ldabs uses reserved fields");
		return 0;
	case VISOR_MODE_IND:
		if (VISOR_SIZE(in->code) == VISOR_SIZE_DW)
			return bad(why, len, "ldind cannot be 64-bit");
		if (in->dst || in->off)
			return bad(why, len, "ldind uses reserved fields");
		return 0;
	default:
		return bad(why, len, "unknown load mode 0x%02x", VISOR_MODE(in->code));
	}
}

static int atomic_op_ok(int32_t imm)
{
	switch (imm & ~VISOR_ATOMIC_FETCH) {
	case VISOR_ATOMIC_ADD:
	case VISOR_ATOMIC_OR:
	case VISOR_ATOMIC_AND:
	case VISOR_ATOMIC_XOR:
		return 1;
	}
	return imm == VISOR_ATOMIC_XCHG || imm == VISOR_ATOMIC_CMPXCHG;
}

static int check_mem(const struct visor_insn *in, char *why, size_t len)
{
	uint8_t cls = VISOR_CLASS(in->code), mode = VISOR_MODE(in->code);

	switch (cls) {
	case VISOR_CLS_LDX:
		if (mode != VISOR_MODE_MEM && mode != VISOR_MODE_MEMSX)
			return bad(why, len, "unknown ldx mode 0x%02x", mode);
		if (mode == VISOR_MODE_MEMSX && VISOR_SIZE(in->code) == VISOR_SIZE_DW)
			return bad(why, len, "sign-extending load cannot be 64-bit");
		if (in->imm)
			return bad(why, len, "ldx uses reserved fields");
		return 0;
	case VISOR_CLS_ST:
		if (mode != VISOR_MODE_MEM)
			return bad(why, len, "unknown st mode 0x%02x", mode);
		if (in->src)
			return bad(why, len, "st uses reserved fields");
		return 0;
	default: /* STX */
		if (mode == VISOR_MODE_MEM) {
			if (in->imm)
				return bad(why, len, "stx uses reserved fields");
			return 0;
		}
		if (mode != VISOR_MODE_ATOMIC)
			return bad(why, len, "unknown stx mode 0x%02x", mode);
		if (VISOR_SIZE(in->code) != VISOR_SIZE_W && VISOR_SIZE(in->code) != VISOR_SIZE_DW)
			return bad(why, len, "atomic operations are 32 or 64 bits wide");
		if (!atomic_op_ok(in->imm))
			return bad(why, len, "unknown atomic operation 0x%x", (unsigned)in->imm);
		return 0;
	}
}

int visor_insn_check(const struct visor_insn *insns, size_t count, size_t idx, char *why,
		     size_t why_len)
{
	if (idx >= count)
		return bad(why, why_len, "instruction index %zu past the end", idx);
	const struct visor_insn *in = &insns[idx];

	if (in->dst > VISOR_MAX_REG)
		return bad(why, why_len, "invalid destination register r%u", in->dst);
	if (in->src > VISOR_MAX_REG && !(in->code == VISOR_OPCODE_LDDW || in->code == VISOR_OPCODE_CALL))
		return bad(why, why_len, "invalid source register r%u", in->src);

	switch (VISOR_CLASS(in->code)) {
	case VISOR_CLS_ALU:
	case VISOR_CLS_ALU64:
		return check_alu(in, why, why_len);
	case VISOR_CLS_JMP:
	case VISOR_CLS_JMP32:
		return check_jmp(in, why, why_len);
	case VISOR_CLS_LD:
		return check_ld(insns, count, idx, why, why_len);
	default:
		return check_mem(in, why, why_len);
	}
}
