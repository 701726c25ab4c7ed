/* The filter shared by the output test programs (tests/test_kernel_output.c,
 * tests/cli/test_run.sh): config[0] holds the tgid to trace, 0 for every
 * process. */
#ifndef KERNEL_OUT_COMMON_H
#define KERNEL_OUT_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} config SEC(".maps");

/* The calling process's tgid in *tgid; true when config asks to trace it. */
static __always_inline int traced(__u32 *tgid)
{
	__u32 zero = 0;
	*tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *want = bpf_map_lookup_elem(&config, &zero);
	return !(want && *want && *want != *tgid);
}

char LICENSE[] SEC("license") = "GPL";

#endif
