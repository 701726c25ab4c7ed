// expect: accept
// A static and a global function called with a packet pointer and a bound.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __attribute__((noinline)) int sum_bytes(const __u8 *p, const void *end)
{
	int s = 0;

	if ((const void *)(p + 4) > end)
		return 0;
	for (int i = 0; i < 4; i++)
		s += p[i];
	return s;
}

__attribute__((noinline)) int classify(int sum)
{
	return sum > 512 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int subprogs(struct xdp_md *ctx)
{
	return classify(sum_bytes((void *)(long)ctx->data, (void *)(long)ctx->data_end));
}

char LICENSE[] SEC("license") = "GPL";
