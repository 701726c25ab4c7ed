// SPDX-License-Identifier: GPL-2.0
/* Ring buffer producer for tests/test_kernel_output.c: every getppid() of
 * the process whose tgid is in config[0] sends one event numbered from a
 * global counter; a failed reserve is counted in dropped[0] (so "nothing
 * lost" is checked on both sides). config[0] == 0: every process. */
#include "kernel_out_common.h"

struct event {
	__u64 seq;
	__u32 tgid;
	__u32 magic;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} dropped SEC(".maps");

__u64 next_seq;

SEC("tracepoint/syscalls/sys_enter_getppid")
int rb_getppid(void *ctx)
{
	__u32 zero = 0, tgid;
	if (!traced(&tgid))
		return 0;
	struct event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__u64 *d = bpf_map_lookup_elem(&dropped, &zero);
		if (d)
			__sync_fetch_and_add(d, 1);
		return 0;
	}
	ev->seq = __sync_fetch_and_add(&next_seq, 1);
	ev->tgid = tgid;
	ev->magic = 0x76697372; /* "visr" */
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
