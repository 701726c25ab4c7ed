// SPDX-License-Identifier: GPL-2.0
/* The corners of bpf_tail_call, for comparison with the kernel: neither
 * an empty slot nor an index past max_entries uses up one of the 33 tail
 * calls a chain may make (the x86 JIT counts only calls into a populated
 * slot; the index is read from .data so that the verifier does not know
 * it and the indirect path is taken); a tail call from a subprogram (the target
 * replaces the subprogram's frame in the kernel); a tc program whose id
 * the XDP-owned prog array must refuse. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int edge_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} edge_table SEC(".maps") = {
	.values = {
		[0] = (void *)&edge_target,
	},
};

__u32 target_runs, fallthrough;
volatile __u32 empty_slot = 5;

SEC("xdp")
int edge_target(struct xdp_md *ctx)
{
	target_runs++;
	return XDP_TX;
}

/* 33 tail calls into empty slot 5 do not count: slot 0 still runs. */
SEC("xdp")
int edge_empty_33(struct xdp_md *ctx)
{
	for (int i = 0; i < 33; i++)
		bpf_tail_call(ctx, &edge_table, empty_slot);
	bpf_tail_call(ctx, &edge_table, 0);
	fallthrough++;
	return XDP_PASS;
}

/* The same with 32. */
SEC("xdp")
int edge_empty_32(struct xdp_md *ctx)
{
	for (int i = 0; i < 32; i++)
		bpf_tail_call(ctx, &edge_table, empty_slot);
	bpf_tail_call(ctx, &edge_table, 0);
	fallthrough++;
	return XDP_PASS;
}

/* Indexes past max_entries fail before counting: slot 0 still runs. */
SEC("xdp")
int edge_out_of_range(struct xdp_md *ctx)
{
	for (__u32 i = 0; i < 40; i++)
		bpf_tail_call(ctx, &edge_table, 8 + i);
	bpf_tail_call(ctx, &edge_table, 0);
	fallthrough++;
	return XDP_PASS;
}

static __attribute__((noinline)) int tail_from_sub(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &edge_table, 0);
	return XDP_ABORTED;
}

/* In the kernel edge_target returns XDP_TX to this program, which goes on. */
SEC("xdp")
int edge_from_subprog(struct xdp_md *ctx)
{
	int r = tail_from_sub(ctx);
	fallthrough++;
	return r;
}

SEC("tc")
int edge_tc(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
