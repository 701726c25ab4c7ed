// SPDX-License-Identifier: GPL-2.0
/* A BPF_PROG_TYPE_SYSCALL program: its context is the caller's buffer
 * (struct calc_args), read and written in place. It computes on two
 * numbers, writes the results back into the buffer, keeps a running total
 * per operation in an array and counts calls in .bss; the return value is
 * the operation's status. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct calc_args {
	__u64 a;
	__u64 b;
	__u32 op;     /* 0 add, 1 multiply, 2 subtract (signed), 3 divide */
	__u32 status; /* out: 0, or 1 for an unknown op, 2 for a division by 0 */
	__s64 result; /* out */
	__u64 calls;  /* out: how many calls so far, this one included */
	__u8 tag[4];  /* in: echoed reversed into out_tag */
	__u8 out_tag[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __s64);
	__uint(max_entries, 4);
} totals SEC(".maps");

__u64 ncalls = 0;

SEC("syscall")
int calc(struct calc_args *ctx)
{
	__u32 op = ctx->op;
	__s64 r;

	ctx->calls = ++ncalls;
	switch (op) {
	case 0:
		r = ctx->a + ctx->b;
		break;
	case 1:
		r = ctx->a * ctx->b;
		break;
	case 2:
		r = (__s64)ctx->a - (__s64)ctx->b;
		break;
	case 3:
		if (!ctx->b) {
			ctx->status = 2;
			return 2;
		}
		r = ctx->a / ctx->b;
		break;
	default:
		ctx->status = 1;
		return 1;
	}
	for (int i = 0; i < 4; i++)
		ctx->out_tag[i] = ctx->tag[3 - i];
	ctx->result = r;
	ctx->status = 0;
	__s64 *t = bpf_map_lookup_elem(&totals, &op);
	if (t)
		*t += r;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
