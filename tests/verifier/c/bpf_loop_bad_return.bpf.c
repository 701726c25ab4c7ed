// expect: reject "the callback of bpf_loop must return 0 (go on) or 1"
// kernel: reject "At callback return the register R0 has smin=2 smax=2"
// A bpf_loop callback must return 0 (continue) or 1 (stop); this returns 2.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct loop_ctx {
	__u64 sum;
};

static long bad_ret(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	c->sum += i;
	return 2;
}

SEC("xdp")
int loop_cb_ret(struct xdp_md *ctx)
{
	struct loop_ctx c = {0};

	bpf_loop(16, bad_ret, &c, 0);
	return c.sum > 100 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
