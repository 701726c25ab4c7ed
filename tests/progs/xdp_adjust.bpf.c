// SPDX-License-Identifier: GPL-2.0
/* XDP programs that move the packet's head, tail and metadata:
 * xdp_vlan pops an 802.1Q tag or pushes one (VID 100) with
 * bpf_xdp_adjust_head; xdp_trim cuts the Ethernet padding after the IPv4
 * packet and grows or shrinks the tail by the amount in the last byte;
 * xdp_meta stores metadata in front of the packet and reads it back;
 * xdp_limits records in `results` what each helper returns at and past its
 * limits. xdp_stale_pointer reads through a pointer taken before
 * adjust_head: the kernel's verifier refuses it, visor's run-time checks
 * must catch it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

SEC("xdp")
int xdp_vlan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr copy;

	if ((void *)(eth + 1) + sizeof(struct vlan_hdr) > end)
		return XDP_PASS;
	__builtin_memcpy(&copy, eth, sizeof(copy));
	if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
		/* Pop: the inner type replaces the tag. */
		struct vlan_hdr *vh = (void *)(eth + 1);
		copy.h_proto = vh->proto;
		if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct vlan_hdr)))
			return XDP_ABORTED;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		eth = data;
		if ((void *)(eth + 1) > end)
			return XDP_ABORTED;
		__builtin_memcpy(eth, &copy, sizeof(copy));
		return XDP_PASS;
	}
	/* Push VID 100 in front of the original type. */
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct vlan_hdr)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	struct vlan_hdr *vh = (void *)(eth + 1);
	if ((void *)(vh + 1) > end)
		return XDP_ABORTED;
	vh->tci = bpf_htons(100);
	vh->proto = copy.h_proto;
	copy.h_proto = bpf_htons(ETH_P_8021Q);
	__builtin_memcpy(eth, &copy, sizeof(copy));
	return XDP_TX;
}

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	long len = end - data;

	if ((void *)(iph + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	/* The last byte says how far to move the tail (signed), before the
	 * padding is cut. */
	__u32 at = (__u32)len - 1;
	if (at > 1500)
		return XDP_ABORTED;
	__u8 *last = data + at;
	if ((void *)(last + 1) > end)
		return XDP_ABORTED;
	int delta = (__s8)*last;
	record(0, bpf_xdp_adjust_tail(ctx, delta));
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	record(1, end - data);
	/* Cut whatever follows the IPv4 packet. */
	eth = data;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > end)
		return XDP_ABORTED;
	long want = sizeof(*eth) + bpf_ntohs(iph->tot_len);
	len = end - data;
	if (want < len)
		record(2, bpf_xdp_adjust_tail(ctx, (int)(want - len)));
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	record(3, end - data);
	return XDP_PASS;
}

SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	/* Metadata that came with the frame (ctx_in data > 0) is counted. */
	void *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	record(0, data - meta);
	if (bpf_xdp_adjust_meta(ctx, -8))
		return XDP_ABORTED;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *m = meta;
	if ((void *)(m + 2) > data || data + 14 > end)
		return XDP_ABORTED;
	m[0] = 0x4d455441; /* "META" */
	m[1] = (__u32)(end - data);
	/* Read it back through a fresh pointer. */
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	m = meta;
	if ((void *)(m + 2) > data)
		return XDP_ABORTED;
	record(1, m[0]);
	record(2, m[1]);
	record(3, data - meta);
	return m[0] == 0x4d455441 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_limits(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;

	/* adjust_head: the 256 bytes of headroom less struct xdp_frame (40). */
	record(0, bpf_xdp_adjust_head(ctx, -217));
	record(1, bpf_xdp_adjust_head(ctx, -216));
	record(2, bpf_xdp_adjust_head(ctx, 216));
	/* At least ETH_HLEN bytes must remain. */
	record(3, bpf_xdp_adjust_head(ctx, (int)(len - 13)));
	record(4, bpf_xdp_adjust_head(ctx, (int)(len - 14)));
	record(5, (long)ctx->data_end - (long)ctx->data);
	record(6, bpf_xdp_adjust_head(ctx, -(int)(len - 14)));
	/* adjust_tail: not below ETH_HLEN, not past the frame's end. */
	record(7, bpf_xdp_adjust_tail(ctx, -(int)(len - 13)));
	record(8, bpf_xdp_adjust_tail(ctx, 4096));
	record(9, bpf_xdp_adjust_tail(ctx, 3776 - 256 - (int)len));
	record(10, bpf_xdp_adjust_tail(ctx, 1));
	record(11, (long)ctx->data_end - (long)ctx->data);
	record(12, bpf_xdp_adjust_tail(ctx, -(3776 - 256 - (int)len)));
	/* adjust_meta: multiples of 4 up to 252 bytes, between the xdp_frame
	 * reserve and data. */
	record(13, bpf_xdp_adjust_meta(ctx, 4));
	record(14, bpf_xdp_adjust_meta(ctx, -2));
	record(15, bpf_xdp_adjust_meta(ctx, -36));
	record(16, bpf_xdp_adjust_meta(ctx, 36));
	record(17, bpf_xdp_adjust_meta(ctx, -220));
	record(18, bpf_xdp_adjust_head(ctx, 64));
	record(19, bpf_xdp_adjust_meta(ctx, -252));
	record(20, bpf_xdp_adjust_meta(ctx, -4));
	record(21, (long)ctx->data - (long)ctx->data_meta);
	/* The head cannot move into the metadata; the metadata moves with it. */
	record(22, bpf_xdp_adjust_head(ctx, -29));
	record(23, bpf_xdp_adjust_head(ctx, -28));
	record(24, (long)ctx->data - (long)ctx->data_meta);
	record(25, bpf_xdp_adjust_meta(ctx, 252));
	record(26, bpf_xdp_adjust_head(ctx, -36));
	record(27, (long)ctx->data_end - (long)ctx->data);
	return XDP_PASS;
}

SEC("xdp")
int xdp_stale_pointer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	volatile __u8 *first = data;

	if ((void *)(first + 1) > end)
		return XDP_PASS;
	/* Drop all but the last 14 bytes: the old head is outside now. */
	if (bpf_xdp_adjust_head(ctx, (int)(end - data) - 14))
		return XDP_ABORTED;
	return *first;
}

char _license[] SEC("license") = "GPL";
