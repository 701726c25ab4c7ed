// expect: reject "the variable offset of r2 (fp) is not bounded: check it"
// kernel: reject "invalid unbounded variable-offset write to stack R2"
// The callback indexes its 8-byte context with the iteration number.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct loop_ctx {
	__u64 sum;
};

static long bad_mem(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	((volatile __u64 *)c)[i] = 1;
	return 0;
}

SEC("xdp")
int loop_cb_mem(struct xdp_md *ctx)
{
	struct loop_ctx c = {0};

	bpf_loop(16, bad_mem, &c, 0);
	return c.sum > 100 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
