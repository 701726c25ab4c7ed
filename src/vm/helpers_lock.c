/* The Linux helpers for bpf_spin_lock / bpf_spin_unlock. Work in progress: registers nothing yet. */
#include "helpers.h"

int visor_register_lock_helpers(struct visor_vm *vm)
{
	(void)vm;
	return 0;
}
