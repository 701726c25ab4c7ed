/* BPF_PROG_TEST_RUN for the tracing-family types, whose context is a plain
 * buffer filled from ctx_in (ctx_tracing.c has their access rules). Raw
 * tracepoint and syscall programs follow the kernel's
 * bpf_prog_test_run_raw_tp and bpf_prog_test_run_syscall (measured on
 * Linux 6.18); the kernel cannot test-run kprobe, tracepoint and tracing
 * programs (-ENOTSUPP, -EFAULT for tp_btf), visor runs them the same way,
 * with ctx_in as the pt_regs, the record or the arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "jit.h"
#include "runtime_internal.h"

struct buffer_type {
	const char *name;
	const char *ctx;  /* what ctx_in is */
	uint32_t max_in;  /* largest ctx_in the kernel takes */
	uint32_t min_len; /* the context is at least this long (zero-padded) */
	bool as_kernel;   /* the kernel test-runs the type: its limits on repeat */
};

static const struct buffer_type *buffer_type(uint32_t t)
{
	static const struct buffer_type kprobe = {"kprobe", "a struct pt_regs", 168, 168, false},
					tp = {"tracepoint", "the tracepoint record", 8192, 0, false},
					raw = {"raw tracepoint", "the u64 arguments", 96, 0, true},
					tracing = {"tracing", "the u64 arguments", 96, 0, false},
					sys = {"syscall", "the program's buffer", 65535, 0, true};
	switch (t) {
	case VISOR_VM_PROG_KPROBE:
		return &kprobe;
	case VISOR_VM_PROG_TRACEPOINT:
		return &tp;
	case VISOR_VM_PROG_RAW_TRACEPOINT:
		return &raw;
	case VISOR_VM_PROG_TRACING:
		return &tracing;
	}
	return &sys;
}

int visor_vm_test_run_buffer(struct visor_vm *vm, struct visor_prog_test_run_opts *opts,
			     struct visor_prog_test_run_opts *o)
{
	uint32_t type = vm->rt->prog_type;
	const struct buffer_type *bt = buffer_type(type);
	bool syscall = type == VISOR_VM_PROG_SYSCALL;

	if (o->data_in || o->data_size_in || o->data_out)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "%s programs take no data_in / data_out: the context is ctx_in (%s)",
			    bt->name, bt->ctx);
	if (bt->as_kernel && o->repeat > 1)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "%s programs run once: repeat must be 0 or 1 (the kernel refuses repeat)",
			    bt->name);
	if (o->ctx_size_in && !o->ctx_in)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_size_in is %u but ctx_in is NULL", o->ctx_size_in);
	if (o->ctx_size_in > bt->max_in)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "ctx_in has %u bytes; %s programs take at most %u (%s)",
			    o->ctx_size_in, bt->name, bt->max_in, bt->ctx);
	uint32_t len = o->ctx_size_in > bt->min_len ? o->ctx_size_in : bt->min_len;
	if (len < vm->rt->max_ctx_offset)
		return visor_vm_test_run_fail(vm, o, -EINVAL, "the program reads the context up to byte %u, but ctx_in has only %u bytes",
			    vm->rt->max_ctx_offset, o->ctx_size_in);
	if (visor_map_set_cpu(o->cpu))
		return visor_vm_test_run_fail(vm, o, -EINVAL, "cpu slot %u out of range (visor_map_possible_cpus)", o->cpu);

	/* No context at all is a NULL r1, as the kernel's. */
	uint8_t *buf = len ? calloc(1, len) : NULL;
	if (len && !buf)
		return visor_vm_test_run_fail(vm, o, -ENOMEM, "out of memory");
	uint32_t repeat = o->repeat ? o->repeat : 1;
	uint64_t r0 = 0, t0 = visor_vm_now_ns();
	int err = 0;
	for (uint32_t i = 0; i < repeat && !err; i++) {
		/* Every run sees the context as given. The context is the
		 * run's input memory (the fast path), writable for syscall. */
		if (o->ctx_size_in)
			memcpy(buf, o->ctx_in, o->ctx_size_in);
		err = visor_vm_test_run_once(vm, o, buf, 0, false,
					     (uintptr_t)buf, len, syscall, &r0);
	}
	uint64_t dt = visor_vm_now_ns() - t0;
	if (!err) {
		opts->retval = (uint32_t)r0;
		opts->duration = (uint32_t)(dt / repeat);
		opts->data_size_out = 0;
		if (o->ctx_out && opts->sz >= offsetof(struct visor_prog_test_run_opts, ctx_size_out) +
						      sizeof(o->ctx_size_out)) {
			/* Only a syscall program's buffer comes back (the kernel
			 * copies it into ctx_in). */
			uint32_t n = syscall ? o->ctx_size_in : 0;
			if (n)
				memcpy(o->ctx_out, buf, n < o->ctx_size_out ? n : o->ctx_size_out);
			if (n > o->ctx_size_out)
				err = -ENOSPC;
			opts->ctx_size_out = n;
		}
	}
	free(buf);
	return err;
}
