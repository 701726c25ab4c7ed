// expect: reject "map '.rodata' is read-only for programs (const data): it"
// kernel: reject "write into map forbidden, value_size=4 off=0 size=4"
// Neighbour of rodata_read: the program writes its read-only configuration.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 drop_proto = 17;

SEC("xdp")
int rodata_write(struct xdp_md *ctx)
{
	*(volatile __u32 *)&drop_proto = ctx->rx_queue_index;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
