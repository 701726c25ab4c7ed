// expect: accept
// Neighbour of socket_helper_not_allowed: socket filters read the packet
// through bpf_skb_load_bytes into an initialised-by-the-helper buffer.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("socket")
int sock_load(struct __sk_buff *skb)
{
	__u8 buf[4];

	if (bpf_skb_load_bytes(skb, 12, buf, sizeof(buf)))
		return 0;
	return buf[0] == 0x08 ? -1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
