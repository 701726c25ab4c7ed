// SPDX-License-Identifier: GPL-2.0
/* openat() tracer with a ring buffer, as an exec/open snooper is written:
 * on sys_enter_openat, reserves an event (pid, tgid, uid, comm, the file
 * name copied from user memory, flags, two timestamps) and submits it, or
 * discards it when the name cannot be read or starts with an ignored prefix
 * ("/proc/", "/sys/"): every reserved record is submitted or discarded on
 * every path. Every 8th call, and on each failed copy, a small statistics
 * record goes out with bpf_ringbuf_output. A tgid filter lives in .rodata
 * (0: every process). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define NAME_MAX_LEN 256
#define EV_OPEN 1
#define EV_STATS 2
#define EV_COPY_FAILED 3

/* The tracepoint's record (/sys/kernel/tracing/events/syscalls/
 * sys_enter_openat/format). */
struct sys_enter_openat_ctx {
	__u64 common;      /* type, flags, preempt count, pid */
	__s32 syscall_nr;
	__u32 pad;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

struct open_event {
	__u32 kind;
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u64 ts_enter_ns;
	__u64 ts_copied_ns;
	__s32 dfd;
	__u32 flags;
	__s32 name_len;    /* bytes copied, with the NUL */
	char comm[TASK_COMM_LEN];
	char filename[NAME_MAX_LEN];
};

struct stats_event {
	__u32 kind;
	__u32 tgid;
	__u64 calls;
	__u64 submitted;
	__u64 discarded;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 4096);
} events SEC(".maps");

const volatile __u32 target_tgid = 0;

/* one struct so user space finds each counter at a fixed offset of .bss */
struct {
	__u64 calls;
	__u64 submitted;
	__u64 discarded;
	__u64 reserve_failed;
} counters;

/* Does the name start with prefix? A bounded byte loop, as the name is
 * only known to be a NUL-terminated string inside filename[]. */
static __always_inline int has_prefix(const char *name, const char *prefix, int plen)
{
	for (int i = 0; i < plen; i++) {
		if (name[i] != prefix[i])
			return 0;
	}
	return 1;
}

static __always_inline void send_stats(__u32 kind, __u32 tgid)
{
	struct stats_event s = {
		.kind = kind,
		.tgid = tgid,
		.calls = counters.calls,
		.submitted = counters.submitted,
		.discarded = counters.discarded,
	};
	bpf_ringbuf_output(&events, &s, sizeof(s), 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct sys_enter_openat_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u64 n;
	struct open_event *e;
	long len;

	if (target_tgid && tgid != target_tgid)
		return 0;
	n = __sync_add_and_fetch(&counters.calls, 1);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&counters.reserve_failed, 1);
		return 0;
	}
	e->kind = EV_OPEN;
	e->ts_enter_ns = bpf_ktime_get_ns();
	e->pid = (__u32)id;
	e->tgid = tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->dfd = (__s32)ctx->dfd;
	e->flags = (__u32)ctx->flags;
	if (bpf_get_current_comm(e->comm, sizeof(e->comm)))
		e->comm[0] = 0;

	len = bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
	if (len <= 0) {
		bpf_ringbuf_discard(e, 0);
		__sync_fetch_and_add(&counters.discarded, 1);
		send_stats(EV_COPY_FAILED, tgid);
		return 0;
	}
	e->name_len = len;
	e->ts_copied_ns = bpf_ktime_get_ns();

	if (has_prefix(e->filename, "/proc/", 6) || has_prefix(e->filename, "/sys/", 5)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		__sync_fetch_and_add(&counters.discarded, 1);
	} else {
		bpf_ringbuf_submit(e, 0);
		__sync_fetch_and_add(&counters.submitted, 1);
	}
	if (n % 8 == 0)
		send_stats(EV_STATS, tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
