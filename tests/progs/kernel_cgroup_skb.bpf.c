// SPDX-License-Identifier: GPL-2.0
/* cgroup skb programs for tests/test_kernel_cgroup.c. Egress: counts every
 * packet the cgroup's sockets send and its bytes (skb->len: from the IP
 * header on), and drops (returns 0) UDP datagrams to the port in config[0]
 * (filled by the test), counting those too. Ingress: counts and passes. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { STAT_PACKETS, STAT_BYTES, STAT_DROPPED, STAT_INGRESS, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32); /* UDP port to drop, host order; 0: none */
	__uint(max_entries, 1);
} config SEC(".maps");

static void add(__u32 key, __u64 v)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &key);
	if (n)
		__sync_fetch_and_add(n, v);
}

/* The UDP destination port of an IPv4 packet (host order), or 0. */
static __u32 udp_dport(struct __sk_buff *skb)
{
	__u8 vihl, proto;
	__u16 port;
	if (skb->protocol != bpf_htons(0x0800))
		return 0;
	if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &proto, 1))
		return 0;
	if (proto != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, (vihl & 0xf) * 4 + 2, &port, 2))
		return 0;
	return bpf_ntohs(port);
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	add(STAT_PACKETS, 1);
	add(STAT_BYTES, skb->len);
	__u32 zero = 0, *drop = bpf_map_lookup_elem(&config, &zero);
	__u32 port = udp_dport(skb);
	if (drop && *drop && port == *drop) {
		add(STAT_DROPPED, 1);
		return 0;
	}
	return 1;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	add(STAT_INGRESS, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
