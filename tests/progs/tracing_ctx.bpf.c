// SPDX-License-Identifier: GPL-2.0
/* Programs that read their tracing-family context, for the visor VM's
 * contexts (tests/test_runtime_tracing.c): a raw tracepoint on sys_enter
 * (args[0] = struct pt_regs *, args[1] = the syscall id), a tp_btf program
 * on the same tracepoint, a tracepoint on sys_enter_openat (the record:
 * 8 bytes of common fields, the syscall number, then the arguments as
 * longs), a kprobe reading x86-64 registers, and a perf_event program
 * (a type the VM does not run). No kernel headers. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* struct pt_regs of x86-64. */
struct x86_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	__u64 ax, cx, dx, si, di, orig_ax;
	__u64 ip, cs, flags, sp, ss;
};

/* The sys_enter_openat record (format in tracefs). */
struct openat_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 dfd;
	__u64 filename;
	__s64 flags;
	__u64 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 64);
} ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} seen SEC(".maps");

static __always_inline void count(__u64 id)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&ids, &id);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&ids, &id, &one, BPF_NOEXIST);
}

static __always_inline void put(__u32 slot, __u64 val)
{
	bpf_map_update_elem(&seen, &slot, &val, BPF_ANY);
}

/* Counts syscall ids; returns the id's low byte plus the low half of the
 * pt_regs pointer's second word, narrow-loaded (args[0] bytes 4..7). */
SEC("raw_tp/sys_enter")
int raw_count(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ctx->args[1];
	__u32 hi = ((volatile __u32 *)ctx)[1];

	count(id);
	put(0, ctx->args[0]);
	return (int)((id & 0xff) + hi);
}

SEC("tp_btf/sys_enter")
int btf_count(__u64 *ctx)
{
	count(ctx[1]);
	return (int)ctx[1];
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(struct openat_record *r)
{
	put(1, r->nr);
	put(2, r->dfd);
	put(3, r->flags);
	return r->flags & 3; /* O_ACCMODE */
}

SEC("kprobe/do_sys_openat2")
int kp_openat(struct x86_regs *regs)
{
	put(4, regs->di);
	put(5, regs->si);
	put(6, regs->ip);
	return (int)regs->dx;
}

/* A type the VM has no context for: test-run must refuse it. */
SEC("perf_event")
int perf_unsupported(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
