// SPDX-License-Identifier: GPL-2.0
/* Per-CPU counters: packets by size class in a per-CPU array and by
 * first byte in a per-CPU hash. Each CPU owns its slot, so plain increments
 * are exact; user space sums the per-CPU values. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 3); /* <100, <1000, >=1000 bytes */
} size_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} first_byte SEC(".maps");

SEC("xdp")
int xdp_percpu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;
	__u32 cls = len < 100 ? 0 : len < 1000 ? 1 : 2;
	__u64 *v = bpf_map_lookup_elem(&size_classes, &cls);

	if (v)
		*v += 1;
	if (data + 1 <= end) {
		__u32 key = *(__u8 *)data;
		__u64 one = 1;
		v = bpf_map_lookup_elem(&first_byte, &key);
		if (v)
			*v += 1;
		else
			bpf_map_update_elem(&first_byte, &key, &one, BPF_NOEXIST);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
