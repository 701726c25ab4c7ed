// SPDX-License-Identifier: GPL-2.0
/* bpf_snprintf with the formats the kernel accepts: numbers (signed,
 * unsigned, hex, 32 and 64 bits, negative), flags and widths, characters,
 * strings, IPv4 and IPv6 addresses in all four forms, %px, %%, truncation
 * into a small buffer and str_size 0. Every result and return value lands
 * in .bss, compared with the kernel byte for byte. (Formats the kernel
 * refuses, its verifier refuses at load: snprintf_refused.bpf.c.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define OUT_LEN 96
#define NOUT 12

char out[NOUT][OUT_LEN];
long ret[NOUT + 4];
char small[8];

/* The formats live in .rodata, as the kernel requires. */
static const char f_num[] = "d=%d i=%i u=%u x=%x X=%X neg=%d";
static const char f_long[] = "ld=%ld lld=%lld lu=%lu lx=%lx llX=%llX";
static const char f_width[] = "[%5d][%-5d][%05d][%+d][% d][%08x][%-4u|]";
static const char f_char[] = "c=%c%c%c w=[%3c][%-3c] pct=100%%";
static const char f_str[] = "s=%s w=[%8s][%-8s] e=[%s]";
static const char f_ip4[] = "%pI4 %pi4";
static const char f_ip6[] = "%pI6 %pi6";
static const char f_ptr[] = "px=%px w=[%20px]";
static const char f_trunc[] = "truncated: %d %s";

SEC("xdp")
int xdp_snprintf(struct xdp_md *ctx)
{
	static const char word[] = "visor";
	static const char empty[] = "";
	__u8 ip4[4] = {192, 0, 2, 7};
	__u8 ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
	__u32 len = ctx->data_end - ctx->data;
	__u64 a[12];

	a[0] = len; a[1] = -7; a[2] = 4000000000u; a[3] = 0xbeef; a[4] = 0xbeef; a[5] = -123456;
	ret[0] = bpf_snprintf(out[0], OUT_LEN, f_num, a, 6 * 8);
	a[0] = -5000000000ll; a[1] = -1; a[2] = 18446744073709551615ull;
	a[3] = 0x123456789abcull; a[4] = 0xfedcba9876543210ull;
	ret[1] = bpf_snprintf(out[1], OUT_LEN, f_long, a, 5 * 8);
	a[0] = 42; a[1] = 42; a[2] = -42; a[3] = len; a[4] = 7; a[5] = 0xabc; a[6] = 9;
	ret[2] = bpf_snprintf(out[2], OUT_LEN, f_width, a, 7 * 8);
	a[0] = 'v'; a[1] = 'm'; a[2] = '!'; a[3] = 'x'; a[4] = 'y';
	ret[3] = bpf_snprintf(out[3], OUT_LEN, f_char, a, 5 * 8);
	a[0] = (__u64)(long)word; a[1] = (__u64)(long)word; a[2] = (__u64)(long)word;
	a[3] = (__u64)(long)empty;
	ret[4] = bpf_snprintf(out[4], OUT_LEN, f_str, a, 4 * 8);
	a[0] = (__u64)(long)ip4; a[1] = (__u64)(long)ip4;
	ret[5] = bpf_snprintf(out[5], OUT_LEN, f_ip4, a, 2 * 8);
	a[0] = (__u64)(long)ip6; a[1] = (__u64)(long)ip6;
	ret[6] = bpf_snprintf(out[6], OUT_LEN, f_ip6, a, 2 * 8);
	a[0] = 0x1234; a[1] = 0xabcdef;
	ret[7] = bpf_snprintf(out[7], OUT_LEN, f_ptr, a, 2 * 8);
	a[0] = -99; a[1] = (__u64)(long)word;
	ret[8] = bpf_snprintf(small, sizeof(small), f_trunc, a, 2 * 8);
	ret[9] = bpf_snprintf(out[9], 0, f_trunc, a, 2 * 8);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
