// expect: accept
// tc programs may write skb->mark and skb->priority.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	skb->mark = skb->len;
	skb->priority = 3;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
