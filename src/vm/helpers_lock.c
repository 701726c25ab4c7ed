/* bpf_spin_lock (93) / bpf_spin_unlock (94): a real lock on the 4-byte
 * struct bpf_spin_lock inside a map value (visor_map_value_lock, the lock
 * VISOR_F_LOCK copies take too). What the kernel's verifier proves, the run
 * checks: the argument is exactly a value's lock field, one lock at a time,
 * unlock only the lock held, and none held at exit (a failing run releases
 * it, so other threads never wait on a dead run). */
#include <errno.h>

#include <visor/maps.h>

#include "helpers.h"

static bool is_lock_of(struct visor_map *m, const void *lock)
{
	return !(visor_map_flags(m) & VISOR_F_RDONLY_PROG) && visor_map_spin_lock_ok(m, lock);
}

static uint64_t h_spin_lock(HELPER_ARGS)
{
	const char *h = "bpf_spin_lock";
	if (r1 & 3 || !visor_helper_find_map(run, is_lock_of, (const void *)(uintptr_t)r1)) {
		visor_vm_run_fail(run, -EINVAL,
				  "%s: 0x%llx is not the bpf_spin_lock field of a map value the program may write",
				  h, (unsigned long long)r1);
		return 0;
	}
	if (run->held_lock) {
		visor_vm_run_fail(run, -EINVAL,
				  "%s: the run already holds the lock at %p (one lock at a time, as the kernel)",
				  h, run->held_lock);
		return 0;
	}
	visor_map_value_lock((void *)(uintptr_t)r1);
	run->held_lock = (void *)(uintptr_t)r1;
	return 0;
}

static uint64_t h_spin_unlock(HELPER_ARGS)
{
	if ((void *)(uintptr_t)r1 != run->held_lock || !r1) {
		visor_vm_run_fail(run, -EINVAL, "bpf_spin_unlock: 0x%llx is not the lock this run holds%s",
				  (unsigned long long)r1, run->held_lock ? "" : " (it holds none)");
		return 0;
	}
	visor_map_value_unlock(run->held_lock);
	run->held_lock = NULL;
	return 0;
}

int visor_vm_run_release_lock(struct visor_vm_run *run, int err)
{
	void *lock = run->held_lock;
	visor_map_value_unlock(lock);
	run->held_lock = NULL;
	if (err)
		return err;
	visor_vm_run_fail(run, -EINVAL, "bpf_spin_lock: the lock at %p is still held when the program exits",
			  lock);
	return run->err;
}

int visor_register_lock_helpers(struct visor_vm *vm)
{
	int err = visor_vm_register_helper(vm, 93, "bpf_spin_lock", h_spin_lock);
	return err ? err : visor_vm_register_helper(vm, 94, "bpf_spin_unlock", h_spin_unlock);
}
