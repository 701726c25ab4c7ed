/* runqlat-like: the time from a task's wakeup to its running, in a log2
 * histogram of microseconds. */
#include <linux/sched.h>

BPF_HASH(start, u32, u64, 10240);
BPF_HISTOGRAM(dist);

TRACEPOINT_PROBE(sched, sched_wakeup) {
    u32 pid = args->pid;
    u64 ts = bpf_ktime_get_ns();
    start.update(&pid, &ts);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_switch) {
    u32 pid = args->next_pid;
    u64 *tsp = start.lookup(&pid);
    if (tsp == 0)
        return 0;
    u64 delta = (bpf_ktime_get_ns() - *tsp) / 1000;
    dist.increment(bpf_log2l(delta));
    start.delete(&pid);
    return 0;
}
