/* Walks kernel structs from the current task: parent's tgid, the mm's
 * argument area, the credentials, nested implicit probe reads. */
#include <linux/sched.h>
#include <linux/mm.h>

struct info_t {
    u32 pid;
    u32 ppid;
    u32 gppid;
    u32 uid;
    u64 arg_len;
    char pcomm[TASK_COMM_LEN];
};

BPF_HASH(info, u32, struct info_t);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct info_t i = {};
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    i.pid = task->tgid;
    i.ppid = task->real_parent->tgid;
    i.gppid = task->real_parent->real_parent->tgid;
    i.uid = task->cred->uid.val;
    i.arg_len = task->mm->arg_end - task->mm->arg_start;
    bpf_probe_read_kernel(&i.pcomm, sizeof(i.pcomm), task->real_parent->comm);
    info.update(&pid, &i);
    return 0;
}
