// SPDX-License-Identifier: GPL-2.0
/* Map operation cost, for bench/bench_maps.c: each program does 64 hash map
 * operations per run on a map user space filled with keys 0..1023 (value
 * key * 3), and the baseline does the same work without the map, so that
 * (program - baseline) / 64 is the cost of one operation. The first packet
 * byte seeds the keys; each stores its result in bytes 8..15 (not over the
 * seed: repeated runs see the packet the previous run left, as the
 * kernel's), so engines can be compared.
 * Bounded loops, not unrolled: unrolled, clang gives each call its own key
 * slot and exceeds the 512-byte stack. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define OPS 64
#define KEY(i) (((i) * 13 + seed) & 1023)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1024);
} bench_hash SEC(".maps");

static __always_inline int store(struct xdp_md *ctx, __u64 v)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 16 > end)
		return XDP_ABORTED;
	__builtin_memcpy(data + 8, &v, 8);
	return XDP_PASS;
}

/* The first packet byte varies the keys, so nothing is constant-folded. */
static __always_inline __u32 seed_of(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 1 > end)
		return 0;
	return *(__u8 *)data;
}

SEC("xdp")
int xdp_bench_baseline(struct xdp_md *ctx)
{
	__u32 seed = seed_of(ctx);
	__u64 sum = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < OPS; i++) {
		volatile __u32 key = KEY(i);
		sum += (__u64)key * 3;
	}
	return store(ctx, sum);
}

SEC("xdp")
int xdp_bench_lookup(struct xdp_md *ctx)
{
	__u32 seed = seed_of(ctx);
	__u64 sum = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < OPS; i++) {
		__u32 key = KEY(i);
		__u64 *v = bpf_map_lookup_elem(&bench_hash, &key);
		if (v)
			sum += *v;
	}
	return store(ctx, sum);
}

SEC("xdp")
int xdp_bench_update(struct xdp_md *ctx)
{
	__u32 seed = seed_of(ctx);
	__u64 ok = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < OPS; i++) {
		__u32 key = KEY(i);
		__u64 v = (__u64)key * 3; /* the value it has: the map stays as filled */
		ok += bpf_map_update_elem(&bench_hash, &key, &v, BPF_ANY) == 0;
	}
	return store(ctx, ok);
}

char LICENSE[] SEC("license") = "GPL";
