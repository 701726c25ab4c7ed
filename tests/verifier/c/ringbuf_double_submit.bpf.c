// expect: reject "r7"
// kernel: reject "R1 type=scalar expected=ringbuf_mem"
// The record is submitted, then discarded.
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
int rb_twice(struct xdp_md *ctx)
{
	__u32 *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec)
		return XDP_PASS;
	*rec = ctx->ingress_ifindex;
	bpf_ringbuf_submit(rec, 0);
	bpf_ringbuf_discard(rec, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
