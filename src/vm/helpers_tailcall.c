/* The Linux helpers for bpf_tail_call (prog arrays). Work in progress: registers nothing yet. */
#include "helpers.h"

int visor_register_tailcall_helpers(struct visor_vm *vm)
{
	(void)vm;
	return 0;
}
