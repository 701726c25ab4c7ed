// SPDX-License-Identifier: GPL-2.0
/* bpf_loop with callbacks: sum_squares adds i*i for i < n (n = packet
 * length % 64) through a static helper, and stops early once the sum passes
 * a limit, so the return value of bpf_loop (iterations done) is tested too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define LIMIT 20000

struct loop_state {
	__u64 sum;
	__u32 limit;
};

__u64 loop_sum;
long loop_iters;

static __attribute__((noinline)) __u64 square(__u32 i)
{
	return (__u64)i * i;
}

static long sum_squares(__u32 i, void *data)
{
	struct loop_state *st = data;

	st->sum += square(i);
	return st->sum > st->limit ? 1 : 0; /* 1: stop */
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	struct loop_state st = {.sum = 0, .limit = LIMIT};
	__u32 n = (ctx->data_end - ctx->data) % 64;

	loop_iters = bpf_loop(n, sum_squares, &st, 0);
	loop_sum = st.sum;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
