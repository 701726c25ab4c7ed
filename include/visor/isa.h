/* visor — the eBPF instruction set (RFC 9669): encoding, validation,
 * assembler and disassembler. This layer knows nothing about execution. */
#ifndef VISOR_ISA_H
#define VISOR_ISA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One 64-bit instruction slot, bit-compatible with the kernel's struct bpf_insn
 * on little-endian hosts. A 64-bit immediate load (lddw) takes two slots. */
struct visor_insn {
	uint8_t code;   /* opcode: class | size/op | mode/source */
	uint8_t dst : 4;
	uint8_t src : 4;
	int16_t off;
	int32_t imm;
};

/* Instruction classes (low 3 bits of code). */
enum {
	VISOR_CLS_LD = 0x00,
	VISOR_CLS_LDX = 0x01,
	VISOR_CLS_ST = 0x02,
	VISOR_CLS_STX = 0x03,
	VISOR_CLS_ALU = 0x04,
	VISOR_CLS_JMP = 0x05,
	VISOR_CLS_JMP32 = 0x06,
	VISOR_CLS_ALU64 = 0x07,
};
#define VISOR_CLASS(code) ((code) & 0x07)

/* Load/store: size (bits 3-4) and mode (bits 5-7). */
enum {
	VISOR_SIZE_W = 0x00,
	VISOR_SIZE_H = 0x08,
	VISOR_SIZE_B = 0x10,
	VISOR_SIZE_DW = 0x18,
};
enum {
	VISOR_MODE_IMM = 0x00,
	VISOR_MODE_ABS = 0x20,
	VISOR_MODE_IND = 0x40,
	VISOR_MODE_MEM = 0x60,
	VISOR_MODE_MEMSX = 0x80,
	VISOR_MODE_ATOMIC = 0xc0,
};
#define VISOR_SIZE(code) ((code) & 0x18)
#define VISOR_MODE(code) ((code) & 0xe0)

/* ALU/JMP: source (bit 3) and operation (bits 4-7). */
enum {
	VISOR_SRC_K = 0x00, /* immediate */
	VISOR_SRC_X = 0x08, /* register */
};
#define VISOR_SRC(code) ((code) & 0x08)
#define VISOR_OP(code) ((code) & 0xf0)

enum {
	VISOR_ALU_ADD = 0x00,
	VISOR_ALU_SUB = 0x10,
	VISOR_ALU_MUL = 0x20,
	VISOR_ALU_DIV = 0x30, /* off=1: signed */
	VISOR_ALU_OR = 0x40,
	VISOR_ALU_AND = 0x50,
	VISOR_ALU_LSH = 0x60,
	VISOR_ALU_RSH = 0x70,
	VISOR_ALU_NEG = 0x80,
	VISOR_ALU_MOD = 0x90, /* off=1: signed */
	VISOR_ALU_XOR = 0xa0,
	VISOR_ALU_MOV = 0xb0, /* off=8/16/32: sign-extending move */
	VISOR_ALU_ARSH = 0xc0,
	VISOR_ALU_END = 0xd0, /* byte swap; source bit selects LE/BE, ALU64 = bswap */
};
enum {
	VISOR_END_TO_LE = 0x00,
	VISOR_END_TO_BE = 0x08,
};

enum {
	VISOR_JMP_JA = 0x00,
	VISOR_JMP_JEQ = 0x10,
	VISOR_JMP_JGT = 0x20,
	VISOR_JMP_JGE = 0x30,
	VISOR_JMP_JSET = 0x40,
	VISOR_JMP_JNE = 0x50,
	VISOR_JMP_JSGT = 0x60,
	VISOR_JMP_JSGE = 0x70,
	VISOR_JMP_CALL = 0x80,
	VISOR_JMP_EXIT = 0x90,
	VISOR_JMP_JLT = 0xa0,
	VISOR_JMP_JLE = 0xb0,
	VISOR_JMP_JSLT = 0xc0,
	VISOR_JMP_JSLE = 0xd0,
};

/* Atomic operations: carried in imm of STX|ATOMIC. */
enum {
	VISOR_ATOMIC_FETCH = 0x01,
	VISOR_ATOMIC_ADD = 0x00,
	VISOR_ATOMIC_OR = 0x40,
	VISOR_ATOMIC_AND = 0x50,
	VISOR_ATOMIC_XOR = 0xa0,
	VISOR_ATOMIC_XCHG = 0xe0 | VISOR_ATOMIC_FETCH,
	VISOR_ATOMIC_CMPXCHG = 0xf0 | VISOR_ATOMIC_FETCH,
};

/* Source variants of the 64-bit immediate load (src field of lddw),
 * numbered as the kernel's BPF_PSEUDO_* constants. */
enum {
	VISOR_LDDW_IMM = 0,           /* dst = imm64 */
	VISOR_LDDW_MAP_FD = 1,        /* dst = map by fd (imm) */
	VISOR_LDDW_MAP_VALUE = 2,     /* dst = value of map fd (imm) + next.imm */
	VISOR_LDDW_BTF_ID = 3,        /* dst = address of kernel variable (BTF id) */
	VISOR_LDDW_FUNC = 4,          /* dst = address of code at pc + imm + 1 */
	VISOR_LDDW_MAP_IDX = 5,       /* dst = map by index into the fd array */
	VISOR_LDDW_MAP_IDX_VALUE = 6, /* dst = value of map index (imm) + next.imm */
};

/* Call variants (src field of call). */
enum {
	VISOR_CALL_HELPER = 0, /* helper by id (imm) */
	VISOR_CALL_LOCAL = 1,  /* bpf-to-bpf call to pc + imm + 1 */
	VISOR_CALL_KFUNC = 2,  /* kernel function by BTF id (imm) */
};

#define VISOR_OPCODE_LDDW (VISOR_CLS_LD | VISOR_MODE_IMM | VISOR_SIZE_DW) /* 0x18 */
#define VISOR_OPCODE_CALL (VISOR_CLS_JMP | VISOR_JMP_CALL)                /* 0x85 */
#define VISOR_OPCODE_EXIT (VISOR_CLS_JMP | VISOR_JMP_EXIT)                /* 0x95 */

#define VISOR_MAX_REG 10 /* r0..r10, r10 is the read-only frame pointer */

/* Checks that insns[idx] is a well-formed instruction: a known opcode, valid
 * registers and no reserved fields set, as the kernel's verifier requires.
 * insns[idx + 1] is looked at for lddw (must exist, with code/dst/src/off 0).
 * Control flow (jump targets) is not checked here. Returns 0, or -EINVAL with
 * a sentence in why (if non-NULL). */
int visor_insn_check(const struct visor_insn *insns, size_t count, size_t idx, char *why,
		     size_t why_len);

/* Number of slots the instruction at insns[idx] occupies (2 for lddw). */
static inline size_t visor_insn_slots(const struct visor_insn *insn)
{
	return insn->code == VISOR_OPCODE_LDDW ? 2 : 1;
}

/* Bytes accessed by a load/store of the given size bits. */
static inline unsigned visor_size_bytes(uint8_t code)
{
	static const unsigned bytes[4] = {4, 2, 1, 8};
	return bytes[(code >> 3) & 3];
}

/* ---- Assembler ---------------------------------------------------------- */

/* Assembles the uBPF / bpf_conformance textual syntax, one instruction per
 * line, with labels ("name:"), comments ("#" or ";"), and ".raw 0x<16 hex>"
 * for any 8-byte slot. On success *out is a malloc'd array of *count slots
 * (free() it). On failure returns -EINVAL and writes
 * "line L, column C: expected X, found 'Y'" to err. */
int visor_asm(const char *text, struct visor_insn **out, size_t *count, char *err, size_t err_len);

/* ---- Disassembler ------------------------------------------------------- */

enum visor_syntax {
	VISOR_SYNTAX_UBPF = 0, /* mov32 %r0, 1 ; ldxw %r1, [%r2+4] — re-assemblable */
	VISOR_SYNTAX_KERNEL,   /* w0 = 1 ; r1 = *(u32 *)(r2 + 4) — llvm-objdump / kernel log */
};

/* Disassembles the instruction at insns[idx] into buf (no newline).
 * Returns the number of slots consumed (1 or 2). An instruction that fails
 * visor_insn_check is printed as ".raw 0x..." (one slot) so that
 * visor_asm(disassembly) reproduces the bytes exactly. */
size_t visor_disasm_insn(const struct visor_insn *insns, size_t count, size_t idx,
			 enum visor_syntax syntax, char *buf, size_t buf_len);

/* Disassembles a whole program, one line per instruction, into a malloc'd
 * string (NULL on allocation failure). With with_index, lines are prefixed
 * by "   N: " as the kernel's verifier log does (not re-assemblable). */
char *visor_disasm(const struct visor_insn *insns, size_t count, enum visor_syntax syntax,
		   int with_index);

#ifdef __cplusplus
}
#endif
#endif
