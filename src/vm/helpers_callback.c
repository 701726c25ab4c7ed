/* The Linux helpers for bpf_loop and bpf_for_each_map_elem (callbacks into the program). Work in progress: registers nothing yet. */
#include "helpers.h"

int visor_register_callback_helpers(struct visor_vm *vm)
{
	(void)vm;
	return 0;
}
