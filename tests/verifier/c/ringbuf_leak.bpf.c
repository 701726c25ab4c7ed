// expect: reject "is neither submitted nor discarded"
// kernel: reject "BPF_EXIT instruction in main prog would lead to reference leak"
// Neighbour of ringbuf_ok: the record is neither submitted nor discarded when
// rx_queue_index is 0.
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
int rb_leak(struct xdp_md *ctx)
{
	__u32 *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec)
		return XDP_PASS;
	*rec = ctx->ingress_ifindex;
	if (ctx->rx_queue_index)
		bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
