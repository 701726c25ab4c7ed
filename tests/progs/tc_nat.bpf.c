// SPDX-License-Identifier: GPL-2.0
/* A destination NAT step as tc does it: IPv4 UDP or TCP to 192.0.2.1:80
 * goes to 198.51.100.7:8080. The address and port are written with
 * bpf_skb_store_bytes, the IPv4 checksum fixed with bpf_l3_csum_replace, the
 * UDP / TCP checksum with bpf_l4_csum_replace (pseudo-header for the address;
 * a UDP checksum of 0 stays 0: BPF_F_MARK_MANGLED_0). `nat_count` counts the
 * rewritten packets per protocol. tc_nat_diff does the address change with
 * bpf_csum_diff and the "diff" form of both replace helpers, then
 * redirects the packet out of ifindex 1.
 * tc_helper_errors records in `results` what the helpers return for bad
 * flags, offsets and lengths. */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define OLD_ADDR 0xc0000201 /* 192.0.2.1 */
#define NEW_ADDR 0xc6336407 /* 198.51.100.7 */
#define OLD_PORT 80
#define NEW_PORT 8080

#define IP_OFF ETH_HLEN
#define IP_DST_OFF (IP_OFF + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF (IP_OFF + offsetof(struct iphdr, check))
#define L4_OFF (IP_OFF + sizeof(struct iphdr))
#define F_IPV6 (1ULL << 7) /* BPF_F_IPV6: newer than Debian 12's headers */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} nat_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __s64);
	__uint(max_entries, 32);
} results SEC(".maps");

static __always_inline void record(__u32 i, long v)
{
	__s64 *slot = bpf_map_lookup_elem(&results, &i);
	if (slot)
		*slot = v;
}

/* The L4 checksum's offset and flags for this protocol, or -1. */
static __always_inline int l4_csum(__u8 proto, __u64 *flags)
{
	if (proto == IPPROTO_TCP) {
		*flags = 0;
		return L4_OFF + offsetof(struct tcphdr, check);
	}
	if (proto == IPPROTO_UDP) {
		*flags = BPF_F_MARK_MANGLED_0;
		return L4_OFF + offsetof(struct udphdr, check);
	}
	return -1;
}

/* Parses an option-less IPv4 UDP/TCP packet to OLD_ADDR:OLD_PORT. */
static __always_inline int match(struct __sk_buff *skb, __u8 *proto)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *uh = (void *)(iph + 1); /* ports at the same place in TCP */

	if ((void *)(uh + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || iph->ihl != 5)
		return 0;
	if (iph->daddr != bpf_htonl(OLD_ADDR) || uh->dest != bpf_htons(OLD_PORT))
		return 0;
	*proto = iph->protocol;
	return iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP;
}

static __always_inline void count(__u8 proto)
{
	__u32 k = proto;
	__u64 *c = bpf_map_lookup_elem(&nat_count, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("tc")
int tc_nat(struct __sk_buff *skb)
{
	__u8 proto;
	__u64 l4flags;

	if (!match(skb, &proto))
		return TC_ACT_OK;
	int l4off = l4_csum(proto, &l4flags);
	if (l4off < 0)
		return TC_ACT_OK;
	__be32 old_addr = bpf_htonl(OLD_ADDR), new_addr = bpf_htonl(NEW_ADDR);
	__be16 old_port = bpf_htons(OLD_PORT), new_port = bpf_htons(NEW_PORT);

	if (bpf_l4_csum_replace(skb, l4off, old_addr, new_addr,
				l4flags | BPF_F_PSEUDO_HDR | sizeof(new_addr)))
		return TC_ACT_SHOT;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr, new_addr, sizeof(new_addr)))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, IP_DST_OFF, &new_addr, sizeof(new_addr), 0))
		return TC_ACT_SHOT;
	if (bpf_l4_csum_replace(skb, l4off, old_port, new_port, l4flags | sizeof(new_port)))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, L4_OFF + offsetof(struct udphdr, dest), &new_port,
				sizeof(new_port), BPF_F_INVALIDATE_HASH))
		return TC_ACT_SHOT;
	count(proto);
	return TC_ACT_OK;
}

SEC("tc")
int tc_nat_diff(struct __sk_buff *skb)
{
	__u8 proto;
	__u64 l4flags;

	if (!match(skb, &proto))
		return TC_ACT_OK;
	int l4off = l4_csum(proto, &l4flags);
	if (l4off < 0)
		return TC_ACT_OK;
	__be32 old_addr = bpf_htonl(OLD_ADDR), new_addr = bpf_htonl(NEW_ADDR);
	__s64 diff = bpf_csum_diff(&old_addr, 4, &new_addr, 4, 0);

	if (diff < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, IP_DST_OFF, &new_addr, 4, BPF_F_RECOMPUTE_CSUM))
		return TC_ACT_SHOT;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, diff, 0))
		return TC_ACT_SHOT;
	if (bpf_l4_csum_replace(skb, l4off, 0, diff, l4flags | BPF_F_PSEUDO_HDR))
		return TC_ACT_SHOT;
	count(proto);
	return bpf_redirect(1, 0); /* out of lo: TC_ACT_REDIRECT */
}

SEC("tc")
int tc_helper_errors(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 v = 0x11223344;

	record(0, bpf_skb_store_bytes(skb, 0, &v, 4, 4));          /* unknown flag */
	record(1, bpf_skb_store_bytes(skb, len - 3, &v, 4, 0));    /* past the end */
	record(2, bpf_skb_store_bytes(skb, len - 4, &v, 4, 0));    /* the last 4 bytes */
	record(3, bpf_skb_store_bytes(skb, 0x80000000, &v, 4, 0)); /* offset > INT_MAX */
	record(4, bpf_l3_csum_replace(skb, 25, 0, 0, 2));          /* odd offset */
	record(5, bpf_l3_csum_replace(skb, 0x10000, 0, 0, 2));     /* offset > 0xffff */
	record(6, bpf_l3_csum_replace(skb, len - 1, 0, 0, 2));     /* past the end */
	record(7, bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, 0, 0x10)); /* flag not for l3 */
	record(8, bpf_l3_csum_replace(skb, IP_CSUM_OFF, 1, 0, 0)); /* diff form, from != 0 */
	record(9, bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, 0, 3)); /* field size 3 */
	record(10, bpf_l4_csum_replace(skb, L4_OFF + 6, 0, 0, 1ULL << 8)); /* unknown flag */
	record(11, bpf_l4_csum_replace(skb, L4_OFF + 6, 0x1234, 0x4321, 2 | F_IPV6));
	/* MARK_MANGLED_0: a zero checksum is left alone ... */
	__u16 zero = 0;
	record(12, bpf_skb_store_bytes(skb, L4_OFF + 6, &zero, 2, 0));
	record(13, bpf_l4_csum_replace(skb, L4_OFF + 6, 0x1234, 0x4321, BPF_F_MARK_MANGLED_0 | 2));
	/* ... unless enforced; a result of 0 becomes 0xffff. */
	record(14, bpf_l4_csum_replace(skb, L4_OFF + 6, 0, 0xffff,
				       BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | 2));
	record(15, bpf_skb_pull_data(skb, 0));
	record(16, bpf_skb_pull_data(skb, len));
	record(17, bpf_skb_pull_data(skb, len + 1));
	record(18, bpf_csum_update(skb, 0x1234));
	record(19, bpf_redirect(1, BPF_F_INGRESS));
	record(20, bpf_redirect(1, 2));
	/* The packet bytes after all this go out in data_out. */
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
