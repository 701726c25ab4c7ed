/* Helpers that call back into the program: bpf_loop (181) and
 * bpf_for_each_map_elem (164), and the re-entry they share
 * (visor_vm_run_callback). A callback is a subprogram whose address the
 * program took with lddw src 4; it runs in the engine that runs the
 * program, in a new frame, on the same budget, and any error inside it ends
 * the whole run. Return values follow the kernel (kernel/bpf/bpf_iter.c,
 * arraymap.c, hashtab.c): the number of iterations done, -EINVAL for flags,
 * -E2BIG past BPF_MAX_LOOPS. */
#include <errno.h>
#include <string.h>

#include <visor/maps.h>

#include "helpers.h"
#include "jit.h"

#define BPF_MAX_LOOPS (8u * 1024 * 1024) /* the kernel's limit of bpf_loop */
#define CB_MAX_KEY 512                   /* a key the program could build on its stack */

long visor_vm_callback_index(const struct visor_vm *vm, uint32_t pc)
{
	size_t lo = 0, hi = vm->ncb_targets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vm->cb_targets[mid] < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < vm->ncb_targets && vm->cb_targets[lo] == pc ? (long)lo : -1;
}

bool visor_vm_callback_pc(const struct visor_vm *vm, uint64_t value, uint32_t *pc)
{
	if ((value & ~VISOR_VM_FUNC_PC_MASK) != VISOR_VM_FUNC_TAG ||
	    visor_vm_callback_index(vm, (uint32_t)value) < 0)
		return false;
	*pc = (uint32_t)value;
	return true;
}

int visor_vm_run_callback(struct visor_vm_run *run, uint32_t pc, const uint64_t args[5],
			  uint64_t *r0)
{
	run->cb.nesting++;
	int err = run->jit_ctx ? visor_vm_jit_callback(run, pc, args, r0)
			       : visor_vm_interpret_callback(run, pc, args, r0);
	run->cb.nesting--;
	if (!err && !run->stopped)
		return 0;
	if (err == -EOVERFLOW && !run->stopped) {
		/* Refused before it ran: the helper's call is named. */
		visor_vm_run_fail(run, -EOVERFLOW, "callback at insn %u: call depth exceeds %d frames",
				  pc, VISOR_MAX_CALL_DEPTH);
		return err;
	}
	if (run->stopped && !run->err)
		return -ECANCELED; /* stopped successfully (visor_vm_run_stop, LD_ABS) */
	if (!err)
		err = run->err; /* a nested callback failed: already located */
	/* Failed inside: the message already names the callback's instruction. */
	run->stopped = true;
	run->err = err;
	run->cb.err_located = true;
	return err;
}

/* The callback argument of helper `name`, or false with the run failed. */
static bool callback_arg(struct visor_vm_run *run, uint64_t value, uint32_t *pc,
			 const char *name, const char *arg)
{
	if (visor_vm_callback_pc(run->vm, value, pc))
		return true;
	visor_vm_run_fail(run, -EINVAL,
			  "%s: %s (0x%llx) is not a callback function of this program (lddw func)",
			  name, arg, (unsigned long long)value);
	return false;
}

/* long bpf_loop(u32 nr_loops, callback, void *ctx, u64 flags):
 * callback(u64 index, ctx) returning non-zero stops after that index. */
static uint64_t helper_loop(HELPER_ARGS)
{
	uint32_t pc, n = (uint32_t)r1;
	if (!callback_arg(run, r2, &pc, "bpf_loop", "callback_fn (r2)"))
		return 0;
	if (r4)
		return (uint64_t)-EINVAL;
	if (n > BPF_MAX_LOOPS)
		return (uint64_t)-E2BIG;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t args[5] = {i, r3, 0, 0, 0}, ret;
		if (visor_vm_run_callback(run, pc, args, &ret))
			return 0; /* the run ends */
		if (ret)
			return i + 1;
	}
	return n;
}

/* One bpf_for_each_map_elem in progress. */
struct for_each {
	struct visor_vm_run *run;
	uint32_t pc;
	uint64_t map, ctx; /* as the program gave them */
	bool writable;
	uint32_t key_size, value_size;
	uint8_t *key; /* the program sees a read-only copy of each key */
	bool stop;    /* the run ends */
};

static long for_each_elem(struct visor_map *map, const void *key, void *value, void *arg)
{
	struct for_each *fe = arg;
	(void)map;
	memcpy(fe->key, key, fe->key_size);
	visor_vm_run_hand_out(fe->run, value, fe->value_size, fe->writable);
	uint64_t args[5] = {fe->map, (uintptr_t)fe->key, (uintptr_t)value, fe->ctx, 0}, ret;
	if (visor_vm_run_callback(fe->run, fe->pc, args, &ret)) {
		fe->stop = true;
		return 1;
	}
	return ret != 0;
}

/* Makes the key buffer readable by the program: a record entry, reusing
 * one given back earlier if the record is full (the handed-out record
 * overflows on values alone, and only values have a fallback). */
static bool hand_out_key(struct visor_vm_run *run, const uint8_t *key, uint32_t len)
{
	visor_vm_run_hand_out(run, key, len, false);
	if (visor_vm_run_handed_ok(run, (uintptr_t)key, len, false))
		return true;
	for (uint32_t i = 0; i < VISOR_RUN_HANDED; i++) {
		if (!run->handed[i].len) {
			run->handed[i] = (struct visor_vm_region){.base = (uintptr_t)key, .len = len};
			return true;
		}
	}
	return false;
}

static bool for_each_supported(uint32_t type)
{
	switch (type) {
	case VISOR_MAP_TYPE_ARRAY:
	case VISOR_MAP_TYPE_PERCPU_ARRAY:
	case VISOR_MAP_TYPE_HASH:
	case VISOR_MAP_TYPE_PERCPU_HASH:
	case VISOR_MAP_TYPE_LRU_HASH:
	case VISOR_MAP_TYPE_LRU_PERCPU_HASH:
		return true;
	default:
		return false;
	}
}

/* long bpf_for_each_map_elem(map, callback, void *ctx, u64 flags):
 * callback(map, const void *key, void *value, ctx) returning non-zero
 * stops; returns the elements visited, the stopping one included. */
static uint64_t helper_for_each_map_elem(HELPER_ARGS)
{
	static const char name[] = "bpf_for_each_map_elem";
	struct visor_map *map = visor_vm_rt_map(run, r1);
	if (!map) {
		visor_vm_run_fail(run, -EINVAL, "%s: map (r1) is not a map bound to the program",
				  name);
		return 0;
	}
	if (!for_each_supported(visor_map_type(map))) {
		const char *type = visor_map_type_name(visor_map_type(map));
		visor_vm_run_fail(run, -EINVAL, "%s: %s maps cannot be iterated (the kernel refuses them)",
				  name, type ? type : "such");
		return 0;
	}
	struct for_each fe = {
		.run = run,
		.map = r1,
		.ctx = r3,
		.writable = !(visor_map_flags(map) & VISOR_F_RDONLY_PROG),
		.key_size = visor_map_key_size(map),
		.value_size = visor_map_value_size(map),
	};
	if (!callback_arg(run, r2, &fe.pc, name, "callback_fn (r2)"))
		return 0;
	if (r4)
		return (uint64_t)-EINVAL;
	uint8_t key[CB_MAX_KEY] __attribute__((aligned(8)));
	if (fe.key_size > sizeof(key)) {
		visor_vm_run_fail(run, -E2BIG, "%s: keys of %u bytes (at most %d)", name,
				  fe.key_size, CB_MAX_KEY);
		return 0;
	}
	fe.key = key;
	if (!hand_out_key(run, key, fe.key_size)) {
		visor_vm_run_fail(run, -ENOMEM,
				  "%s: no room left to hand the key to the callback (%d pointers)",
				  name, VISOR_RUN_HANDED);
		return 0;
	}
	long n = visor_map_for_each_elem(map, for_each_elem, &fe);
	/* The buffer dies with this call. */
	visor_vm_run_take_back(run, key);
	if (fe.stop)
		return 0;
	return (uint64_t)n;
}

int visor_register_callback_helpers(struct visor_vm *vm)
{
	if (visor_vm_register_helper(vm, 181, "bpf_loop", helper_loop) ||
	    visor_vm_register_helper(vm, 164, "bpf_for_each_map_elem", helper_for_each_map_elem))
		return -ENOMEM;
	return 0;
}
