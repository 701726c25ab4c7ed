/* The Linux helpers for packet helpers: xdp_adjust_*, redirect*, skb_store_bytes, checksum replacement. Work in progress: registers nothing yet. */
#include "helpers.h"

int visor_register_packet_helpers(struct visor_vm *vm)
{
	(void)vm;
	return 0;
}
