// SPDX-License-Identifier: GPL-2.0
/* Tracing programs for the kernel load/attach test (tests/test_kernel_load.c):
 * a syscall tracepoint counting openat of one process (its tgid in cfg[0],
 * written before the process runs), kprobes on syscalls (attached through
 * the syscall tracepoints on a kernel without kprobes), a uprobe and
 * uretprobe reading arguments and the return value from pt_regs, a
 * perf-event sampler, a socket filter, and a kretprobe on a function that
 * is no syscall (the error case where kprobes are missing). */
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>

enum { C_OPENAT, C_GETPID, C_UPROBE, C_URETPROBE, C_PERF, C_GETPPID, C_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, C_MAX);
} counts SEC(".maps");

/* [0]: the tgid to count (0: nobody). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cfg SEC(".maps");

/* The uprobe's view: [0] sum of first arguments, [1] of second ones,
 * [2] of return values. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 3);
} uargs SEC(".maps");

static __always_inline int mine(void)
{
	__u32 k = 0;
	__u32 *t = bpf_map_lookup_elem(&cfg, &k);
	return t && *t && (__u32)(bpf_get_current_pid_tgid() >> 32) == *t;
}

static __always_inline void add(void *map, __u32 i, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(map, &i);
	if (c)
		__sync_fetch_and_add(c, v);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	if (mine())
		add(&counts, C_OPENAT, 1);
	return 0;
}

SEC("kprobe/__x64_sys_getpid")
int count_getpid(void *ctx)
{
	if (mine())
		add(&counts, C_GETPID, 1);
	return 0;
}

/* BCC's naming: the function is in the program's name. */
SEC("kprobe")
int kprobe__sys_getppid(void *ctx)
{
	if (mine())
		add(&counts, C_GETPPID, 1);
	return 0;
}

SEC("uprobe")
int on_add(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	add(&counts, C_UPROBE, 1);
	add(&uargs, 0, ctx->rdi);
	add(&uargs, 1, ctx->rsi);
	return 0;
}

SEC("uretprobe")
int on_add_ret(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	add(&counts, C_URETPROBE, 1);
	add(&uargs, 2, ctx->rax);
	return 0;
}

SEC("perf_event")
int on_sample(void *ctx)
{
	add(&counts, C_PERF, 1);
	return 0;
}

/* Drops datagrams whose first byte is 0xff. */
SEC("socket")
int drop_ff(struct __sk_buff *skb)
{
	__u8 b = 0;
	if (bpf_skb_load_bytes(skb, 0, &b, 1))
		return skb->len;
	return b == 0xff ? 0 : skb->len;
}

SEC("kretprobe/do_nanosleep")
int nanosleep_ret(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
