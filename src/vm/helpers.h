/* Shared by the Linux helpers (helpers_*.c). */
#ifndef VISOR_HELPERS_H
#define VISOR_HELPERS_H

#include "runtime_internal.h"

/* Is [p, p + len) memory the run may read (write)? If not, fails the run
 * with a message naming the helper and the argument. */
/* Parameter list of a helper that may ignore some of r1..r5 and run. */
#define HELPER_ARGS                                                                \
	uint64_t r1 __attribute__((unused)), uint64_t r2 __attribute__((unused)), \
	uint64_t r3 __attribute__((unused)), uint64_t r4 __attribute__((unused)), \
	uint64_t r5 __attribute__((unused)), struct visor_vm_run *run __attribute__((unused))

bool visor_helper_mem(struct visor_vm_run *run, uint64_t p, uint64_t len, bool write,
		      const char *helper, const char *arg);
int visor_register_map_helpers(struct visor_vm *vm);
/* helpers_linux.c: reads of any address of this process that fail cleanly
 * (false / -EFAULT) instead of crashing; the string version copies at most
 * size - 1 bytes and a NUL and returns the length with the NUL. */
bool visor_safe_read(void *dst, uint64_t src, size_t len);
long visor_safe_read_str(char *dst, uint64_t src, uint64_t size);
/* One registration per helper family, each in its own file; all called by
 * visor_vm_register_linux_helpers (helpers_linux.c). 0 or -ENOMEM. */
int visor_register_tailcall_helpers(struct visor_vm *vm); /* helpers_tailcall.c */
int visor_register_callback_helpers(struct visor_vm *vm); /* helpers_callback.c */
int visor_register_packet_helpers(struct visor_vm *vm);   /* helpers_packet.c */
int visor_register_output_helpers(struct visor_vm *vm);   /* helpers_output.c */
int visor_register_lock_helpers(struct visor_vm *vm);     /* helpers_lock.c */

#endif
