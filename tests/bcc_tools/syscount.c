/* syscount-like: system calls counted by number, and by process. */
BPF_HASH(counts, u32, u64);
BPF_HASH(by_pid, u32, u64, 4096);

TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
    u32 nr = args->id;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    counts.increment(nr);
    by_pid.atomic_increment(pid, 1);
    return 0;
}
