/* bpf_tail_call (Linux helper 12) and the run loop that follows a chain of
 * tail calls.
 *
 * The helper does not jump: on success it records the target program in
 * the run and stops the current one (visor_vm_run_stop). visor_vm_run_chain,
 * which every run goes through, then starts the target on the same run:
 * same context in r1, same packet, same handed-out memory, the budget that
 * is left, the map read section still held. Both engines stop a program
 * the same way, so a chain may mix them (VISOR_ENGINE_AUTO). The kernel's
 * rules, in its order: an index past max_entries fails, then a tail call
 * after 33 of them fails (MAX_TAIL_CALL_CNT: at most 34 programs run),
 * then an empty slot fails; only a tail call that happens counts (the x86
 * JIT's "inc tail_call_cnt if the slot is populated", measured on 6.18).
 * A failing tail call returns and the program goes on. Prog arrays hold
 * struct visor_vm * references (see src/object/vm_load.c for the ids). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <visor/maps.h>

#include "helpers.h"
#include "jit.h"

#define MAX_TAIL_CALL_CNT 33 /* the kernel's limit */

static uint64_t h_tail_call(HELPER_ARGS)
{
	struct visor_map *m = visor_vm_rt_map(run, r2);
	if (!m || visor_map_type(m) != VISOR_MAP_TYPE_PROG_ARRAY) {
		visor_vm_run_fail(run, -EINVAL, "r2 (0x%llx) is not a prog array bound to the program",
				  (unsigned long long)r2);
		return 0;
	}
	/* The target would replace the subprogram's frame and return to its
	 * caller (Linux on x86); visor's engines end a stopped program at
	 * once, so they refuse rather than return to the wrong frame. */
	uint64_t frames = run->stack.len / VISOR_STACK_FRAME;
	if (frames > 1 || run->cb.nesting) {
		visor_vm_run_fail(run, -EOPNOTSUPP,
				  "tail call from a %s (call depth %llu) is not supported by the visor engine",
				  run->cb.nesting ? "callback" : "subprogram",
				  (unsigned long long)(frames ? frames - 1 : 0));
		return 0;
	}
	if (run->held_lock) {
		visor_vm_run_fail(run, -EINVAL, "tail call while holding a bpf_spin_lock");
		return 0;
	}
	uint32_t index = (uint32_t)r3;
	if (index >= visor_map_max_entries(m))
		return (uint64_t)-ENOENT;
	if (run->tail_calls >= MAX_TAIL_CALL_CNT)
		return (uint64_t)-ENOENT;
	struct visor_vm *target = visor_map_prog_array_get(m, index, NULL);
	if (!target)
		return (uint64_t)-ENOENT;
	run->tail_calls++;
	/* Prog arrays filled by visor_obj_vm_load refuse other types; a
	 * reference stored by hand is checked here, before its context
	 * layout could be misread. */
	uint32_t type = run->vm->rt ? run->vm->rt->prog_type : 0;
	uint32_t ttype = target->rt ? target->rt->prog_type : 0;
	if (ttype != type) {
		visor_vm_run_fail(run, -EINVAL,
				  "slot %u holds a program of type %u, the caller's type is %u", index,
				  ttype, type);
		return 0;
	}
	if (!target->slots) {
		visor_vm_run_fail(run, -EINVAL, "slot %u holds a VM with no program loaded", index);
		return 0;
	}
	if (!target->verified && !target->unsafe) {
		visor_vm_run_fail(run, -EACCES,
				  "slot %u holds a program that was not verified (and is not in unsafe mode)",
				  index);
		return 0;
	}
	if (run->engine == VISOR_ENGINE_JIT && !target->jit) {
		visor_vm_run_fail(run, -EINVAL,
				  "slot %u: the target is not JIT-compiled (run with VISOR_ENGINE_AUTO to mix engines)",
				  index);
		return 0;
	}
	run->tail_target = target;
	run->tail_r1 = r1;
	visor_vm_run_stop(run, 0);
	return 0;
}

int visor_register_tailcall_helpers(struct visor_vm *vm)
{
	return visor_vm_register_helper(vm, 12, "bpf_tail_call", h_tail_call);
}

static int run_chain(struct visor_vm_run *run, int engine, const uint64_t args[5],
		     uint64_t budget, uint64_t *r0, uint64_t *executed)
{
	struct visor_vm *first = run->vm;
	/* The caller's arguments as they are (copying them at once would
	 * reload what the caller just stored: a store-forwarding stall on
	 * every run); a tail call's target gets its r1 in a copy. */
	const uint64_t *a = args;
	uint64_t tail_args[5], total = 0, given = budget;
	char local_err[VISOR_ERRMSG_LEN];
	unsigned started = 0; /* programs started by tail calls */
	int err;

	run->engine = engine;
	run->tail_calls = 0;
	run->tail_target = NULL;
	for (;;) {
		struct visor_vm *vm = run->vm;
		bool jit = engine == VISOR_ENGINE_JIT || (engine == VISOR_ENGINE_AUTO && vm->jit);
		uint64_t n = 0;
		if (jit && !vm->jit) {
			visor_vm_run_error(run, 0, "the program is not JIT-compiled (visor_vm_jit_compile)");
			err = -EINVAL;
			break;
		}
		err = jit ? visor_vm_jit_run(run, a, budget, r0, &n)
			  : visor_vm_interpret(run, a, budget, r0, &n);
		total += n;
		if (err || !run->tail_target)
			break;
		/* The target starts like a new program on the same run. Its
		 * messages must not land in the target VM's errmsg (other
		 * threads may run it): a buffer of the chain's own. */
		if (!run->errbuf || !run->errbuf_len) {
			run->errbuf = local_err;
			run->errbuf_len = sizeof(local_err);
			local_err[0] = 0;
		}
		started++;
		run->vm = run->tail_target;
		run->tail_target = NULL;
		run->stopped = false;
		run->stop_ret = 0;
		memcpy(tail_args, args, sizeof(tail_args));
		tail_args[0] = run->tail_r1;
		a = tail_args;
		if (budget) {
			budget -= n;
			if (!budget) { /* the target's first instruction is one too many */
				visor_vm_run_error(run, 0, "instruction budget of %llu exhausted",
						   (unsigned long long)given);
				err = -E2BIG;
				break;
			}
		}
	}
	*executed = total;
	run->vm = first;
	if (!started)
		return err;
	if (err) {
		char msg[VISOR_ERRMSG_LEN];
		snprintf(msg, sizeof(msg), "after tail call %u: %.200s", started, run->errbuf);
		if (run->errbuf == local_err)
			snprintf(first->errmsg, sizeof(first->errmsg), "%s", msg);
		else
			snprintf(run->errbuf, run->errbuf_len, "%s", msg);
	}
	if (run->errbuf == local_err) {
		run->errbuf = NULL;
		run->errbuf_len = 0;
	}
	return err;
}

int visor_vm_run_chain(struct visor_vm_run *run, int engine, const uint64_t args[5],
		       uint64_t budget, uint64_t *r0, uint64_t *executed)
{
	int err = run_chain(run, engine, args, budget, r0, executed);
	/* Every run ends here: a spin lock the program kept is released. */
	if (run->held_lock)
		err = visor_vm_run_release_lock(run, err);
	return err;
}
