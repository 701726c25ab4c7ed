// SPDX-License-Identifier: GPL-2.0
/* XDP for tests/test_kernel_net.c: counts frames per EtherType and drops
 * those whose EtherType is a key of drop_types (filled by the test). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
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

SEC("xdp")
int xdp_count_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__u32 type = bpf_ntohs(eth->h_proto);
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &type);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &type, &one, BPF_NOEXIST);
	return bpf_map_lookup_elem(&drop_types, &type) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
