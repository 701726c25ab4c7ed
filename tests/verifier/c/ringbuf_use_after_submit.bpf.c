// expect: reject "r7"
// kernel: reject "R7 invalid mem access 'scalar'"
// The record is written after it was submitted.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int rb_after(struct xdp_md *ctx)
{
	volatile __u32 *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec)
		return XDP_PASS;
	bpf_ringbuf_submit((void *)rec, 0);
	*rec = ctx->ingress_ifindex;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
