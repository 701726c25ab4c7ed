// SPDX-License-Identifier: GPL-2.0
/* Multi-protocol packet parser, written as a production XDP filter is:
 * Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 with options (IHL)
 * or IPv6 with up to six extension headers (hop-by-hop, routing, fragment,
 * destination options, AH), then the TCP / UDP ports or the ICMP / ICMPv6
 * type. Packets and bytes are counted per (EtherType, L4 protocol, VLAN
 * depth, extension headers) in a per-CPU hash; a rule map keyed by
 * (L4 protocol, destination port or ICMP type) drops what it lists; every
 * drop is counted by its reason (a parse failure or a rule) in a per-CPU
 * array. Every packet access is
 * checked against data_end first. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_VLAN_TAGS 2
#define MAX_EXT_HEADERS 6
#define IP_OFFSET_MASK 0x1fff
#define IP_MORE_FRAGMENTS 0x2000

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

enum drop_reason {
	ERR_SHORT_ETH,
	ERR_SHORT_VLAN,
	ERR_TOO_MANY_VLANS,
	ERR_SHORT_IPV4,
	ERR_BAD_IHL,
	ERR_SHORT_IPV6,
	ERR_SHORT_EXT,
	ERR_TOO_MANY_EXT,
	ERR_SHORT_L4,
	ERR_RULE_DROP,
	ERR_MAX,
};

/* ICMP and ICMPv6 start alike; <linux/icmp.h> would pull in libc. */
struct icmp_head {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/* IPv6 extension header prefix: every one starts with next header and
 * length (fragment: reserved byte instead; AH: length in 4-byte units). */
struct ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct flow_class {
	__u16 ethertype;   /* host order */
	__u8 l4proto;      /* IPPROTO_*, 255: none */
	__u8 vlan_depth;
	__u8 ext_headers;  /* IPv6 extension headers walked */
	__u8 fragment;     /* 1: non-first fragment, no L4 header */
	__u16 pad;
};

struct flow_counter {
	__u64 packets;
	__u64 bytes;
};

struct rule_key {
	__u8 l4proto;
	__u8 pad;
	__u16 port;        /* destination port or ICMP type, host order */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct flow_class);
	__type(value, struct flow_counter);
	__uint(max_entries, 1024);
} class_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct rule_key);
	__type(value, __u32); /* the XDP action to return */
	__uint(max_entries, 256);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ERR_MAX);
} drop_reasons SEC(".maps");

struct parse_state {
	void *pos;
	void *end;
	struct flow_class cls;
	__u16 port;
	__u8 have_port;
};

static __always_inline int fail(enum drop_reason e)
{
	__u32 key = e;
	__u64 *n = bpf_map_lookup_elem(&drop_reasons, &key);
	if (n)
		*n += 1;
	return e == ERR_RULE_DROP ? XDP_DROP : XDP_ABORTED;
}

static __always_inline void count(const struct flow_class *cls, __u64 len)
{
	struct flow_counter *c = bpf_map_lookup_elem(&class_counts, cls);
	if (!c) {
		struct flow_counter init = {.packets = 1, .bytes = len};
		/* per-CPU: another CPU inserting first only loses this packet */
		bpf_map_update_elem(&class_counts, cls, &init, BPF_NOEXIST);
		return;
	}
	c->packets += 1;
	c->bytes += len;
}

static __always_inline int is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH;
}

/* Walks the extension headers after an IPv6 header; returns -1 and the
 * upper protocol in *l4proto, or the drop reason (>= 0). */
static __always_inline int parse_ipv6_ext(struct parse_state *st, __u8 *l4proto)
{
	__u8 next = *l4proto;
	void *pos = st->pos;

#pragma unroll
	for (int i = 0; i < MAX_EXT_HEADERS; i++) {
		struct ext_hdr *eh = pos;
		__u32 len;

		if (!is_ipv6_ext(next))
			break;
		if ((void *)(eh + 1) > st->end)
			return ERR_SHORT_EXT;
		if (next == IPPROTO_FRAGMENT) {
			struct frag_hdr {
				__u8 nexthdr;
				__u8 reserved;
				__be16 frag_off;
				__be32 id;
			} *fh = pos;
			if ((void *)(fh + 1) > st->end)
				return ERR_SHORT_EXT;
			/* a later fragment carries no L4 header */
			if (bpf_ntohs(fh->frag_off) & ~7)
				st->cls.fragment = 1;
			len = sizeof(*fh);
		} else if (next == IPPROTO_AH) {
			len = ((__u32)eh->hdrlen + 2) * 4;
		} else {
			len = ((__u32)eh->hdrlen + 1) * 8;
		}
		next = eh->nexthdr;
		pos += len;
		st->cls.ext_headers++;
	}
	if (is_ipv6_ext(next))
		return ERR_TOO_MANY_EXT;
	st->pos = pos;
	*l4proto = next;
	return -1;
}

/* Reads the destination port or ICMP type at st->pos. */
static __always_inline int parse_l4(struct parse_state *st, __u8 l4proto)
{
	void *pos = st->pos;

	if (st->cls.fragment)
		return -1;
	switch (l4proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = pos;
		if ((void *)(th + 1) > st->end)
			return ERR_SHORT_L4;
		if (th->doff < 5)
			return ERR_SHORT_L4;
		st->port = bpf_ntohs(th->dest);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = pos;
		if ((void *)(uh + 1) > st->end)
			return ERR_SHORT_L4;
		st->port = bpf_ntohs(uh->dest);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		struct icmp_head *ih = pos;
		if ((void *)(ih + 1) > st->end)
			return ERR_SHORT_L4;
		st->port = ih->type;
		break;
	}
	default:
		return -1;
	}
	st->have_port = 1;
	return -1;
}

SEC("xdp")
int xdp_rw_parser(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct parse_state st = {.end = end};
	struct ethhdr *eth = data;
	__u16 proto;
	__u8 l4proto = 255;
	int err;

	if ((void *)(eth + 1) > end)
		return fail(ERR_SHORT_ETH);
	proto = eth->h_proto;
	st.pos = eth + 1;

#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_tag *vt = st.pos;
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vt + 1) > end)
			return fail(ERR_SHORT_VLAN);
		proto = vt->proto;
		st.pos = vt + 1;
		st.cls.vlan_depth++;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return fail(ERR_TOO_MANY_VLANS);
	st.cls.ethertype = bpf_ntohs(proto);

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = st.pos;
		__u32 hlen;

		if ((void *)(iph + 1) > end)
			return fail(ERR_SHORT_IPV4);
		hlen = iph->ihl * 4;
		if (hlen < sizeof(*iph))
			return fail(ERR_BAD_IHL);
		/* the options are part of the header: all of it must be there */
		if (st.pos + hlen > end)
			return fail(ERR_BAD_IHL);
		if (bpf_ntohs(iph->frag_off) & IP_OFFSET_MASK)
			st.cls.fragment = 1;
		l4proto = iph->protocol;
		st.pos += hlen;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = st.pos;

		if ((void *)(ip6h + 1) > end)
			return fail(ERR_SHORT_IPV6);
		l4proto = ip6h->nexthdr;
		st.pos = ip6h + 1;
		err = parse_ipv6_ext(&st, &l4proto);
		if (err >= 0)
			return fail(err);
	}

	if (l4proto != 255) {
		err = parse_l4(&st, l4proto);
		if (err >= 0)
			return fail(err);
	}
	st.cls.l4proto = l4proto;
	count(&st.cls, len);

	if (st.have_port) {
		struct rule_key rk = {.l4proto = l4proto, .port = st.port};
		__u32 *action = bpf_map_lookup_elem(&rules, &rk);
		if (action) {
			fail(ERR_RULE_DROP);
			return *action <= XDP_TX ? *action : XDP_DROP;
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
