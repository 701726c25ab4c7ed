// expect: accept
// bpf_loop with a callback summing into the caller's stack context.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct loop_ctx {
	__u64 sum;
};

static long add_one(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	c->sum += i;
	return 0;
}

SEC("xdp")
int loop_cb_ok(struct xdp_md *ctx)
{
	struct loop_ctx c = {0};

	bpf_loop(16, add_one, &c, 0);
	return c.sum > 100 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
