/* visor — the helper functions that the bpf_conformance test suite expects
 * a runtime to provide. Used by the instruction-semantics tests and by the
 * `visor conformance-plugin` command, so they live in the library. */
#ifndef VISOR_CONFORMANCE_H
#define VISOR_CONFORMANCE_H

#include <visor/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Helper ids, as numbered by bpf_conformance. */
enum {
	VISOR_CONFORMANCE_GATHER_BYTES = 0, /* (a,b,c,d,e) -> low bytes packed, a highest */
	VISOR_CONFORMANCE_MEMFROB = 1,      /* (ptr, len): xor each byte with 42; 0 */
	VISOR_CONFORMANCE_NO_OP = 2,        /* () -> 0 */
	VISOR_CONFORMANCE_SQRTI = 3,        /* (a) -> floor(sqrt(a)) */
	VISOR_CONFORMANCE_STRCMP_EXT = 4,   /* (a, b) -> <0, 0, >0 as strcmp */
	VISOR_CONFORMANCE_UNWIND = 5,       /* (a) -> a; a == 0 ends the program, r0 = 0 */
};

/* Registers the six helpers above on vm. Returns 0 or a negative errno. */
int visor_conformance_register_helpers(struct visor_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
