// SPDX-License-Identifier: GPL-2.0
/* Global data in every section libbpf makes a map of: read-only config in
 * .rodata, initialised state in .data and a custom .data.stats, zeroed
 * state in .bss, and a string literal (.rodata.str1.1) compared against
 * the packet with bpf_strncmp. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 cfg_mult = 3;
const volatile __u8 cfg_enabled = 1;
const volatile __u32 cfg_weights[4] = {1, 2, 3, 5};

__u64 total_len = 100;
__u32 rotor = 7;
__u64 matches SEC(".data.stats") = 0;
__u64 mismatches SEC(".data.stats") = 0;

__u64 packets;
__u32 last_result;
char last_head[8];

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;

	if (!cfg_enabled)
		return XDP_PASS;
	packets++;
	total_len += len;
	rotor = rotor * 1103515245 + 12345;
	last_result = cfg_weights[len & 3] * cfg_mult + (rotor >> 16);
	if (data + sizeof(last_head) <= end) {
		__builtin_memcpy(last_head, data, sizeof(last_head));
		/* the literal lives in .rodata.str1.1 */
		if (bpf_strncmp(last_head, sizeof(last_head), "visor") == 0)
			matches++;
		else
			mismatches++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
