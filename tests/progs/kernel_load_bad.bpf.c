// SPDX-License-Identifier: GPL-2.0
/* A program the kernel's verifier refuses: the map lookup's result is used
 * without a NULL check (tests/test_kernel_load.c checks the reason is quoted). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} vals SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int unchecked_lookup(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &k);
	return (int)*v;
}

char LICENSE[] SEC("license") = "GPL";
