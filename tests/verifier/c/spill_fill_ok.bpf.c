// expect: accept
// Many live values force clang to spill the map value pointer to the stack
// across a helper call; the filled pointer keeps its kind.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

SEC("xdp")
int spill(struct xdp_md *ctx)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *a = bpf_map_lookup_elem(&vals, &k0);
	__u64 *b = bpf_map_lookup_elem(&vals, &k1);
	__u64 t = bpf_ktime_get_ns();

	if (!a || !b)
		return XDP_PASS;
	*a += t;
	*b += bpf_ktime_get_ns() - t;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
