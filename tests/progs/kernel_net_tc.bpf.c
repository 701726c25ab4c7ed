// SPDX-License-Identifier: GPL-2.0
/* tc classifier for tests/test_kernel_net.c: counts frames per EtherType,
 * marks them, and drops (TC_ACT_SHOT) those whose EtherType is a key of
 * drop_types (filled by the test). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* EtherType, host order */
	__type(value, __u64);
	__uint(max_entries, 64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 16);
} drop_types SEC(".maps");

SEC("tc")
int tc_count_drop(struct __sk_buff *skb)
{
	__u32 type = bpf_ntohs(skb->protocol);
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &type);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &type, &one, BPF_NOEXIST);
	skb->mark = 0x76697300 | (type & 0xff);
	return bpf_map_lookup_elem(&drop_types, &type) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
