// SPDX-License-Identifier: GPL-2.0
/* Packet parser: walks Ethernet (one optional VLAN tag), IPv4 or IPv6 and
 * counts packets and bytes per IP protocol in a hash map (key 255: not IP).
 * UDP to the discard port (9) is dropped; everything else passes. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KEY_NOT_IP 255
#define DISCARD_PORT 9

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct counter);
	__uint(max_entries, 256);
} proto_counts SEC(".maps");

static __always_inline void count(__u32 key, __u64 len)
{
	struct counter *c = bpf_map_lookup_elem(&proto_counts, &key);
	if (!c) {
		struct counter init = {};
		/* another CPU may insert first: then update theirs */
		bpf_map_update_elem(&proto_counts, &key, &init, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&proto_counts, &key);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, len);
}

SEC("xdp")
int xdp_count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u16 proto;
	__u8 l4proto;
	void *l4;

	if (l3 > end)
		return XDP_DROP;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = l3;
		if ((void *)(vh + 1) > end)
			return XDP_DROP;
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;
		if ((void *)(iph + 1) > end)
			return XDP_DROP;
		if (iph->ihl < 5)
			return XDP_DROP;
		l4proto = iph->protocol;
		l4 = l3 + iph->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;
		if ((void *)(ip6h + 1) > end)
			return XDP_DROP;
		l4proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		count(KEY_NOT_IP, len);
		return XDP_PASS;
	}
	count(l4proto, len);
	if (l4proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return XDP_DROP;
		if (uh->dest == bpf_htons(DISCARD_PORT))
			return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
