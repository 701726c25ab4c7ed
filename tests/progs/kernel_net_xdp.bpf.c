// SPDX-License-Identifier: GPL-2.0
/* XDP for tests/test_kernel_net.c: counts frames per EtherType and drops
 * those whose EtherType is a key of drop_types (filled by the test). */
#include "kernel_net_common.h"
#include <linux/if_ether.h>

SEC("xdp")
int xdp_count_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	return count_and_judge(bpf_ntohs(eth->h_proto)) ? XDP_DROP : XDP_PASS;
}
