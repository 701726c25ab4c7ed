// SPDX-License-Identifier: GPL-2.0
/* Formats bpf_snprintf refuses (the kernel's verifier already at load, so
 * this object is for visor only, where the helper returns -EINVAL): a
 * precision, a conversion the kernel lacks, more conversions than
 * arguments, the '#' flag, an unknown %p form, a non-printable character. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char out[32];
long ret[6];

static const char f_prec[] = "%.2d";
static const char f_conv[] = "%f";
static const char f_few[] = "%d %d %d";
static const char f_hash[] = "%#x";
static const char f_ptr[] = "%pZ";
static const char f_ctrl[] = "bell\a";

SEC("xdp")
int xdp_snprintf_refused(struct xdp_md *ctx)
{
	__u64 a[2] = {1, 2};

	ret[0] = bpf_snprintf(out, sizeof(out), f_prec, a, 8);
	ret[1] = bpf_snprintf(out, sizeof(out), f_conv, a, 8);
	ret[2] = bpf_snprintf(out, sizeof(out), f_few, a, 16);
	ret[3] = bpf_snprintf(out, sizeof(out), f_hash, a, 8);
	ret[4] = bpf_snprintf(out, sizeof(out), f_ptr, a, 8);
	ret[5] = bpf_snprintf(out, sizeof(out), f_ctrl, a, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
