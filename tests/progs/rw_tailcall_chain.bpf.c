// SPDX-License-Identifier: GPL-2.0
/* A pipeline of XDP stages joined by tail calls, as large XDP firewalls are
 * split to stay under the verifier's limits: rw_entry parses Ethernet and
 * jumps to rw_stage_l3 (IPv4 / IPv6), which jumps to rw_stage_l4 (TCP / UDP
 * ports), which jumps to rw_stage_verdict (policy lookup, counters). The
 * stages pass what they found in a per-CPU array (one scratch record per
 * CPU: a tail call stays on its CPU); each stage checks that the previous
 * one ran by the record's stage mask. A missing stage (empty slot) falls
 * through to XDP_PASS, counted as a chain break. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define STAGE_L3 1
#define STAGE_L4 2
#define STAGE_VERDICT 3

#define SEEN_ENTRY (1u << 0)
#define SEEN_L3 (1u << 1)
#define SEEN_L4 (1u << 2)

int rw_stage_l3(struct xdp_md *ctx);
int rw_stage_l4(struct xdp_md *ctx);
int rw_stage_verdict(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} stages SEC(".maps") = {
	.values = {
		[STAGE_L3] = (void *)&rw_stage_l3,
		[STAGE_L4] = (void *)&rw_stage_l4,
		[STAGE_VERDICT] = (void *)&rw_stage_verdict,
	},
};

struct scratch {
	__u32 seen;        /* SEEN_* of the stages that ran for this packet */
	__u16 ethertype;   /* host order */
	__u16 l3_off;      /* from the start of the frame */
	__u16 l4_off;
	__u8 l4proto;
	__u8 pad;
	__u16 sport;       /* host order */
	__u16 dport;
	__u32 pkt_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct scratch);
	__uint(max_entries, 1);
} scratch_map SEC(".maps");

struct policy_key {
	__u8 l4proto;
	__u8 pad;
	__u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct policy_key);
	__type(value, __u32); /* XDP action */
	__uint(max_entries, 128);
} policy SEC(".maps");

enum { CNT_PASS, CNT_DROP, CNT_CHAIN_BREAK, CNT_BAD_SCRATCH, CNT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CNT_MAX);
} chain_counts SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline int finish(__u32 what, int action)
{
	__u64 *n = bpf_map_lookup_elem(&chain_counts, &what);
	if (n)
		*n += 1;
	return action;
}

/* Jumps to the next stage; returns only when its slot is empty. */
static __always_inline int next_stage(struct xdp_md *ctx, __u32 stage)
{
	bpf_tail_call(ctx, &stages, stage);
	return finish(CNT_CHAIN_BREAK, XDP_PASS);
}

SEC("xdp")
int rw_entry(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct scratch *s = scratch_get();

	if (!s)
		return XDP_ABORTED;
	__builtin_memset(s, 0, sizeof(*s));
	if ((void *)(eth + 1) > end)
		return finish(CNT_DROP, XDP_DROP);
	s->seen = SEEN_ENTRY;
	s->ethertype = bpf_ntohs(eth->h_proto);
	s->l3_off = sizeof(*eth);
	s->pkt_len = end - data;
	if (s->ethertype != ETH_P_IP && s->ethertype != ETH_P_IPV6)
		return finish(CNT_PASS, XDP_PASS);
	return next_stage(ctx, STAGE_L3);
}

SEC("xdp")
int rw_stage_l3(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct scratch *s = scratch_get();
	__u32 off;

	if (!s || !(s->seen & SEEN_ENTRY))
		return finish(CNT_BAD_SCRATCH, XDP_ABORTED);
	off = s->l3_off;
	if (off > 64) /* Ethernet (+ tags): keeps the packet offset bounded */
		return finish(CNT_BAD_SCRATCH, XDP_ABORTED);
	if (s->ethertype == ETH_P_IP) {
		struct iphdr *iph = data + off;
		if ((void *)(iph + 1) > end || iph->ihl < 5)
			return finish(CNT_DROP, XDP_DROP);
		if (iph->frag_off & bpf_htons(0x1fff))
			return finish(CNT_PASS, XDP_PASS); /* later fragment: no ports */
		s->l4proto = iph->protocol;
		s->l4_off = off + iph->ihl * 4;
	} else {
		struct ipv6hdr *ip6h = data + off;
		if ((void *)(ip6h + 1) > end)
			return finish(CNT_DROP, XDP_DROP);
		s->l4proto = ip6h->nexthdr;
		s->l4_off = off + sizeof(*ip6h);
	}
	s->seen |= SEEN_L3;
	if (s->l4proto != IPPROTO_TCP && s->l4proto != IPPROTO_UDP)
		return finish(CNT_PASS, XDP_PASS);
	return next_stage(ctx, STAGE_L4);
}

SEC("xdp")
int rw_stage_l4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct scratch *s = scratch_get();
	__u32 off;

	if (!s || !(s->seen & SEEN_L3))
		return finish(CNT_BAD_SCRATCH, XDP_ABORTED);
	off = s->l4_off;
	if (off > 256)
		return finish(CNT_DROP, XDP_DROP);
	if (s->l4proto == IPPROTO_TCP) {
		struct tcphdr *th = data + off;
		if ((void *)(th + 1) > end)
			return finish(CNT_DROP, XDP_DROP);
		s->sport = bpf_ntohs(th->source);
		s->dport = bpf_ntohs(th->dest);
	} else {
		struct udphdr *uh = data + off;
		if ((void *)(uh + 1) > end)
			return finish(CNT_DROP, XDP_DROP);
		s->sport = bpf_ntohs(uh->source);
		s->dport = bpf_ntohs(uh->dest);
	}
	s->seen |= SEEN_L4;
	return next_stage(ctx, STAGE_VERDICT);
}

SEC("xdp")
int rw_stage_verdict(struct xdp_md *ctx)
{
	struct scratch *s = scratch_get();
	struct policy_key k = {};
	__u32 *action;

	if (!s || !(s->seen & SEEN_L4))
		return finish(CNT_BAD_SCRATCH, XDP_ABORTED);
	k.l4proto = s->l4proto;
	k.dport = s->dport;
	action = bpf_map_lookup_elem(&policy, &k);
	if (action && *action == XDP_DROP)
		return finish(CNT_DROP, XDP_DROP);
	return finish(CNT_PASS, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
