// SPDX-License-Identifier: GPL-2.0
/* Map in map: an array of two inner arrays, statically initialised;
 * odd-length packets count in the second, even ones in the first. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
};

struct inner_map inner_even SEC(".maps"), inner_odd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 2);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = {&inner_even, &inner_odd},
};

SEC("xdp")
int xdp_map_in_map(struct xdp_md *ctx)
{
	__u32 which = (ctx->data_end - ctx->data) & 1, zero = 0;
	void *inner = bpf_map_lookup_elem(&outer, &which);
	__u64 *v;

	if (!inner)
		return XDP_ABORTED;
	v = bpf_map_lookup_elem(inner, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
