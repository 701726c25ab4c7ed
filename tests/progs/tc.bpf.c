// SPDX-License-Identifier: GPL-2.0
/* tc classifiers: tc_mark sets skb->mark from the IPv4 protocol and TOS
 * (direct packet access) and drops TCP to port 23; tc_ingress_count counts
 * by skb->pkt_type in a "classifier" section (the older name). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} pkt_types SEC(".maps");

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	skb->mark = (__u32)iph->protocol << 8 | iph->tos;
	if (iph->protocol == IPPROTO_TCP && iph->ihl == 5) {
		struct tcphdr *th = (void *)(iph + 1);
		if ((void *)(th + 1) > end)
			return TC_ACT_OK;
		if (th->dest == bpf_htons(23))
			return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("classifier")
int tc_ingress_count(struct __sk_buff *skb)
{
	__u32 t = skb->pkt_type & 7;
	__u64 *v = bpf_map_lookup_elem(&pkt_types, &t);

	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
