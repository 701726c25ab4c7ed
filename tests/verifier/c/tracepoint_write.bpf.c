// expect: reject "store (the context is read-only) of the tracepoint"
// kernel: reject "invalid bpf_context access off=8 size=8"
// Neighbour of tracepoint_read: the record is written.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_write(void *ctx)
{
	*(volatile __u64 *)(ctx + 8) = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
