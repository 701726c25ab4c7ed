// SPDX-License-Identifier: GPL-2.0
/* TCP SYN option walker (tc ingress): for every IPv4 TCP SYN, walks the
 * options (at most 40 bytes: EOL, NOP, MSS, window scale, SACK permitted,
 * timestamps; unknown kinds skipped by their length) in a bounded loop
 * reading the packet directly, and records what the peer announced in a
 * hash map keyed by the 4-tuple. Malformed options (a length under 2, or
 * running past the header) stop the walk and are counted. Always
 * TC_ACT_OK: it observes, never drops. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_TIMESTAMP 8
#define MAX_OPT_BYTES 40

struct flow_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

struct syn_options {
	__u16 mss;          /* 0: not announced */
	__u8 wscale;        /* shift count */
	__u8 have_wscale;
	__u8 sack_permitted;
	__u8 have_timestamp;
	__u8 options_seen;  /* options walked, NOPs included */
	__u8 malformed;
	__u32 tsval;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_tuple);
	__type(value, struct syn_options);
	__uint(max_entries, 4096);
} syn_opts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2); /* 0: SYNs seen, 1: malformed option lists */
} syn_stats SEC(".maps");

static __always_inline void stat_inc(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&syn_stats, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Walks the options at tcp header + 20 .. + doff * 4. off is the byte
 * offset from the start of the TCP header, kept as a scalar so the loop
 * state stays small. The loop is bounded by off alone: every pass moves it
 * forward by at least one byte and it stops at 60 (40 bytes of options).
 * A separate iteration counter would be precise in the kernel's verifier
 * and stop it from pruning: 426k instructions processed instead of 5k. */
static __always_inline void walk_options(struct tcphdr *th, void *end, struct syn_options *o)
{
	__u32 opt_end = th->doff * 4;
	__u32 off = sizeof(*th);
	__u8 *base = (__u8 *)th;

	for (;;) {
		__u8 *p;
		__u8 kind, len;

		if (off >= opt_end || off >= sizeof(*th) + MAX_OPT_BYTES)
			break;
		p = base + off;
		if ((void *)(p + 1) > end)
			break;
		kind = p[0];
		o->options_seen++;
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			off++;
			continue;
		}
		if ((void *)(p + 2) > end) {
			o->malformed = 1;
			break;
		}
		len = p[1];
		if (len < 2 || off + len > opt_end) {
			o->malformed = 1;
			break;
		}
		switch (kind) {
		case TCPOPT_MSS:
			if (len == 4 && (void *)(p + 4) <= end)
				o->mss = ((__u16)p[2] << 8) | p[3];
			break;
		case TCPOPT_WSCALE:
			if (len == 3 && (void *)(p + 3) <= end) {
				/* RFC 7323: a shift over 14 is used as 14 */
				o->wscale = p[2] > 14 ? 14 : p[2];
				o->have_wscale = 1;
			}
			break;
		case TCPOPT_SACK_PERM:
			if (len == 2)
				o->sack_permitted = 1;
			break;
		case TCPOPT_TIMESTAMP:
			if (len == 10 && (void *)(p + 10) <= end) {
				o->tsval = ((__u32)p[2] << 24) | ((__u32)p[3] << 16) |
					   ((__u32)p[4] << 8) | p[5];
				o->have_timestamp = 1;
			}
			break;
		default:
			break; /* unknown kind: skipped by its length */
		}
		off += len;
	}
}

SEC("tc")
int tc_syn_options(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct tcphdr *th;
	struct flow_tuple key = {};
	struct syn_options o = {};
	__u32 ihl;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > end || iph->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	ihl = iph->ihl * 4;
	if (ihl < sizeof(*iph))
		return TC_ACT_OK;
	th = (void *)iph + ihl;
	if ((void *)(th + 1) > end)
		return TC_ACT_OK;
	if (!th->syn || th->doff < 5)
		return TC_ACT_OK;

	stat_inc(0);
	walk_options(th, end, &o);
	if (o.malformed)
		stat_inc(1);

	key.saddr = iph->saddr;
	key.daddr = iph->daddr;
	key.sport = th->source;
	key.dport = th->dest;
	bpf_map_update_elem(&syn_opts, &key, &o, BPF_ANY);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
