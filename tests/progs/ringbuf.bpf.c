// SPDX-License-Identifier: GPL-2.0
/* Ring buffer producer: one event per packet (length, ingress ifindex,
 * EtherType and the first 14 bytes) with reserve/submit; every fourth
 * packet also sends a short sequence record with bpf_ringbuf_output. The
 * sequence number lives in .bss, so events are numbered deterministically. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define EV_PACKET 1
#define EV_SEQ 2

struct packet_event {
	__u32 kind;
	__u32 len;
	__u32 ifindex;
	__u16 proto;
	__u8 head[ETH_HLEN];
};

struct seq_event {
	__u32 kind;
	__u32 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 4096);
} events SEC(".maps");

__u32 seq;
__u64 dropped_events;

SEC("xdp")
int xdp_ringbuf_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct packet_event *ev;
	__u32 n = ++seq;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		dropped_events++;
		return XDP_PASS;
	}
	ev->kind = EV_PACKET;
	ev->len = end - data;
	ev->ifindex = ctx->ingress_ifindex;
	ev->proto = 0;
	__builtin_memset(ev->head, 0, sizeof(ev->head));
	if (data + ETH_HLEN <= end) {
		struct ethhdr *eth = data;
		ev->proto = bpf_ntohs(eth->h_proto);
		__builtin_memcpy(ev->head, data, ETH_HLEN);
	}
	bpf_ringbuf_submit(ev, 0);

	if (n % 4 == 0) {
		struct seq_event s = {.kind = EV_SEQ, .seq = n};
		if (bpf_ringbuf_output(&events, &s, sizeof(s), 0))
			dropped_events++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
