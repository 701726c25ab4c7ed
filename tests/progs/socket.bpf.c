// SPDX-License-Identifier: GPL-2.0
/* Socket filter: keeps whole IPv4 TCP packets and drops everything else
 * (a socket filter returns how many bytes to keep). skb data starts at the
 * network header here, so the protocol byte is at offset 9. */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u64 kept, dropped;

SEC("socket")
int socket_tcp_only(struct __sk_buff *skb)
{
	__u8 proto;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		goto drop;
	if (bpf_skb_load_bytes(skb, offsetof(struct iphdr, protocol), &proto, 1))
		goto drop;
	if (proto != IPPROTO_TCP)
		goto drop;
	kept++;
	return skb->len;
drop:
	dropped++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
