/* What the VM shows the verifier (src/verifier, the layer above): the
 * program as it was given to visor_vm_load (before the context rewrite),
 * its binding, the mark that lets it run without run-time checks, and the
 * engine's clock. */
#ifndef VISOR_VM_VERIFIER_H
#define VISOR_VM_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include <visor/runtime.h>

const struct visor_insn *visor_vm__program(const struct visor_vm *vm, size_t *count);
struct visor_map *const *visor_vm__maps(const struct visor_vm *vm, size_t *count);
uint32_t visor_vm__prog_type(const struct visor_vm *vm);
/* ctx_size: an untyped program was verified for this much memory at r1. */
void visor_vm__set_verified(struct visor_vm *vm, bool verified, uint32_t ctx_size);

/* CLOCK_MONOTONIC in ns: compile, test-run and verification times. */
uint64_t visor_vm_now_ns(void);

#endif
