// SPDX-License-Identifier: GPL-2.0
/* bpf_perf_event_output from XDP: an event struct followed by the first
 * bytes of the packet (the upper 32 bits of flags), to the current CPU's
 * slot; plus the error cases, whose return values land in .bss. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 128); /* at least the possible CPUs */
} events SEC(".maps");

struct event {
	__u32 len;
	__u32 seq;
	__u64 magic;
	__u8 tag[8]; /* no padding: every byte of the sample is set */
};

long rc[7]; /* the helper's return codes; rc[6] counts runs */

SEC("xdp")
int xdp_perf(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct event ev = {.len = len, .seq = rc[6]++, .magic = 0x76697a6f72ull, .tag = {1, 2, 3}};
	__u64 n = len < 20 ? len : 20;

	rc[0] = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU | (n << 32), &ev,
				      sizeof(ev));
	rc[1] = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &ev.magic, 8);
	rc[2] = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU | ((__u64)len + 1) << 32,
				      &ev, sizeof(ev));
	rc[3] = bpf_perf_event_output(ctx, &events, 1ull << 52 | BPF_F_CURRENT_CPU, &ev,
				      sizeof(ev));
	rc[4] = bpf_perf_event_output(ctx, &events, 100000, &ev, sizeof(ev));
	rc[5] = bpf_perf_event_output(ctx, &events, 1, &ev, sizeof(ev)); /* CPU 1's slot */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
