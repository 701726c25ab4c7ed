// SPDX-License-Identifier: GPL-2.0
/* Redirects in XDP: xdp_redirect_port sends the frame through the devmap
 * `tx_ports` at the key in the last byte of the destination MAC (a missing
 * key falls back to XDP_PASS); xdp_redirect_hash does the same through the
 * devmap_hash `tx_hash` (fallback XDP_DROP); xdp_redirect_ifindex uses
 * bpf_redirect with the ifindex in that byte. xdp_redirect_flags records
 * what the helpers return for each kind of flags. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
	__uint(max_entries, 4);
} tx_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __s64);
	__uint(max_entries, 16);
} results SEC(".maps");

static __always_inline void record(__u32 i, long v)
{
	__s64 *slot = bpf_map_lookup_elem(&results, &i);
	if (slot)
		*slot = v;
}

/* The last byte of the destination MAC, or -1 for a short frame. */
static __always_inline int port_of(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	if (data + 6 > (__u8 *)(long)ctx->data_end)
		return -1;
	return data[5];
}

SEC("xdp")
int xdp_redirect_port(struct xdp_md *ctx)
{
	int port = port_of(ctx);
	if (port < 0)
		return XDP_ABORTED;
	return bpf_redirect_map(&tx_ports, port, XDP_PASS);
}

SEC("xdp")
int xdp_redirect_hash(struct xdp_md *ctx)
{
	int port = port_of(ctx);
	if (port < 0)
		return XDP_ABORTED;
	/* The program may read what the devmap holds. */
	__u32 key = port;
	struct bpf_devmap_val *v = bpf_map_lookup_elem(&tx_hash, &key);
	record(0, v ? (long)v->ifindex : -1);
	return bpf_redirect_map(&tx_hash, port, XDP_DROP);
}

SEC("xdp")
int xdp_redirect_ifindex(struct xdp_md *ctx)
{
	int port = port_of(ctx);
	if (port < 0)
		return XDP_ABORTED;
	return bpf_redirect(port, 0);
}

SEC("xdp")
int xdp_redirect_flags(struct xdp_md *ctx)
{
	record(1, bpf_redirect(1, 1));                          /* XDP: no flags */
	record(2, bpf_redirect_map(&tx_ports, 7, XDP_TX));      /* missing: the fallback */
	record(3, bpf_redirect_map(&tx_ports, 7, 4));           /* bit 2: not allowed */
	record(4, bpf_redirect_map(&tx_ports, 7, BPF_F_BROADCAST));
	record(5, bpf_redirect_map(&tx_ports, 7, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS));
	record(6, bpf_redirect_map(&tx_ports, 7, 1ULL << 5));
	record(7, bpf_redirect_map(&tx_ports, 0x100000000ULL, XDP_DROP)); /* key is a u32 */
	record(8, bpf_redirect_map(&tx_hash, 9, XDP_PASS | BPF_F_BROADCAST));
	/* The last call decides: a missing key with fallback XDP_PASS. */
	return bpf_redirect_map(&tx_ports, 7, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
