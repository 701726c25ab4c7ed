// SPDX-License-Identifier: GPL-2.0
/* tc classifier for tests/test_kernel_net.c: counts frames per EtherType,
 * marks them, and drops (TC_ACT_SHOT) those whose EtherType is a key of
 * drop_types (filled by the test). */
#include "kernel_net_common.h"
#include <linux/pkt_cls.h>

SEC("tc")
int tc_count_drop(struct __sk_buff *skb)
{
	__u32 type = bpf_ntohs(skb->protocol);
	int drop = count_and_judge(type);
	skb->mark = 0x76697300 | (type & 0xff);
	return drop ? TC_ACT_SHOT : TC_ACT_OK;
}
