/* The tracing-family program types, whose context is a plain buffer the VM
 * passes as it is (nothing to rewrite): kprobe (struct pt_regs), tracepoint
 * (the tracepoint's record), raw tracepoint and tracing (u64 args[]) and
 * syscall (the caller's buffer). Their access rules are in ctx_access.c.
 * Which arguments or record bytes exist is known only at run time (the
 * kernel knows it from the tracepoint or BTF): the end of the furthest
 * access is kept in rt->max_ctx_offset, and a test run whose ctx_in is
 * shorter is refused, as the kernel's max_ctx_offset check; every access is
 * also checked against the buffer at run time. */
#include "runtime_internal.h"

bool visor_vm_ctx_is_buffer(uint32_t t)
{
	return t == VISOR_VM_PROG_KPROBE || t == VISOR_VM_PROG_TRACEPOINT ||
	       t == VISOR_VM_PROG_RAW_TRACEPOINT || t == VISOR_VM_PROG_TRACING ||
	       t == VISOR_VM_PROG_SYSCALL;
}

int visor_vm_check_ctx_buffer(struct visor_vm *vm, size_t pc, const struct visor_insn *in)
{
	static const int sizes[4] = {4, 2, 1, 8};
	int size = sizes[VISOR_SIZE(in->code) >> 3];
	int err = visor_vm_check_ctx_insn(vm, pc, in, NULL);
	if (err)
		return err;
	if ((uint32_t)(in->off + size) > vm->rt->max_ctx_offset)
		vm->rt->max_ctx_offset = (uint32_t)(in->off + size);
	return 0;
}
