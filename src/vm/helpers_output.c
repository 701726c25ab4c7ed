/* Output helpers: bpf_perf_event_output (25) into a perf event array, and
 * bpf_snprintf (165), the kernel's printf (format.c) into program memory. */
#include <errno.h>
#include <string.h>

#include <visor/maps.h>

#include "format.h"
#include "helpers.h"

/* ---- bpf_perf_event_output ------------------------------------------------ */

/* The packet XDP and skb programs may append: [data, data_end) of the
 * run's own context, clamped to the run's packet region. */
static bool ctx_packet(struct visor_vm_run *run, const uint8_t **p, uint64_t *len)
{
	uint64_t data, data_end;
	uint32_t type = run->vm->rt->prog_type;
	if (type == VISOR_VM_PROG_XDP) {
		const struct visor_xdp_buff *x = run->ctx;
		data = x->data;
		data_end = x->data_end;
	} else {
		const struct visor_skb *skb = run->ctx;
		data = skb->data;
		data_end = skb->data_end;
	}
	if (data > data_end || data < run->mem.base || data_end > run->mem.base + run->mem.len)
		return false;
	*p = (const uint8_t *)(uintptr_t)data;
	*len = data_end - data;
	return true;
}

/* bpf_perf_event_output(ctx, map, flags, data, size). XDP, socket filter
 * and tc programs use the kernel's bpf_xdp/skb_event_output: ctx must be
 * the run's context, and the upper bits of flags append that many packet
 * bytes (-EFAULT past the packet). Other programs: index bits only. */
static uint64_t h_perf_event_output(HELPER_ARGS)
{
	const char *h = "bpf_perf_event_output";
	struct visor_map *m = visor_vm_rt_map(run, r2);
	if (!m || visor_map_type(m) != VISOR_MAP_TYPE_PERF_EVENT_ARRAY) {
		visor_vm_run_fail(run, -EINVAL, "%s: 0x%llx is not a perf event array the program may use",
				  h, (unsigned long long)r2);
		return 0;
	}
	if (!visor_helper_mem(run, r4, r5, false, h, "data"))
		return 0;
	uint32_t type = run->vm->rt->prog_type;
	bool packet = type == VISOR_VM_PROG_XDP || type == VISOR_VM_PROG_SOCKET_FILTER ||
		      type == VISOR_VM_PROG_SCHED_CLS;
	uint64_t allowed = VISOR_F_INDEX_MASK | (packet ? VISOR_F_CTXLEN_MASK : 0);
	if (r3 & ~allowed)
		return (uint64_t)-EINVAL;
	const uint8_t *pkt = NULL;
	uint64_t pkt_len = 0, want = (r3 & VISOR_F_CTXLEN_MASK) >> 32;
	if (packet) {
		if (!run->ctx || r1 != (uintptr_t)run->ctx) {
			visor_vm_run_fail(run, -EINVAL, "%s: ctx 0x%llx is not the program's context", h,
					  (unsigned long long)r1);
			return 0;
		}
		if (!ctx_packet(run, &pkt, &pkt_len) || want > pkt_len)
			return (uint64_t)-EFAULT;
	}
	return (uint64_t)(int64_t)visor_perf_event_output(m, r3, (const void *)(uintptr_t)r4, r5,
							  pkt, want);
}

/* ---- bpf_snprintf ----------------------------------------------------------- */

/* The kernel wants the format in a read-only map value (ARG_PTR_TO_CONST_STR:
 * .rodata), NUL-terminated there. Returns its size with the NUL, or 0 after
 * failing the run. */
static size_t const_string(struct visor_vm_run *run, uint64_t p, const char *h)
{
	for (uint64_t i = 0; i < 65536; i++) {
		if (!visor_vm_run_mem_ok(run, p + i, 1, false) || visor_vm_run_mem_ok(run, p + i, 1, true))
			break;
		if (!*(const char *)(uintptr_t)(p + i))
			return i + 1;
	}
	visor_vm_run_fail(run, -EINVAL,
			  "%s: fmt (0x%llx) is not a NUL-terminated string in read-only memory (.rodata)",
			  h, (unsigned long long)p);
	return 0;
}

/* bpf_snprintf(str, str_size, fmt, data, data_len): data holds data_len / 8
 * u64 arguments (at most 12). Returns the size the whole output needs,
 * NUL included, or -EINVAL for a format or arguments the kernel refuses. */
static uint64_t h_snprintf(HELPER_ARGS)
{
	const char *h = "bpf_snprintf";
	uint64_t args[VISOR_BPRINTF_MAX_ARGS];
	if (r5 % 8 || r5 > sizeof(args) || (r5 && !r4))
		return (uint64_t)-EINVAL;
	if (!visor_helper_mem(run, r1, r2, true, h, "str") ||
	    !visor_helper_mem(run, r4, r5, false, h, "data"))
		return 0;
	size_t fmt_size = const_string(run, r3, h);
	if (!fmt_size)
		return 0;
	memcpy(args, (const void *)(uintptr_t)r4, r5);
	char why[160];
	long n = visor_bprintf((const char *)(uintptr_t)r3, fmt_size, args, (uint32_t)(r5 / 8),
			       (char *)(uintptr_t)r1, r2, why, sizeof(why));
	return (uint64_t)(int64_t)(n < 0 ? n : n + 1);
}

int visor_register_output_helpers(struct visor_vm *vm)
{
	int err = visor_vm_register_helper(vm, 25, "bpf_perf_event_output", h_perf_event_output);
	return err ? err : visor_vm_register_helper(vm, 165, "bpf_snprintf", h_snprintf);
}
