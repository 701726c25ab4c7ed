// expect: accept
// A loop with a constant trip count (not unrolled: clang keeps the loop).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int loop_bounded(struct xdp_md *ctx)
{
	__u32 sum = 0, x = ctx->rx_queue_index;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 64; i++)
		sum += (x >> (i & 31)) & 1;
	return sum > 10 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
