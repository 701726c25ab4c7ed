/* Map helpers with their Linux ids and prototypes: lookup/update/delete,
 * queue and stack push/pop/peek, ring buffer producer calls. Every map
 * handle must be one the program's lddw could have loaded, every pointer
 * memory the run may access: an unverified program gets an error, never a
 * crash. Values handed to the program are recorded for the access checks. */
#include <errno.h>

#include <visor/maps.h>

#include "helpers.h"

static bool is_map_of_maps(const struct visor_map *m)
{
	uint32_t t = visor_map_type(m);
	return t == VISOR_MAP_TYPE_ARRAY_OF_MAPS || t == VISOR_MAP_TYPE_HASH_OF_MAPS;
}

struct inner_search {
	visor_map_match_fn match;
	const void *arg;
	struct visor_map *found;
};

static long match_inner(struct visor_map *outer, const void *key, void *inner, void *ctx)
{
	struct inner_search *s = ctx;
	(void)outer;
	(void)key;
	if (!s->match(inner, s->arg))
		return 0;
	s->found = inner;
	return 1;
}

/* Inner maps held by outer right now; each is alive for the rest of the
 * run (the read-side section, docs/MAPS.md). */
static struct visor_map *search_outer(struct visor_map *outer, visor_map_match_fn match,
				      const void *arg)
{
	struct inner_search s = {match, arg, NULL};
	if (visor_map_type(outer) == VISOR_MAP_TYPE_HASH_OF_MAPS) {
		visor_map_for_each_elem(outer, match_inner, &s);
		return s.found;
	}
	for (uint32_t i = 0; i < visor_map_max_entries(outer); i++) {
		struct visor_map *inner = visor_map_lookup_ptr(outer, &i);
		if (inner && match(inner, arg))
			return inner;
	}
	return NULL;
}

struct visor_map *visor_helper_find_map(const struct visor_vm_run *run, visor_map_match_fn match,
					const void *arg)
{
	const struct visor_vm_rt *rt = run->vm->rt;
	if (!rt)
		return NULL;
	for (size_t i = 0; i < rt->nmaps; i++)
		if (match(rt->maps[i], arg))
			return rt->maps[i];
	uint32_t n = run->ninner < VISOR_RUN_INNER ? run->ninner : VISOR_RUN_INNER;
	for (uint32_t i = 0; i < n; i++)
		if (match(run->inner[i], arg))
			return run->inner[i];
	for (size_t i = 0; i < rt->nmaps; i++) {
		struct visor_map *m = is_map_of_maps(rt->maps[i]) ? search_outer(rt->maps[i], match, arg)
								  : NULL;
		if (m)
			return m;
	}
	return NULL;
}

/* Remembers an inner map a lookup gave the run, so later helper calls on
 * it need no search; past VISOR_RUN_INNER the search finds it. */
static void record_inner(struct visor_vm_run *run, struct visor_map *inner)
{
	for (uint32_t i = 0; i < run->ninner && i < VISOR_RUN_INNER; i++)
		if (run->inner[i] == inner)
			return;
	if (run->ninner < VISOR_RUN_INNER)
		run->inner[run->ninner++] = inner;
}

static struct visor_map *arg_map(struct visor_vm_run *run, uint64_t p, const char *helper)
{
	struct visor_map *m = visor_vm_rt_map(run, p);
	if (!m)
		visor_vm_run_fail(run, -EINVAL,
				  "%s: 0x%llx is not a map bound to the program nor an inner map of one",
				  helper, (unsigned long long)p);
	return m;
}

bool visor_helper_mem(struct visor_vm_run *run, uint64_t p, uint64_t len, bool write,
		      const char *helper, const char *arg)
{
	if (visor_vm_run_mem_ok(run, p, len, write))
		return true;
	visor_vm_run_fail(run, -EFAULT, "%s: %s (%llu bytes at 0x%llx) is not memory the program may %s",
			  helper, arg, (unsigned long long)len, (unsigned long long)p,
			  write ? "write" : "read");
	return false;
}

static bool value_writable(struct visor_map *m)
{
	return !(visor_map_flags(m) & VISOR_F_RDONLY_PROG);
}

static uint64_t h_map_lookup_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5, struct visor_vm_run *run)
{
	struct visor_map *m = arg_map(run, r1, "bpf_map_lookup_elem");
	if (!m || !visor_helper_mem(run, r2, visor_map_key_size(m), false, "bpf_map_lookup_elem", "key"))
		return 0;
	void *v = visor_map_lookup_ptr(m, (const void *)(uintptr_t)r2);
	if (v && is_map_of_maps(m)) {
		record_inner(run, v); /* a handle for the map helpers, not memory */
		return (uintptr_t)v;
	}
	if (v)
		visor_vm_run_hand_out_value(run, v, visor_map_value_size(m), value_writable(m));
	return (uintptr_t)v;
}

static uint64_t h_map_update_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_map_update_elem";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, visor_map_key_size(m), false, h, "key") ||
	    !visor_helper_mem(run, r3, visor_map_value_size(m), false, h, "value"))
		return 0;
	if ((r4 & VISOR_F_LOCK) && run->held_lock) {
		/* It would wait on a lock this run may hold itself. */
		visor_vm_run_fail(run, -EINVAL, "%s: BPF_F_LOCK while holding a bpf_spin_lock", h);
		return 0;
	}
	return (uint64_t)(int64_t)visor_map_update_from_prog(m, (const void *)(uintptr_t)r2,
							     (const void *)(uintptr_t)r3, r4);
}

static uint64_t h_map_delete_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_map_delete_elem";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, visor_map_key_size(m), false, h, "key"))
		return 0;
	return (uint64_t)(int64_t)visor_map_delete_from_prog(m, (const void *)(uintptr_t)r2);
}

static uint64_t h_map_push_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_map_push_elem";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, visor_map_value_size(m), false, h, "value"))
		return 0;
	return (uint64_t)(int64_t)visor_map_push(m, (const void *)(uintptr_t)r2, r3);
}

static uint64_t h_map_pop_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			       uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_map_pop_elem";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, visor_map_value_size(m), true, h, "value"))
		return 0;
	return (uint64_t)(int64_t)visor_map_pop(m, (void *)(uintptr_t)r2);
}

static uint64_t h_map_peek_elem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_map_peek_elem";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, visor_map_value_size(m), true, h, "value"))
		return 0;
	return (uint64_t)(int64_t)visor_map_peek(m, (void *)(uintptr_t)r2);
}

static uint64_t h_ringbuf_output(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				 uint64_t r5, struct visor_vm_run *run)
{
	const char *h = "bpf_ringbuf_output";
	struct visor_map *m = arg_map(run, r1, h);
	if (!m || !visor_helper_mem(run, r2, r3, false, h, "data"))
		return 0;
	return (uint64_t)(int64_t)visor_ringbuf_output(m, (const void *)(uintptr_t)r2, r3, r4);
}

static uint64_t h_ringbuf_reserve(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5, struct visor_vm_run *run)
{
	struct visor_map *m = arg_map(run, r1, "bpf_ringbuf_reserve");
	if (!m)
		return 0;
	void *p = visor_ringbuf_reserve(m, r2, r3);
	if (p)
		visor_vm_run_hand_out(run, p, r2, true);
	return (uintptr_t)p;
}

/* A sample must be one this run reserved (the record, or a bound ring's
 * data area once the record overflowed): submit reads its header. */
static bool arg_sample(struct visor_vm_run *run, uint64_t p, const char *helper)
{
	if (visor_vm_run_handed_ok(run, p, 1, true))
		return true;
	visor_vm_run_fail(run, -EINVAL, "%s: 0x%llx is not a sample this run reserved", helper,
			  (unsigned long long)p);
	return false;
}

static uint64_t h_ringbuf_submit(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				 uint64_t r5, struct visor_vm_run *run)
{
	if (!arg_sample(run, r1, "bpf_ringbuf_submit"))
		return 0;
	visor_vm_run_take_back(run, (void *)(uintptr_t)r1);
	visor_ringbuf_submit((void *)(uintptr_t)r1, r2);
	return 0;
}

static uint64_t h_ringbuf_discard(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5, struct visor_vm_run *run)
{
	if (!arg_sample(run, r1, "bpf_ringbuf_discard"))
		return 0;
	visor_vm_run_take_back(run, (void *)(uintptr_t)r1);
	visor_ringbuf_discard((void *)(uintptr_t)r1, r2);
	return 0;
}

static uint64_t h_ringbuf_query(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				uint64_t r5, struct visor_vm_run *run)
{
	struct visor_map *m = arg_map(run, r1, "bpf_ringbuf_query");
	return m ? visor_ringbuf_query(m, r2) : 0;
}

int visor_register_map_helpers(struct visor_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		visor_helper_fn fn;
	} tab[] = {
		{1, "bpf_map_lookup_elem", h_map_lookup_elem},
		{2, "bpf_map_update_elem", h_map_update_elem},
		{3, "bpf_map_delete_elem", h_map_delete_elem},
		{87, "bpf_map_push_elem", h_map_push_elem},
		{88, "bpf_map_pop_elem", h_map_pop_elem},
		{89, "bpf_map_peek_elem", h_map_peek_elem},
		{130, "bpf_ringbuf_output", h_ringbuf_output},
		{131, "bpf_ringbuf_reserve", h_ringbuf_reserve},
		{132, "bpf_ringbuf_submit", h_ringbuf_submit},
		{133, "bpf_ringbuf_discard", h_ringbuf_discard},
		{134, "bpf_ringbuf_query", h_ringbuf_query},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int err = visor_vm_register_helper(vm, tab[i].id, tab[i].name, tab[i].fn);
		if (err)
			return err;
	}
	return 0;
}
