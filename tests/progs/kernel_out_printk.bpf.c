// SPDX-License-Identifier: GPL-2.0
/* The trace pipe and map dumps (tests/test_kernel_output.c, tests/cli/
 * test_run.sh): every getppid() prints "visor-test <tgid>" with
 * bpf_printk, counts calls per tgid, and adds the tgid to a log2
 * histogram (slot = log2(tgid) + 1, as BCC's bpf_log2l). When config[0] is
 * set, only that tgid is traced. */
#include "kernel_out_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1024);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} pid_hist SEC(".maps");

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;
	for (int i = 0; i < 63 && v; i++) {
		slot++;
		v >>= 1;
	}
	return slot; /* 0 for 0, 1 for 1, 2 for 2-3 ... */
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int printk_getppid(void *ctx)
{
	__u32 tgid;
	__u64 one = 1, *v;
	if (!traced(&tgid))
		return 0;
	bpf_printk("visor-test %d", tgid);
	v = bpf_map_lookup_elem(&calls, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&calls, &tgid, &one, BPF_NOEXIST);
	__u32 slot = log2_slot(tgid);
	v = bpf_map_lookup_elem(&pid_hist, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
