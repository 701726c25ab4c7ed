// expect: reject "store (tc programs may write only mark, priority"
// kernel: reject "invalid bpf_context access off=0 size=4"
// Neighbour of tc_write_mark: skb->len is read-only.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int tc_len(struct __sk_buff *skb)
{
	skb->len = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
