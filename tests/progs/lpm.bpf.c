// SPDX-License-Identifier: GPL-2.0
/* LPM lookup: the IPv4 source address is matched against a prefix table
 * whose value is the XDP action; hits and misses are counted.
 * xdp_lpm_setup, run once with BPF_PROG_TEST_RUN on any packet, installs a
 * fixed table, so a run needs no user-space set-up (a syscall program would
 * be neater, but sleepable programs may not use LPM tries):
 *   10.0.0.0/8 -> PASS, 10.1.0.0/16 -> DROP, 10.1.2.0/24 -> PASS,
 *   192.168.0.0/16 -> DROP, 0.0.0.0/0 is absent (miss -> PASS). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct lpm_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_key);
	__type(value, __u32);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2); /* 0: hit, 1: miss */
} lpm_stats SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lpm_stats, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_lpm_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct lpm_key key;
	__u32 *action;

	if ((void *)(iph + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	key.prefixlen = 32;
	key.addr = iph->saddr;
	action = bpf_map_lookup_elem(&prefixes, &key);
	if (!action) {
		bump(1);
		return XDP_PASS;
	}
	bump(0);
	return *action;
}

static __always_inline void add(__u32 a, __u32 b, __u32 c, __u32 d, __u32 len, __u32 action)
{
	struct lpm_key k = {
		.prefixlen = len,
		.addr = bpf_htonl(a << 24 | b << 16 | c << 8 | d),
	};
	bpf_map_update_elem(&prefixes, &k, &action, BPF_ANY);
}

SEC("xdp")
int xdp_lpm_setup(struct xdp_md *ctx)
{
	add(10, 0, 0, 0, 8, XDP_PASS);
	add(10, 1, 0, 0, 16, XDP_DROP);
	add(10, 1, 2, 0, 24, XDP_PASS);
	add(192, 168, 0, 0, 16, XDP_DROP);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
