// SPDX-License-Identifier: GPL-2.0
/* Socket filter for tests/test_kernel_net.c: counts frames per EtherType
 * and keeps only those whose EtherType is not a key of drop_types (a
 * socket filter returns how many bytes the socket gets; 0 drops). */
#include "kernel_net_common.h"

SEC("socket")
int sock_count_drop(struct __sk_buff *skb)
{
	return count_and_judge(bpf_ntohs(skb->protocol)) ? 0 : skb->len;
}
