// SPDX-License-Identifier: GPL-2.0
/* Several programs in one section (three in "xdp", two in "tc"), one in
 * "xdp.frags", one marked "?xdp" that libbpf does not load by default, and
 * a syscall program that clears the shared counter array. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} hits SEC(".maps");

static __always_inline void hit(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &i);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_pass_all(struct xdp_md *ctx)
{
	hit(0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	hit(1);
	return XDP_DROP;
}

SEC("xdp")
int xdp_drop_odd(struct xdp_md *ctx)
{
	hit(2);
	return (ctx->data_end - ctx->data) & 1 ? XDP_DROP : XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags_pass(struct xdp_md *ctx)
{
	hit(3);
	return XDP_PASS;
}

SEC("?xdp")
int xdp_manual(struct xdp_md *ctx)
{
	hit(4);
	return XDP_ABORTED;
}

SEC("tc")
int tc_ok(struct __sk_buff *skb)
{
	hit(5);
	return TC_ACT_OK;
}

SEC("tc")
int tc_shot(struct __sk_buff *skb)
{
	hit(6);
	return TC_ACT_SHOT;
}

static __always_inline void clear(__u32 i)
{
	__u64 zero = 0;
	bpf_map_update_elem(&hits, &i, &zero, BPF_ANY);
}

SEC("syscall")
int sys_reset_hits(void *ctx)
{
	clear(0), clear(1), clear(2), clear(3);
	clear(4), clear(5), clear(6), clear(7);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
