// SPDX-License-Identifier: GPL-2.0
/* bpf_for_each_map_elem and bpf_loop, run the same in visor and the kernel.
 * xdp_foreach fills a hash from the packet length, then walks it and an
 * array: sums, an early stop, values changed from the callback; the same
 * over an LRU hash, a per-CPU array and a per-CPU hash. xdp_nested runs
 * bpf_loop inside a for_each callback. xdp_loop_args gives bpf_loop flags
 * and counts the kernel refuses at run time. Results go to the `results`
 * array (slots named below), which the map comparison checks too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, __u32);
	__uint(max_entries, 256); /* never full: eviction order is no concern */
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} per_cpu_hash SEC(".maps");

/* Slots of `results` (tests/test_runtime_callbacks.c has the same list). */
enum {
	R_HASH_N, R_HASH_SUM, R_HASH_STOP_N, R_HASH_STOP_SEEN, R_ARRAY_N, R_ARRAY_SUM,
	R_ARRAY_STOP_N, R_LRU_N, R_LRU_SUM, R_PCPU_N, R_PCPU_SUM, R_PCPU_HASH_N,
	R_PCPU_HASH_SUM, R_FOREACH_FLAGS, R_NESTED_N, R_NESTED_SUM, R_NESTED_INNER,
	R_LOOP_FLAGS, R_LOOP_BIG, R_LOOP_ZERO, R_LOOP_MAX, R_COUNT
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, R_COUNT);
} results SEC(".maps");

static void put(__u32 slot, __u64 value)
{
	bpf_map_update_elem(&results, &slot, &value, BPF_ANY);
}

struct walk {
	__u64 sum;
	__u64 seen;
	__u64 stop_after; /* 0: never */
	__u64 add;
	__u64 modify;
};

/* Volatile globals rather than constants: the verifier walks a callback
 * until its states converge, and a branch on constants that change each
 * iteration (seen >= 3) never would. */
volatile __u64 flags_one = 1, flags_zero, stop_3 = 3, stop_6 = 6;
volatile __u32 too_many = (1u << 23) + 1;

static long sum_hash(struct bpf_map *map, __u32 *key, __u64 *value, struct walk *w)
{
	w->seen++;
	w->sum += *key * 1000 + *value;
	if (w->modify)
		*value *= 2; /* visible in the map afterwards */
	return w->stop_after && w->seen >= w->stop_after;
}

static long fill_array(struct bpf_map *map, __u32 *key, __u64 *value, struct walk *w)
{
	*value = (__u64)*key * *key + w->add;
	w->sum += *value;
	w->seen++;
	return w->stop_after && w->seen >= w->stop_after;
}

static long sum_lru(struct bpf_map *map, __u64 *key, __u32 *value, struct walk *w)
{
	w->seen++;
	w->sum += *key ^ *value;
	return 0;
}

static long sum_pcpu(struct bpf_map *map, __u32 *key, __u64 *value, struct walk *w)
{
	*value += *key + 1;
	w->seen++;
	w->sum += *value;
	return 0;
}

static long sum_pcpu_hash(struct bpf_map *map, __u32 *key, __u32 *value, struct walk *w)
{
	w->seen++;
	w->sum += *key + *value;
	return 0;
}

/* Element i of the packet-length-dependent contents. */
static long fill_maps(__u32 i, __u32 *len)
{
	__u32 k = i * 7 + *len;
	__u64 v = i + 1;
	__u64 lk = (__u64)k << 32 | i;
	__u32 lv = i * 3;

	bpf_map_update_elem(&table, &k, &v, BPF_ANY);
	bpf_map_update_elem(&recent, &lk, &lv, BPF_ANY);
	if (i < 6)
		bpf_map_update_elem(&per_cpu_hash, &i, &lv, BPF_ANY);
	return 0;
}

SEC("xdp")
int xdp_foreach(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct walk w = {};

	w.sum = w.seen = flags_zero; /* unknown to the verifier, see above */
	bpf_loop(len % 16 + 4, fill_maps, &len, 0);

	w.modify = flags_one;
	put(R_HASH_N, bpf_for_each_map_elem(&table, sum_hash, &w, 0));
	put(R_HASH_SUM, w.sum);

	/* Which elements come first differs from the kernel: only counts. */
	w.sum = w.seen = flags_zero;
	w.stop_after = stop_3;
	w.modify = 0;
	put(R_HASH_STOP_N, bpf_for_each_map_elem(&table, sum_hash, &w, 0));
	put(R_HASH_STOP_SEEN, w.seen);

	w.sum = w.seen = flags_zero;
	w.stop_after = 0;
	w.add = len;
	put(R_ARRAY_N, bpf_for_each_map_elem(&slots, fill_array, &w, 0));
	put(R_ARRAY_SUM, w.sum);

	w.sum = w.seen = flags_zero;
	w.stop_after = stop_6;
	w.add = 1;
	put(R_ARRAY_STOP_N, bpf_for_each_map_elem(&slots, fill_array, &w, 0));

	w.sum = w.seen = flags_zero;
	w.stop_after = 0;
	put(R_LRU_N, bpf_for_each_map_elem(&recent, sum_lru, &w, 0));
	put(R_LRU_SUM, w.sum);

	w.sum = w.seen = flags_zero;
	put(R_PCPU_N, bpf_for_each_map_elem(&per_cpu, sum_pcpu, &w, 0));
	put(R_PCPU_SUM, w.sum);

	w.sum = w.seen = flags_zero;
	put(R_PCPU_HASH_N, bpf_for_each_map_elem(&per_cpu_hash, sum_pcpu_hash, &w, 0));
	put(R_PCPU_HASH_SUM, w.sum);

	put(R_FOREACH_FLAGS, bpf_for_each_map_elem(&slots, fill_array, &w, flags_one));
	return XDP_PASS;
}

/* bpf_loop inside a for_each callback: three frames deep. */
static long add_index(__u32 i, struct walk *w)
{
	w->sum += i;
	return 0;
}

static long loop_per_slot(struct bpf_map *map, __u32 *key, __u64 *value, struct walk *w)
{
	struct walk inner = {};
	long n = bpf_loop(*key, add_index, &inner, 0);

	w->seen += n;
	w->sum += inner.sum;
	*value = inner.sum;
	return *key >= 9; /* stop after slot 9 */
}

SEC("xdp")
int xdp_nested(struct xdp_md *ctx)
{
	struct walk w = {};

	put(R_NESTED_N, bpf_for_each_map_elem(&slots, loop_per_slot, &w, 0));
	put(R_NESTED_SUM, w.sum);
	put(R_NESTED_INNER, w.seen);
	return XDP_PASS;
}

/* A global, not the stack: the verifier would follow a precise stack
 * counter through every iteration. */
__u64 loop_count;

static long count_one(__u32 i, void *unused)
{
	loop_count++;
	return 0;
}

SEC("xdp")
int xdp_loop_args(struct xdp_md *ctx)
{
	put(R_LOOP_FLAGS, bpf_loop(3, count_one, NULL, flags_one));
	/* flags not a known 0: the kernel's inlined bpf_loop (known 0) gives
	 * -E2BIG zero-extended from 32 bits, the helper a 64-bit -E2BIG. */
	put(R_LOOP_BIG, bpf_loop(too_many, count_one, NULL, flags_zero));
	put(R_LOOP_ZERO, bpf_loop(0, count_one, NULL, 0));
	put(R_LOOP_MAX, bpf_loop(too_many - 1, count_one, NULL, 0)); /* exactly the limit */
	return loop_count == 1 << 23 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
