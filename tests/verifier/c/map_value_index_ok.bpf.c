// expect: accept
// Neighbour of map_value_oob: a packet-derived index masked into range.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[8]);
} table SEC(".maps");

SEC("xdp")
int value_index(struct xdp_md *ctx)
{
	__u32 key = 0, i = ctx->rx_queue_index & 7;
	__u64 *t = bpf_map_lookup_elem(&table, &key);

	if (!t)
		return XDP_PASS;
	t[i] += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
