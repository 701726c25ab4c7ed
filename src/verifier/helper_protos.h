/* What the verifier knows of each helper: the kind of each argument and of
 * the result, as the kernel's struct bpf_func_proto (ARG_* / RET_*). Which
 * program types may call a helper is the VM's allowlist
 * (visor_vm_helper_allowed); this table says how. */
#ifndef VISOR_VERIFIER_HELPER_PROTOS_H
#define VISOR_VERIFIER_HELPER_PROTOS_H

#include <stdbool.h>
#include <stdint.h>

enum varg {
	VARG_NONE = 0,          /* no such argument: the register is not read */
	VARG_ANYTHING,          /* any initialised value (ARG_ANYTHING) */
	VARG_MAP_PTR,           /* a map (lddw map; ARG_CONST_MAP_PTR) */
	VARG_MAP_KEY,           /* key_size initialised bytes of the map in arg 1 (ARG_PTR_TO_MAP_KEY) */
	VARG_MAP_VALUE,         /* value_size initialised bytes (ARG_PTR_TO_MAP_VALUE) */
	VARG_MAP_VALUE_UNINIT,  /* value_size bytes the helper writes (queue pop / peek) */
	VARG_MEM,               /* initialised readable memory, size in the next arg (ARG_PTR_TO_MEM | MEM_RDONLY) */
	VARG_MEM_OR_NULL,       /* the same, or NULL */
	VARG_UNINIT_MEM,        /* writable memory the helper fills, size in the next arg (MEM_UNINIT) */
	VARG_SIZE,              /* size of the previous arg, > 0, bounded (ARG_CONST_SIZE) */
	VARG_SIZE_OR_ZERO,      /* the same, may be 0 (ARG_CONST_SIZE_OR_ZERO) */
	VARG_CTX,               /* the context pointer, offset 0 (ARG_PTR_TO_CTX) */
	VARG_FUNC,              /* a callback: lddw src 4 (ARG_PTR_TO_FUNC) */
	VARG_STACK_OR_NULL,     /* a stack pointer or NULL (callback context) */
	VARG_RINGBUF_RECORD,    /* a record bpf_ringbuf_reserve returned; released (OBJ_RELEASE) */
	VARG_ALLOC_SIZE,        /* a constant size (ARG_CONST_ALLOC_SIZE_OR_ZERO) */
	VARG_SPIN_LOCK,         /* the bpf_spin_lock field of a map value (ARG_PTR_TO_SPIN_LOCK) */
	VARG_CONST_STR,         /* a NUL-terminated string in read-only map data (ARG_PTR_TO_CONST_STR) */
	VARG_FIXED_MEM,         /* writable memory of `fixed` bytes, uninitialised is fine (e.g. u64 *) */
};

enum vret {
	VRET_INTEGER = 0,           /* a scalar (RET_INTEGER) */
	VRET_VOID,                  /* r0 is not set (RET_VOID) */
	VRET_MAP_VALUE_OR_NULL,     /* a value of the map in arg 1, or NULL */
	VRET_RINGBUF_RECORD_OR_NULL,/* arg 2 bytes of ring buffer, or NULL; must be released */
};

struct visor_helper_proto {
	uint16_t id;
	const char *name;          /* "bpf_map_lookup_elem" */
	uint8_t ret;               /* enum vret */
	uint8_t args[5];           /* enum varg, r1..r5 */
	uint16_t fixed[5];         /* VARG_FIXED_MEM: the size */
	bool changes_packet;       /* packet pointers are invalid after the call */
	uint8_t callback_args;     /* VARG_FUNC: the callback's argument count */
};

/* The prototype of helper id, or NULL when the verifier does not know it
 * (the call is then refused). */
const struct visor_helper_proto *visor_verifier_helper(uint32_t id);

#endif
