// expect: accept
// A tracepoint program reading its record (read-only context).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_read(void *ctx)
{
	__u64 first = *(__u64 *)(ctx + 8);

	return first == 7;
}

char LICENSE[] SEC("license") = "GPL";
