// SPDX-License-Identifier: GPL-2.0
/* Spin locks in map values: packets and bytes updated together under the
 * value's bpf_spin_lock, in an array and in a hash keyed by skb->protocol,
 * so readers never see one updated without the other. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct locked_stats {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct locked_stats);
	__uint(max_entries, 1);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct locked_stats);
	__uint(max_entries, 64);
} by_proto SEC(".maps");

static __always_inline void account(struct locked_stats *s, __u32 len)
{
	bpf_spin_lock(&s->lock);
	s->packets++;
	s->bytes += len;
	bpf_spin_unlock(&s->lock);
}

SEC("tc")
int tc_spinlock(struct __sk_buff *skb)
{
	__u32 zero = 0, proto = skb->protocol;
	struct locked_stats *s = bpf_map_lookup_elem(&totals, &zero);

	if (s)
		account(s, skb->len);
	s = bpf_map_lookup_elem(&by_proto, &proto);
	if (!s) {
		struct locked_stats init = {};
		bpf_map_update_elem(&by_proto, &proto, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&by_proto, &proto);
	}
	if (s)
		account(s, skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
