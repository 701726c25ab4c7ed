/* Helpers with Linux ids that are not about maps: time, identity, random
 * numbers, trace_printk, safe reads of this process's memory, checksums,
 * strings. Registration of all of them: visor_vm_register_linux_helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <visor/maps.h>

#include "format.h"
#include "helpers.h"

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t h_ktime_get_ns(HELPER_ARGS) { return clock_ns(CLOCK_MONOTONIC); }
static uint64_t h_ktime_get_boot_ns(HELPER_ARGS) { return clock_ns(CLOCK_BOOTTIME); }
/* User space cannot read jiffies: boot time at Debian's CONFIG_HZ=250. */
static uint64_t h_jiffies64(HELPER_ARGS) { return clock_ns(CLOCK_BOOTTIME) / 4000000ull; }
static uint64_t h_get_smp_processor_id(HELPER_ARGS) { return visor_map_cpu(); }
static uint64_t h_get_numa_node_id(HELPER_ARGS) { return 0; }

static uint64_t h_get_prandom_u32(HELPER_ARGS)
{
	/* xorshift64* per thread, seeded once: cheap, not for secrets (as the kernel's). */
	static __thread uint64_t s;
	if (!s && (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s) || !s))
		s = clock_ns(CLOCK_MONOTONIC) | 1;
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (uint32_t)((s * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t h_get_current_pid_tgid(HELPER_ARGS)
{
	return (uint64_t)getpid() << 32 | (uint32_t)gettid();
}

static uint64_t h_get_current_uid_gid(HELPER_ARGS)
{
	return (uint64_t)getgid() << 32 | (uint32_t)getuid();
}

static uint64_t h_get_current_comm(HELPER_ARGS)
{
	char comm[16] = {0};
	if (!r2 || !visor_helper_mem(run, r1, r2, true, "bpf_get_current_comm", "buf"))
		return (uint64_t)-EINVAL;
	prctl(PR_GET_NAME, comm);
	/* strscpy_pad: truncated, NUL-terminated, zero-padded */
	size_t n = strnlen(comm, sizeof(comm) - 1);
	if (n > r2 - 1)
		n = r2 - 1;
	memset((void *)(uintptr_t)r1, 0, r2);
	memcpy((void *)(uintptr_t)r1, comm, n);
	return 0;
}

/* Reads of arbitrary addresses of this process that fail cleanly: the
 * kernel copies for us (process_vm_readv on our own pid) and says EFAULT
 * where a plain load would crash. */
bool visor_safe_read(void *dst, uint64_t src, size_t len)
{
	struct iovec l = {.iov_base = dst, .iov_len = len};
	struct iovec r = {.iov_base = (void *)(uintptr_t)src, .iov_len = len};
	return len == 0 || process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len;
}

static uint64_t h_probe_read_user(HELPER_ARGS)
{
	if (!visor_helper_mem(run, r1, r2, true, "bpf_probe_read_user", "dst"))
		return 0;
	if (visor_safe_read((void *)(uintptr_t)r1, r3, r2))
		return 0;
	memset((void *)(uintptr_t)r1, 0, r2);
	return (uint64_t)-EFAULT;
}

/* Up to size - 1 bytes and a NUL; the length including the NUL. Reads go
 * page by page so a string ending before an unmapped page is fine. */
long visor_safe_read_str(char *dst, uint64_t src, uint64_t size)
{
	uint64_t done = 0;
	if (!size)
		return 0;
	while (done < size - 1) {
		uint64_t page_left = 4096 - ((src + done) & 4095);
		uint64_t n = size - 1 - done < page_left ? size - 1 - done : page_left;
		if (!visor_safe_read(dst + done, src + done, n))
			return -EFAULT;
		char *nul = memchr(dst + done, 0, n);
		if (nul)
			return nul - dst + 1;
		done += n;
	}
	dst[done] = 0;
	return (long)done + 1;
}

static uint64_t h_probe_read_user_str(HELPER_ARGS)
{
	if (!visor_helper_mem(run, r1, r2, true, "bpf_probe_read_user_str", "dst"))
		return 0;
	long n = visor_safe_read_str((char *)(uintptr_t)r1, r3, r2);
	if (n < 0)
		memset((void *)(uintptr_t)r1, 0, r2);
	return (uint64_t)(int64_t)n;
}

/* bpf_csum_diff: the one's complement sum of ~from and to, plus seed,
 * folded to 32 bits as x86's csum_partial. */
static uint64_t h_csum_diff(HELPER_ARGS)
{
	const char *h = "bpf_csum_diff";
	if ((r2 | r4) & 3 || r2 + r4 > 512)
		return (uint64_t)-EINVAL;
	if (!visor_helper_mem(run, r1, r2, false, h, "from") ||
	    !visor_helper_mem(run, r3, r4, false, h, "to"))
		return 0;
	uint64_t sum = (uint32_t)r5;
	const uint32_t *from = (const uint32_t *)(uintptr_t)r1, *to = (const uint32_t *)(uintptr_t)r3;
	for (uint64_t i = 0; i < r2 / 4; i++)
		sum += (uint32_t)~from[i];
	for (uint64_t i = 0; i < r4 / 4; i++)
		sum += to[i];
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (uint32_t)sum;
}

/* bpf_skb_load_bytes(skb, offset, to, len): bytes of the packet from
 * skb->data + offset; out of the packet, to is zeroed and -EFAULT returned
 * as the kernel's. The context's pointers are checked against the run's
 * packet, so a forged context cannot read elsewhere. */
static uint64_t h_skb_load_bytes(HELPER_ARGS)
{
	const char *h = "bpf_skb_load_bytes";
	uint32_t type = run->vm->rt ? run->vm->rt->prog_type : 0;
	if (type != VISOR_VM_PROG_SOCKET_FILTER && type != VISOR_VM_PROG_SCHED_CLS) {
		visor_vm_run_fail(run, -EINVAL, "%s: the program has no __sk_buff context", h);
		return 0;
	}
	if (!visor_helper_mem(run, r1, VISOR_SKB_CTX_VISIBLE, false, h, "skb") ||
	    !visor_helper_mem(run, r3, r4, true, h, "to"))
		return 0;
	const struct visor_skb *skb = (const struct visor_skb *)(uintptr_t)r1;
	uint64_t src = skb->data + (uint32_t)r2;
	if (!r4 || (uint32_t)r2 > INT32_MAX || src < run->mem.base || src + r4 < src ||
	    src + r4 > run->mem.base + run->mem.len || src + r4 > skb->data_end) {
		memset((void *)(uintptr_t)r3, 0, r4);
		return (uint64_t)-EFAULT;
	}
	memcpy((void *)(uintptr_t)r3, (const void *)(uintptr_t)src, r4);
	return 0;
}

/* bpf_strncmp(s1, s1_sz, s2): s2 is a NUL-terminated constant. */
static uint64_t h_strncmp(HELPER_ARGS)
{
	const char *h = "bpf_strncmp";
	if (!visor_helper_mem(run, r1, r2, false, h, "s1"))
		return 0;
	const unsigned char *a = (const unsigned char *)(uintptr_t)r1;
	const unsigned char *b = (const unsigned char *)(uintptr_t)r3;
	for (uint64_t i = 0; i < r2; i++) {
		if (!visor_helper_mem(run, r3 + i, 1, false, h, "s2"))
			return 0;
		if (a[i] != b[i])
			return a[i] < b[i] ? (uint64_t)-1 : 1;
		if (!a[i])
			return 0;
	}
	return 0;
}

/* ---- bpf_trace_printk, bpf_trace_vprintk ---------------------------------- */

/* Formats like the kernel (format.c) into its 512-byte line and hands the
 * line to the printk target. Returns the whole length, as the kernel. */
static uint64_t trace_print(struct visor_vm_run *run, const char *h, uint64_t fmt,
			    uint64_t fmt_size, const uint64_t *args, uint32_t nargs)
{
	if (!fmt_size || !visor_helper_mem(run, fmt, fmt_size, false, h, "fmt"))
		return (uint64_t)-EINVAL;
	char line[512], why[160];
	long n = visor_bprintf((const char *)(uintptr_t)fmt, fmt_size, args, nargs, line,
			       sizeof(line), why, sizeof(why));
	if (n < 0)
		return (uint64_t)(int64_t)n;
	size_t len = strlen(line);
	const struct visor_vm_rt *rt = run->vm->rt;
	if (rt && rt->printk) {
		rt->printk(rt->printk_ctx, line, len);
	} else {
		fwrite(line, 1, len, stdout);
		fflush(stdout);
	}
	return (uint64_t)n;
}

static uint64_t h_trace_printk(HELPER_ARGS)
{
	uint64_t args[3] = {r3, r4, r5};
	return trace_print(run, "bpf_trace_printk", r1, r2, args, 3);
}

/* bpf_trace_vprintk(fmt, fmt_size, data, data_len): data holds data_len / 8
 * u64 arguments, at most 12. */
static uint64_t h_trace_vprintk(HELPER_ARGS)
{
	const char *h = "bpf_trace_vprintk";
	uint64_t args[VISOR_BPRINTF_MAX_ARGS];
	if (r4 % 8 || r4 > sizeof(args) || (r4 && !r3))
		return (uint64_t)-EINVAL;
	if (!visor_helper_mem(run, r3, r4, false, h, "data"))
		return 0;
	memcpy(args, (const void *)(uintptr_t)r3, r4);
	return trace_print(run, h, r1, r2, args, (uint32_t)(r4 / 8));
}

int visor_vm_register_linux_helpers(struct visor_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		visor_helper_fn fn;
	} tab[] = {
		{5, "bpf_ktime_get_ns", h_ktime_get_ns},
		{6, "bpf_trace_printk", h_trace_printk},
		{7, "bpf_get_prandom_u32", h_get_prandom_u32},
		{8, "bpf_get_smp_processor_id", h_get_smp_processor_id},
		{14, "bpf_get_current_pid_tgid", h_get_current_pid_tgid},
		{15, "bpf_get_current_uid_gid", h_get_current_uid_gid},
		{16, "bpf_get_current_comm", h_get_current_comm},
		{26, "bpf_skb_load_bytes", h_skb_load_bytes},
		{28, "bpf_csum_diff", h_csum_diff},
		{42, "bpf_get_numa_node_id", h_get_numa_node_id},
		{112, "bpf_probe_read_user", h_probe_read_user},
		{114, "bpf_probe_read_user_str", h_probe_read_user_str},
		{118, "bpf_jiffies64", h_jiffies64},
		{125, "bpf_ktime_get_boot_ns", h_ktime_get_boot_ns},
		{177, "bpf_trace_vprintk", h_trace_vprintk},
		{182, "bpf_strncmp", h_strncmp},
	};
	if (!vm)
		return -EINVAL;
	/* The runtime state holds the printk target and makes runs take the
	 * maps' read-side section. */
	if (!visor_vm_rt_get(vm))
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int err = visor_vm_register_helper(vm, tab[i].id, tab[i].name, tab[i].fn);
		if (err)
			return err;
	}
	int (*const families[])(struct visor_vm *) = {
		visor_register_map_helpers,      visor_register_tailcall_helpers,
		visor_register_callback_helpers, visor_register_packet_helpers,
		visor_register_output_helpers,   visor_register_lock_helpers,
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		int err = families[i](vm);
		if (err)
			return err;
	}
	return 0;
}
