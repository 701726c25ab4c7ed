/* The maps and the counting step shared by tests/test_kernel_net.c's XDP,
 * tc and socket filter programs: frames counted per EtherType (host
 * order), and a rule map of EtherTypes to drop, filled by the test. */
#ifndef KERNEL_NET_COMMON_H
#define KERNEL_NET_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* EtherType, host order */
	__type(value, __u64);
	__uint(max_entries, 64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 16);
} drop_types SEC(".maps");

/* Counts one frame of this EtherType; true when the rules drop it. */
static __always_inline int count_and_judge(__u32 type)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &type);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &type, &one, BPF_NOEXIST);
	return bpf_map_lookup_elem(&drop_types, &type) != 0;
}

char LICENSE[] SEC("license") = "GPL";

#endif
