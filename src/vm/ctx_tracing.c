/* Context rules of the tracing-family program types, whose context is a
 * plain buffer the VM passes as it is (nothing to rewrite): kprobe (struct
 * pt_regs), tracepoint (the tracepoint's record), raw tracepoint and
 * tracing (u64 args[]) and syscall (the caller's buffer). Each is the
 * kernel's *_is_valid_access for the type, as measured on Linux 6.18
 * (tests/test_runtime_tracing.c compares the verdicts):
 *
 *   kprobe        read,  0 <= off, off + size <= 168   (kprobe_prog_is_valid_access)
 *   tracepoint    read,  8 <= off < 8192               (tp_prog_is_valid_access)
 *   raw_tp        read,  0 <= off < 96                 (bpf_tracing_ctx_access)
 *   tracing       read,  0 <= off < 96, off % 8 + size <= 8  (+ btf_ctx_access)
 *   syscall       read and write, 0 <= off < 65535     (syscall_prog_is_valid_access)
 *
 * and for all of them: aligned to the access size, no atomics, sign-
 * extending loads allowed. Which arguments or record bytes exist is known
 * only at run time (the kernel knows it from the tracepoint or BTF): the
 * end of the furthest access is kept in rt->max_ctx_offset, and a test run
 * whose ctx_in is shorter is refused, as the kernel's max_ctx_offset
 * check; every access is also checked against the buffer at run time. */
#include <errno.h>
#include <stdio.h>

#include "runtime_internal.h"

#define PT_REGS_SIZE 168         /* sizeof(struct pt_regs), x86-64 */
#define PERF_MAX_TRACE_SIZE 8192 /* the largest tracepoint record */
#define MAX_FUNC_ARGS 12         /* MAX_BPF_FUNC_ARGS */
#define SYSCALL_CTX_MAX 65535    /* U16_MAX */

bool visor_vm_ctx_is_buffer(uint32_t t)
{
	return t == VISOR_VM_PROG_KPROBE || t == VISOR_VM_PROG_TRACEPOINT ||
	       t == VISOR_VM_PROG_RAW_TRACEPOINT || t == VISOR_VM_PROG_TRACING ||
	       t == VISOR_VM_PROG_SYSCALL;
}

static const char *ctx_name(uint32_t t)
{
	switch (t) {
	case VISOR_VM_PROG_KPROBE:
		return "kprobe context (struct pt_regs)";
	case VISOR_VM_PROG_TRACEPOINT:
		return "tracepoint record";
	case VISOR_VM_PROG_SYSCALL:
		return "syscall program context";
	}
	return "tracing context (u64 args[12])";
}

static int refuse(struct visor_vm *vm, size_t pc, const char *what, int off, int size)
{
	snprintf(vm->errmsg, sizeof(vm->errmsg), "insn %zu: %s of the %s at offset %d, size %d",
		 pc, what, ctx_name(vm->rt->prog_type), off, size);
	return -EINVAL;
}

int visor_vm_check_ctx_buffer(struct visor_vm *vm, size_t pc, const struct visor_insn *in)
{
	static const int sizes[4] = {4, 2, 1, 8};
	int size = sizes[VISOR_SIZE(in->code) >> 3], off = in->off;
	uint8_t cls = VISOR_CLASS(in->code);
	uint32_t type = vm->rt->prog_type;
	bool write = cls != VISOR_CLS_LDX;
	int lo = 0, end; /* allowed offsets: lo <= off, off + size <= end */

	if (cls == VISOR_CLS_STX && VISOR_MODE(in->code) == VISOR_MODE_ATOMIC)
		return refuse(vm, pc, "atomic access", off, size);
	if (write && type != VISOR_VM_PROG_SYSCALL)
		return refuse(vm, pc, "store (the context is read-only)", off, size);
	switch (type) {
	case VISOR_VM_PROG_KPROBE:
		end = PT_REGS_SIZE;
		break;
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
	default: /* raw tracepoint, tracing */
		end = MAX_FUNC_ARGS * 8;
		break;
	}
	if (off < lo || off + size > end)
		return refuse(vm, pc, "access outside", off, size);
	if (off % size)
		return refuse(vm, pc, "misaligned access", off, size);
	/* btf_ctx_access: an argument is read from the start of its slot. */
	if (type == VISOR_VM_PROG_TRACING && off % 8)
		return refuse(vm, pc, "access not at the start of an argument", off, size);
	if ((uint32_t)(off + size) > vm->rt->max_ctx_offset)
		vm->rt->max_ctx_offset = (uint32_t)(off + size);
	return 0;
}
