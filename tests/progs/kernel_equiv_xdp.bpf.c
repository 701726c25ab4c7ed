// SPDX-License-Identifier: GPL-2.0
/* XDP for tests/test_kernel_vm_equiv.c and `visor run --backend vm`: counts
 * frames per EtherType (hash) and IPv4 frames per protocol (array), and
 * keeps a log2 histogram of frame lengths (array named *_hist). Only frames
 * from the test frames' source MAC (02:00:00:00:00:02, tests/lib/packets.h)
 * are counted, so traffic the kernel makes on its own on a veth (IPv6
 * router solicitations ...) leaves the maps alone. UDP is dropped, the rest
 * passes: two return codes for the summary. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* EtherType, host order */
	__type(value, __u64);
	__uint(max_entries, 64);
} by_ethertype SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);   /* IPv4 protocol */
	__type(value, __u64);
	__uint(max_entries, 256);
} by_ipproto SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);   /* log2 slot of the frame length */
	__type(value, __u64);
	__uint(max_entries, 65);
} len_hist SEC(".maps");

/* BCC's bpf_log2l + 1: the slot print_log2_hist expects, for v > 0 (no
 * zero test: on a packet length clang turns it into a 32-bit compare of the
 * packet pointers, which verifiers refuse). */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r + 1;
}

static __always_inline void add(void *map, __u32 key)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(map, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("xdp")
int xdp_equiv(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_source[0] != 0x02 || eth->h_source[1] || eth->h_source[2] ||
	    eth->h_source[3] || eth->h_source[4] || eth->h_source[5] != 0x02)
		return XDP_PASS;
	__u32 type = bpf_ntohs(eth->h_proto);
	add(&by_ethertype, type);
	__u64 len = (__u64)(end - data); /* >= sizeof(*eth) here */
	add(&len_hist, log2_slot(len));
	if (type != ETH_P_IP)
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	add(&by_ipproto, ip->protocol);
	return ip->protocol == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
