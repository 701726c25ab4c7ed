// SPDX-License-Identifier: GPL-2.0
/* Socket filter for tests/test_kernel_net.c: counts frames per EtherType
 * and keeps only those whose EtherType is not a key of drop_types (a
 * socket filter returns how many bytes the socket gets; 0 drops). */
#include <linux/bpf.h>
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

SEC("socket")
int sock_count_drop(struct __sk_buff *skb)
{
	__u32 type = bpf_ntohs(skb->protocol);
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &type);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &type, &one, BPF_NOEXIST);
	return bpf_map_lookup_elem(&drop_types, &type) ? 0 : skb->len;
}

char LICENSE[] SEC("license") = "GPL";
