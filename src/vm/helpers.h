/* Shared by the Linux helpers (helpers_*.c). */
#ifndef VISOR_HELPERS_H
#define VISOR_HELPERS_H

#include "runtime_internal.h"

/* Is [p, p + len) memory the run may read (write)? If not, fails the run
 * with a message naming the helper and the argument. */
bool visor_helper_mem(struct visor_vm_run *run, uint64_t p, uint64_t len, bool write,
		      const char *helper, const char *arg);
int visor_register_map_helpers(struct visor_vm *vm);

#endif
