// SPDX-License-Identifier: GPL-2.0
/* Features the kernel runs and visor's VM does not: a CO-RE read of a
 * kernel type, kfunc calls, a __kconfig and a __ksym extern. Each program
 * uses one, so the refusal names it; core_skb_ok uses CO-RE only against
 * the UAPI __sk_buff, whose layout is fixed, and is accepted. The kernel
 * types are declared here (preserve_access_index) instead of vmlinux.h. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int LINUX_KERNEL_VERSION __kconfig;
extern const int bpf_prog_active __ksym;

SEC("tp_btf/sys_enter")
int core_task(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int pid = BPF_CORE_READ(t, pid);
	return pid;
}

SEC("tp_btf/sys_enter")
int core_kfunc(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_struct *a = bpf_task_acquire(t);
	if (a)
		bpf_task_release(a);
	return 0;
}

SEC("tc")
int core_kconfig(struct __sk_buff *skb)
{
	return LINUX_KERNEL_VERSION > 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("raw_tp/sys_enter")
int core_ksym(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);
	return *active;
}

SEC("tc")
int core_skb_ok(struct __sk_buff *skb)
{
	if (bpf_core_field_exists(skb->mark))
		return TC_ACT_OK;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
