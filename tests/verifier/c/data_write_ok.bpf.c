// expect: accept
// Neighbour of rodata_write: writable global data (.bss) is written.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u32 last_queue;

SEC("xdp")
int bss_write(struct xdp_md *ctx)
{
	last_queue = ctx->rx_queue_index;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
