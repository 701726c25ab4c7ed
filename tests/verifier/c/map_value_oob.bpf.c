// expect: reject "reading 8 bytes at offset 16 is outside the value of map"
// kernel: reject "R1 min value is outside of the allowed memory range"
// A 16-byte value indexed with a constant index 2 of a u64 array: bytes 16..23.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct pair {
	__u64 a, b;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pair);
} pairs SEC(".maps");

SEC("xdp")
int value_oob(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct pair *p = bpf_map_lookup_elem(&pairs, &key);

	if (!p)
		return XDP_PASS;
	return ((volatile __u64 *)p)[2] ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
