/* opensnoop over a ring buffer: reserve, fill, submit (or discard). */
#include <linux/sched.h>

struct event {
    u32 pid;
    int dfd;
    char comm[TASK_COMM_LEN];
    char fname[NAME_MAX];
};

BPF_RINGBUF_OUTPUT(events, 16);
BPF_ARRAY(dropped, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    struct event *ev = events.ringbuf_reserve(sizeof(struct event));
    if (!ev) {
        int zero = 0;
        dropped.atomic_increment(zero);
        return 0;
    }
    ev->pid = bpf_get_current_pid_tgid() >> 32;
    ev->dfd = args->dfd;
    bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
    if (bpf_probe_read_user_str(ev->fname, sizeof(ev->fname), args->filename) < 0) {
        events.ringbuf_discard(ev, 0);
        return 0;
    }
    events.ringbuf_submit(ev, 0);
    return 0;
}
