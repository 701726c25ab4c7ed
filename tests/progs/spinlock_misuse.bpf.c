// SPDX-License-Identifier: GPL-2.0
/* Uses of bpf_spin_lock the kernel's verifier refuses, so never loaded into
 * the kernel: visor must refuse them at run time, release the lock and go
 * on. One array value with a lock, as in spinlock.bpf.c. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct locked {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct locked);
	__uint(max_entries, 1);
} state SEC(".maps");

static __always_inline struct locked *get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&state, &zero);
}

SEC("tc")
int lock_twice(struct __sk_buff *skb)
{
	struct locked *s = get();
	if (!s)
		return 1;
	bpf_spin_lock(&s->lock);
	bpf_spin_lock(&s->lock);
	bpf_spin_unlock(&s->lock);
	return 0;
}

SEC("tc")
int unlock_unheld(struct __sk_buff *skb)
{
	struct locked *s = get();
	if (!s)
		return 1;
	bpf_spin_unlock(&s->lock);
	return 0;
}

SEC("tc")
int exit_locked(struct __sk_buff *skb)
{
	struct locked *s = get();
	if (!s)
		return 1;
	bpf_spin_lock(&s->lock);
	s->count++;
	return 0;
}

SEC("tc")
int lock_not_a_lock(struct __sk_buff *skb)
{
	struct locked *s = get();
	if (!s)
		return 1;
	bpf_spin_lock((struct bpf_spin_lock *)&s->count);
	bpf_spin_unlock((struct bpf_spin_lock *)&s->count);
	return 0;
}

/* The correct use, to show the lock is free again after the others. */
SEC("tc")
int lock_ok(struct __sk_buff *skb)
{
	struct locked *s = get();
	if (!s)
		return 1;
	bpf_spin_lock(&s->lock);
	s->count++;
	bpf_spin_unlock(&s->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
