// SPDX-License-Identifier: GPL-2.0
/* Perf buffer producer for tests/test_kernel_output.c: every getppid() of
 * the process whose tgid is in config[0] sends one numbered record with
 * bpf_perf_event_output on the current CPU. config[0] == 0: every process. */
#include "kernel_out_common.h"

struct record {
	__u64 seq;
	__u32 tgid;
	__u32 magic;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} records SEC(".maps");

__u64 next_seq;

SEC("tracepoint/syscalls/sys_enter_getppid")
int perf_getppid(void *ctx)
{
	__u32 tgid;
	if (!traced(&tgid))
		return 0;
	struct record r = {
		.seq = __sync_fetch_and_add(&next_seq, 1),
		.tgid = tgid,
		.magic = 0x76697372,
	};
	bpf_perf_event_output(ctx, &records, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}
