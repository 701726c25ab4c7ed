// expect: accept
// A ring buffer record reserved, filled and submitted on every path.
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
int rb_ok(struct xdp_md *ctx)
{
	__u32 *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec)
		return XDP_PASS;
	*rec = ctx->ingress_ifindex;
	if (ctx->rx_queue_index)
		bpf_ringbuf_submit(rec, 0);
	else
		bpf_ringbuf_discard(rec, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
