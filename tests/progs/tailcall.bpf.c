// SPDX-License-Identifier: GPL-2.0
/* Tail calls through a statically initialised prog array: xdp_dispatch
 * jumps to tail_ipv4 (slot 0) or tail_ipv6 (slot 1) by EtherType, and
 * returns XDP_PASS itself for anything else. tail_recurse (slot 2) calls
 * itself until the kernel's limit stops it: with 33 tail calls allowed it
 * runs 34 times, which it records in .bss. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

int tail_ipv4(struct xdp_md *ctx);
int tail_ipv6(struct xdp_md *ctx);
int tail_recurse(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_ipv4,
		[1] = (void *)&tail_ipv6,
		[2] = (void *)&tail_recurse,
	},
};

__u64 ipv4_packets, ipv6_packets, other_packets;
__u32 recurse_depth;

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		bpf_tail_call(ctx, &jump_table, 0);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		bpf_tail_call(ctx, &jump_table, 1);
	other_packets++;
	return XDP_PASS;
}

SEC("xdp")
int tail_ipv4(struct xdp_md *ctx)
{
	ipv4_packets++;
	return XDP_PASS;
}

SEC("xdp")
int tail_ipv6(struct xdp_md *ctx)
{
	ipv6_packets++;
	return XDP_DROP;
}

SEC("xdp")
int tail_recurse(struct xdp_md *ctx)
{
	recurse_depth++;
	bpf_tail_call(ctx, &jump_table, 2);
	return recurse_depth;
}

char LICENSE[] SEC("license") = "GPL";
