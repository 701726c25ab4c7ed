// SPDX-License-Identifier: GPL-2.0
/* bpf-to-bpf calls: a chain of static noinline functions (level1 -> level2
 * -> level3), a global noinline function the kernel verifies on its own,
 * and two programs that share part of the chain, so each gets its own copy
 * of just the functions it reaches. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

__u32 last_xdp, last_tc;

static __attribute__((noinline)) __u32 level3(__u32 x)
{
	return x * 7 + 3;
}

static __attribute__((noinline)) __u32 level2(__u32 x)
{
	return level3(x) ^ (x << 2);
}

static __attribute__((noinline)) __u32 level1(__u32 x)
{
	return level2(x) + level3(x + 1);
}

static __attribute__((noinline)) __u32 mix(__u32 a, __u32 b)
{
	return (a * 31) ^ b;
}

__attribute__((noinline)) int packet_len(struct xdp_md *ctx)
{
	if (!ctx)
		return 0;
	return ctx->data_end - ctx->data;
}

SEC("xdp")
int xdp_subprogs(struct xdp_md *ctx)
{
	__u32 len = packet_len(ctx);

	last_xdp = mix(level1(len), len);
	return XDP_PASS;
}

SEC("tc")
int tc_subprogs(struct __sk_buff *skb)
{
	last_tc = level2(skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
