// SPDX-License-Identifier: GPL-2.0
/* One prog array used by an XDP and a tc program: the kernel loads the
 * first and refuses the second (tail calls do not cross program types). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} mixed_table SEC(".maps");

SEC("xdp")
int mixed_xdp(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &mixed_table, 0);
	return XDP_PASS;
}

SEC("tc")
int mixed_tc(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &mixed_table, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
