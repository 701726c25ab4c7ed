// SPDX-License-Identifier: GPL-2.0
/* Legacy map definitions (struct bpf_map_def in SEC("maps"), as before
 * BTF-defined maps) and a "version" section. Built without -g: the object
 * has no BTF at all. libbpf 1.x no longer reads this form; visor does. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

struct bpf_map_def SEC("maps") legacy_lengths = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
	.map_flags = BPF_F_NO_PREALLOC,
};

SEC("socket")
int legacy_socket(struct __sk_buff *skb)
{
	__u32 key = skb->protocol & 15, len = skb->len;
	__u64 *v = bpf_map_lookup_elem(&legacy_counts, &key);
	__u64 one = 1;

	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&legacy_lengths, &len);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&legacy_lengths, &len, &one, BPF_ANY);
	return skb->len;
}

__u32 _version SEC("version") = 0x060100;
char LICENSE[] SEC("license") = "GPL";
