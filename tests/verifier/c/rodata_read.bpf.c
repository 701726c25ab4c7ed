// expect: accept
// Read-only configuration (.rodata) read by the program.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 drop_proto = 17;

SEC("xdp")
int rodata_read(struct xdp_md *ctx)
{
	return ctx->rx_queue_index == drop_proto ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
