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

/* The inner map through every map helper: update (key 1: the length),
 * lookup and add (key 2), delete (key 3, set by the test beforehand) and
 * lookup of a missing key (past max_entries). */
__s64 results[4];

SEC("xdp")
int xdp_map_in_map_update(struct xdp_md *ctx)
{
	__u32 which = (ctx->data_end - ctx->data) & 1, k1 = 1, k2 = 2, k3 = 3, k9 = 9;
	__u64 len = ctx->data_end - ctx->data, *v;
	void *inner = bpf_map_lookup_elem(&outer, &which);

	if (!inner)
		return XDP_ABORTED;
	results[0] = bpf_map_update_elem(inner, &k1, &len, BPF_ANY);
	v = bpf_map_lookup_elem(inner, &k2);
	if (v)
		*v += len;
	results[1] = bpf_map_delete_elem(inner, &k3); /* arrays: -EINVAL */
	results[2] = bpf_map_lookup_elem(inner, &k9) != 0;
	results[3] = bpf_map_update_elem(inner, &k9, &len, BPF_ANY); /* -E2BIG */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
