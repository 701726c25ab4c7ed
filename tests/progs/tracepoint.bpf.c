// SPDX-License-Identifier: GPL-2.0
/* Tracing programs that need no kernel headers: a tracepoint counting
 * getpid() calls of one process (pid filter in .rodata, set before load),
 * a raw tracepoint counting sys_enter by syscall id, and a uprobe. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0; /* 0: every process */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} tp_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 512);
} syscalls SEC(".maps");

static __always_inline int mine(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return !target_tgid || tgid == target_tgid;
}

static __always_inline void bump(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&tp_counts, &i);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	if (mine())
		bump(0);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ctx->args[1], one = 1;
	__u64 *v;

	if (!mine())
		return 0;
	v = bpf_map_lookup_elem(&syscalls, &id);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&syscalls, &id, &one, BPF_NOEXIST);
	return 0;
}

SEC("uprobe//proc/self/exe:visor_probe_target")
int uprobe_target(void *ctx)
{
	if (mine())
		bump(1);
	return 0;
}

SEC("uretprobe/libc.so.6:getpid+4")
int uretprobe_getpid(void *ctx)
{
	bump(2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
