/* bpf_spin_lock inside map values: the lock programs take with
 * bpf_spin_lock() and user space with VISOR_F_LOCK, and the value copies
 * that never carry the lock field (the kernel's copy_map_value: a lock's
 * state is not data, and copying it would hand a held lock around). */
#include "map_internal.h"

int32_t visor_map_spin_lock_off(const struct visor_map *m)
{
	return m ? m->spin_lock_off : -1;
}

bool visor_map_spin_lock_ok(const struct visor_map *m, const void *lock)
{
	if (!m || m->spin_lock_off < 0)
		return false;
	/* The whole value starting spin_lock_off bytes before: only a value's
	 * first byte passes this check, so lock is exactly the field. */
	return visor_map_value_ok(m, (const uint8_t *)lock - m->spin_lock_off, m->value_size);
}

void visor_map_value_lock(void *lock)
{
	visor_spin_lock((visor_spin_t *)lock);
}

void visor_map_value_unlock(void *lock)
{
	visor_spin_unlock((visor_spin_t *)lock);
}

/* Copies value_size bytes around the 4-byte lock field. */
static void copy_around_lock(const struct visor_map *m, uint8_t *dst, const uint8_t *src)
{
	size_t off = (size_t)m->spin_lock_off, end = off + 4;
	visor_long_memcpy(dst, src, off);
	visor_long_memcpy(dst + end, src + end, m->value_size - end);
}

void visor_value_copy_keep_lock(const struct visor_map *m, void *dst, const void *src)
{
	if (m->spin_lock_off < 0)
		visor_long_memcpy(dst, src, m->value_size);
	else
		copy_around_lock(m, dst, src);
}

void visor_value_copy_zero_lock(const struct visor_map *m, void *dst, const void *src)
{
	if (m->spin_lock_off < 0) {
		visor_long_memcpy(dst, src, m->value_size);
		return;
	}
	copy_around_lock(m, dst, src);
	memset((uint8_t *)dst + m->spin_lock_off, 0, 4);
}

int visor_value_lookup_locked(struct visor_map *m, const void *key, void *value)
{
	uint8_t *v = visor_map_lookup_ptr(m, key);
	if (!v)
		return -ENOENT;
	void *lock = v + m->spin_lock_off;
	visor_map_value_lock(lock);
	visor_value_copy_zero_lock(m, value, v);
	visor_map_value_unlock(lock);
	return 0;
}

/* The kernel's rule: an existing value is copied into in place under its
 * lock (NOEXIST fails); otherwise the update inserts as without the flag,
 * and a new element starts with its lock released. */
int visor_value_update_locked(struct visor_map *m, const void *key, const void *value,
			      uint64_t flags, bool from_prog)
{
	uint64_t mode = flags & ~(uint64_t)VISOR_F_LOCK;
	if (mode > VISOR_EXIST)
		return -EINVAL;
	uint8_t *v = visor_map_lookup_ptr(m, key);
	if (!v)
		return from_prog ? m->ops->update_prog(m, key, value, mode)
				 : m->ops->update_sys(m, key, value, mode);
	if (mode == VISOR_NOEXIST)
		return -EEXIST;
	void *lock = v + m->spin_lock_off;
	visor_map_value_lock(lock);
	visor_value_copy_keep_lock(m, v, value);
	visor_map_value_unlock(lock);
	return 0;
}
