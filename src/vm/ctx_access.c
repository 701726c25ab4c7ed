/* What each program type may do with its context: the kernel's
 * *_is_valid_access, written once for the VM's load-time rewrite
 * (ctx_rewrite.c), its checks of the tracing-family types (ctx_tracing.c)
 * and the verifier, which needs the same verdicts without a VM.
 *
 * XDP (struct xdp_md, xdp_is_valid_access): read-only; data, data_end and
 * data_meta are packet pointers, ingress_ifindex and rx_queue_index
 * numbers, all read 4 bytes wide; egress_ifindex is for devmap programs.
 *
 * Socket filter and tc (struct __sk_buff, bpf_skb_is_valid_access and
 * sk_filter_ / tc_cls_act_is_valid_access): u32 fields read at any width
 * up to 4 (aligned), the u64 tstamp and hwtstamp 8 bytes wide, cb[] read
 * and written at any width; tc may also store mark, priority,
 * queue_mapping, tc_index, tc_classid (4 bytes) and tstamp. Socket filters
 * see no packet pointers, tc_classid, tstamp, wire_len or hwtstamp; neither
 * sees family .. local_port, flow_keys, tstamp_type or sk.
 *
 * The tracing family, whose context is a plain buffer (measured on Linux
 * 6.18; tests/test_runtime_tracing.c compares the verdicts):
 *
 *   kprobe        read,  0 <= off, off + size <= 168   (kprobe_prog_is_valid_access)
 *   tracepoint    read,  8 <= off < 8192               (tp_prog_is_valid_access)
 *   raw_tp        read,  0 <= off < 96                 (bpf_tracing_ctx_access)
 *   tracing       read,  0 <= off < 96, off % 8 + size <= 8  (+ btf_ctx_access)
 *   syscall       read and write, 0 <= off < 65535     (syscall_prog_is_valid_access)
 *
 * and for all of them: aligned to the access size, no atomics, sign-
 * extending loads allowed. XDP and __sk_buff programs may not use sign-
 * extending loads (the rewrite would have to widen them). */
#include <errno.h>
#include <stdio.h>

#include "runtime_internal.h"

#define PT_REGS_SIZE 168         /* sizeof(struct pt_regs), x86-64 */
#define PERF_MAX_TRACE_SIZE 8192 /* the largest tracepoint record */
#define MAX_FUNC_ARGS 12         /* MAX_BPF_FUNC_ARGS */
#define SYSCALL_CTX_MAX 65535    /* U16_MAX */

#define SKB_OFF(f) ((int)offsetof(struct visor_sk_buff, f))
#define SKB_END(f) (SKB_OFF(f) + (int)sizeof(((struct visor_sk_buff *)0)->f))

const char *visor_vm_ctx_name(uint32_t type)
{
	switch (type) {
	case VISOR_VM_PROG_XDP:
		return "struct xdp_md";
	case VISOR_VM_PROG_SOCKET_FILTER:
	case VISOR_VM_PROG_SCHED_CLS:
		return "struct __sk_buff";
	case VISOR_VM_PROG_KPROBE:
		return "the kprobe context (struct pt_regs)";
	case VISOR_VM_PROG_TRACEPOINT:
		return "the tracepoint record";
	case VISOR_VM_PROG_SYSCALL:
		return "the syscall program context";
	case VISOR_VM_PROG_RAW_TRACEPOINT:
	case VISOR_VM_PROG_TRACING:
		return "the tracing context (u64 args[12])";
	}
	return "the context";
}

uint32_t visor_vm_ctx_size(uint32_t type)
{
	switch (type) {
	case VISOR_VM_PROG_XDP:
		return sizeof(struct visor_xdp_md);
	case VISOR_VM_PROG_SOCKET_FILTER:
	case VISOR_VM_PROG_SCHED_CLS:
		return sizeof(struct visor_sk_buff);
	case VISOR_VM_PROG_KPROBE:
		return PT_REGS_SIZE;
	case VISOR_VM_PROG_TRACEPOINT:
		return PERF_MAX_TRACE_SIZE;
	case VISOR_VM_PROG_RAW_TRACEPOINT:
	case VISOR_VM_PROG_TRACING:
		return MAX_FUNC_ARGS * 8;
	case VISOR_VM_PROG_SYSCALL:
		return SYSCALL_CTX_MAX;
	}
	return 0;
}

/* Fills why with "<what> of <the type's context>"; returns -EACCES. */
static int deny(uint32_t type, char *why, size_t why_len, const char *what)
{
	if (why && why_len)
		snprintf(why, why_len, "%s of %s", what, visor_vm_ctx_name(type));
	return -EACCES;
}

static int xdp_access(int off, int size, int access, int *kind, char *why, size_t why_len)
{
	const uint32_t t = VISOR_VM_PROG_XDP;
	if (access == VISOR_CTX_READ_SX)
		return deny(t, why, why_len, "sign-extending load");
	if (access != VISOR_CTX_READ)
		return deny(t, why, why_len, "write or atomic access (the context is read-only)");
	if (off == 0 || off == 4 || off == 8) {
		if (size != 4)
			return deny(t, why, why_len, "narrow or wide load of a pointer field");
		*kind = off == 0 ? VISOR_CTX_PKT_DATA : off == 4 ? VISOR_CTX_PKT_END : VISOR_CTX_PKT_META;
		return 0;
	}
	/* ingress_ifindex and rx_queue_index, 4 bytes wide (__is_valid_xdp_access);
	 * egress_ifindex is for devmap programs only. */
	if (off == 20)
		return deny(t, why, why_len, "egress_ifindex (only devmap programs may read it)");
	if ((off == 12 || off == 16) && size == 4)
		return 0;
	if (off >= 12 && off < 24)
		return deny(t, why, why_len, "load not 4 bytes wide");
	return deny(t, why, why_len, "invalid access");
}

static int skb_access(uint32_t t, int off, int size, int access, int *kind, char *why,
		      size_t why_len)
{
	bool tc = t == VISOR_VM_PROG_SCHED_CLS, write = access == VISOR_CTX_WRITE;
	char what[160];

	if (access == VISOR_CTX_ATOMIC)
		return deny(t, why, why_len, "atomic access");
	if (access == VISOR_CTX_READ_SX)
		return deny(t, why, why_len, "sign-extending load");
	if (off < 0 || off >= (int)sizeof(struct visor_sk_buff) || off % size)
		return deny(t, why, why_len, "invalid or misaligned access");
	/* Fields the type may not touch at all. */
	if ((off >= SKB_OFF(family) && off < SKB_END(local_port)) ||
	    (off >= SKB_OFF(flow_keys) && off < SKB_END(flow_keys)) ||
	    (off >= SKB_OFF(tstamp_type) && off < SKB_OFF(hwtstamp)) ||
	    (off >= SKB_OFF(sk) && off < SKB_END(sk)))
		goto no_field;
	if (!tc && ((off >= SKB_OFF(tc_classid) && off < SKB_END(data_end)) ||
		    (off >= SKB_OFF(data_meta) && off < SKB_END(data_meta)) ||
		    (off >= SKB_OFF(tstamp) && off < SKB_END(wire_len)) || off >= SKB_OFF(hwtstamp)))
		goto no_field;
	if (off >= SKB_OFF(cb) && off < SKB_END(cb)) /* any size, writable */
		return off + size <= SKB_END(cb) ? 0
						 : deny(t, why, why_len, "access past the end of cb[]");
	if (off == SKB_OFF(data) || off == SKB_OFF(data_end) || off == SKB_OFF(data_meta)) {
		if (write || size != 4)
			return deny(t, why, why_len,
				    write ? "store into a packet pointer field"
					  : "narrow or wide load of a packet pointer field");
		*kind = off == SKB_OFF(data)	   ? VISOR_CTX_PKT_DATA
			: off == SKB_OFF(data_end) ? VISOR_CTX_PKT_END
						   : VISOR_CTX_PKT_META;
		return 0;
	}
	if (off == SKB_OFF(tstamp) || off == SKB_OFF(hwtstamp)) {
		if (size != 8)
			return deny(t, why, why_len, "access of a 64-bit field not 8 bytes wide");
		if (write && off == SKB_OFF(hwtstamp))
			return deny(t, why, why_len, "store into a read-only field");
		return 0;
	}
	/* The remaining u32 fields: narrow loads, full-width stores where the
	 * type may write. */
	if (size == 8)
		return deny(t, why, why_len, "8-byte access to a 32-bit field");
	if (write) {
		bool ok = tc && (off == SKB_OFF(mark) || off == SKB_OFF(tc_index) ||
				 off == SKB_OFF(priority) || off == SKB_OFF(tc_classid) ||
				 off == SKB_OFF(queue_mapping));
		if (!ok || size != 4) {
			snprintf(what, sizeof(what), "store (%s programs may write only %s)",
				 tc ? "tc" : "socket filter",
				 tc ? "mark, priority, queue_mapping, tc_index, tc_classid, cb[] and tstamp, 4 bytes wide"
				    : "cb[]");
			return deny(t, why, why_len, what);
		}
	}
	return 0;
no_field:
	snprintf(what, sizeof(what), "%s programs may not access this field: %s",
		 tc ? "tc" : "socket filter", write ? "store" : "load");
	return deny(t, why, why_len, what);
}

static int buffer_access(uint32_t t, int off, int size, int access, char *why, size_t why_len)
{
	int lo = 0, end; /* allowed offsets: lo <= off, off + size <= end */

	if (access == VISOR_CTX_ATOMIC)
		return deny(t, why, why_len, "atomic access");
	if (access == VISOR_CTX_WRITE && t != VISOR_VM_PROG_SYSCALL)
		return deny(t, why, why_len, "store (the context is read-only)");
	switch (t) {
	case VISOR_VM_PROG_TRACEPOINT:
		/* The common fields (type, flags, preempt count, pid) are not
		 * the program's to read. The kernel's signed / unsigned mix-up
		 * lets negative offsets through; visor refuses them. */
		lo = 8;
		end = PERF_MAX_TRACE_SIZE;
		break;
	case VISOR_VM_PROG_SYSCALL:
		end = SYSCALL_CTX_MAX - 1 + size; /* off < U16_MAX */
		break;
	default: /* kprobe: pt_regs; raw tracepoint, tracing: args[] */
		end = (int)visor_vm_ctx_size(t);
		break;
	}
	if (off < lo || off + size > end)
		return deny(t, why, why_len, "access outside");
	if (off % size)
		return deny(t, why, why_len, "misaligned access");
	/* btf_ctx_access: an argument is read from the start of its slot. */
	if (t == VISOR_VM_PROG_TRACING && off % 8)
		return deny(t, why, why_len, "access not at the start of an argument");
	return 0;
}

int visor_vm_ctx_access(uint32_t prog_type, int off, int size, int access, int *kind, char *why,
			size_t why_len)
{
	int k = VISOR_CTX_SCALAR, err;

	if (why && why_len)
		why[0] = 0;
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		if (why && why_len)
			snprintf(why, why_len, "access of %d bytes (1, 2, 4 or 8)", size);
		return -EINVAL;
	}
	if (access < VISOR_CTX_READ || access > VISOR_CTX_ATOMIC) {
		if (why && why_len)
			snprintf(why, why_len, "unknown kind of context access %d", access);
		return -EINVAL;
	}
	switch (prog_type) {
	case VISOR_VM_PROG_XDP:
		err = xdp_access(off, size, access, &k, why, why_len);
		break;
	case VISOR_VM_PROG_SOCKET_FILTER:
	case VISOR_VM_PROG_SCHED_CLS:
		err = skb_access(prog_type, off, size, access, &k, why, why_len);
		break;
	case VISOR_VM_PROG_KPROBE:
	case VISOR_VM_PROG_TRACEPOINT:
	case VISOR_VM_PROG_RAW_TRACEPOINT:
	case VISOR_VM_PROG_TRACING:
	case VISOR_VM_PROG_SYSCALL:
		err = buffer_access(prog_type, off, size, access, why, why_len);
		break;
	default:
		if (why && why_len)
			snprintf(why, why_len, "programs of type %u have no context visor implements",
				 prog_type);
		return -EINVAL;
	}
	if (!err && kind)
		*kind = k;
	return err;
}

int visor_vm_check_ctx_insn(struct visor_vm *vm, size_t pc, const struct visor_insn *in, int *kind)
{
	static const int sizes[4] = {4, 2, 1, 8};
	int size = sizes[VISOR_SIZE(in->code) >> 3], access;
	char why[200];

	switch (VISOR_CLASS(in->code)) {
	case VISOR_CLS_LDX:
		access = VISOR_MODE(in->code) == VISOR_MODE_MEM ? VISOR_CTX_READ : VISOR_CTX_READ_SX;
		break;
	case VISOR_CLS_STX:
		access = VISOR_MODE(in->code) == VISOR_MODE_ATOMIC ? VISOR_CTX_ATOMIC : VISOR_CTX_WRITE;
		break;
	default: /* ST */
		access = VISOR_CTX_WRITE;
		break;
	}
	if (visor_vm_ctx_access(vm->rt->prog_type, in->off, size, access, kind, why, sizeof(why))) {
		snprintf(vm->errmsg, sizeof(vm->errmsg), "insn %zu: %s at offset %d, size %d", pc, why,
			 in->off, size);
		return -EINVAL;
	}
	return 0;
}
