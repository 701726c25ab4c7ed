// expect: reject "more than 8192 branches are pending on one path: the"
// kernel: reject "is too complex"
// Collatz steps from a packet-derived start: no bound the verifier can prove.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int loop_unbounded(struct xdp_md *ctx)
{
	__u64 x = ctx->rx_queue_index | 1;
	__u32 steps = 0;

	while (x != 1) {
		x = (x & 1) ? 3 * x + 1 : x / 2;
		steps++;
	}
	return steps > 100 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
