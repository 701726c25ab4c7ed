// expect: reject "helper bpf_xdp_adjust_head (44) is not allowed in socket"
// kernel: reject "program of this type cannot use helper bpf_xdp_adjust_head#44"
// bpf_xdp_adjust_head is an XDP helper; a socket filter calls it.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("socket")
int sock_adjust(struct __sk_buff *skb)
{
	bpf_xdp_adjust_head((void *)skb, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
