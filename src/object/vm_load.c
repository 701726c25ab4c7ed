/* From a parsed object to a runnable VM: the object's maps created from its
 * definitions (global data initialised, map-in-map slots filled) and one of
 * its programs loaded with them bound. The object layer sits above the
 * engine (DESIGN.md), so the glue lives here and src/vm knows no objects. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>
#include <visor/verifier.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int create_one(const struct visor_obj_map_def *d, struct visor_map *inner,
		      const struct visor_map_ref_ops *ref_ops, struct visor_map **map, char *err,
		      size_t errlen)
{
	char name[VISOR_MAP_NAME_LEN], why[256] = "";
	snprintf(name, sizeof(name), "%s", d->name ? d->name : "");
	/* Map names allow [A-Za-z0-9_.]; anything else becomes '_'. */
	for (char *p = name; *p; p++)
		if (!(*p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			*p = '_';
	VISOR_OPTS(visor_map_create_opts, o, .type = d->type, .key_size = d->key_size,
		   .value_size = d->value_size, .max_entries = d->max_entries,
		   .map_flags = d->map_flags, .name = name, .inner_map = inner, .errbuf = why,
		   .spin_lock = d->has_spin_lock, .spin_lock_off = d->spin_lock_off,
		   .errbuf_len = sizeof(why), .ref_ops = ref_ops);
	int rc = visor_map_create(&o, map);
	if (rc)
		return fail(err, errlen, rc, "map '%s': %s", d->name, why[0] ? why : strerror(-rc));
	return 0;
}

/* Prog arrays of a loaded object resolve ids through these (defined with
 * visor_obj_vm_load below); ctx names the object and the map. */
static void *prog_array_resolve(void *ctx, uint32_t id);
static void prog_array_release(void *ctx, void *ref);
static int prog_array_check(void *ctx, void *ref);

/* obj_key 0: prog arrays store bare ids; else they belong to that loaded
 * object (struct visor_obj_vm). */
static int maps_create(const struct visor_obj *obj, uint64_t obj_key, struct visor_map ***out,
		       size_t *count, char *err, size_t errlen)
{
	if (!obj || !out || !count)
		return fail(err, errlen, -EINVAL, "obj_maps_create: NULL argument");
	*out = NULL;
	*count = 0;
	size_t n = visor_obj_map_count(obj);
	if (n > VISOR_VM_MAX_MAPS)
		return fail(err, errlen, -E2BIG, "the object defines %zu maps, more than the %d a program may use",
			    n, VISOR_VM_MAX_MAPS);
	struct visor_map **maps = calloc(n ? n : 1, sizeof(*maps));
	if (!maps)
		return fail(err, errlen, -ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, i);
		struct visor_map *inner = NULL;
		if (d->inner && (rc = create_one(d->inner, NULL, NULL, &inner, err, errlen)))
			break;
		struct visor_map_ref_ops ops = {.resolve = prog_array_resolve,
						.release = prog_array_release,
						.check = prog_array_check,
						.ctx = (void *)(uintptr_t)(obj_key << 8 | i)};
		rc = create_one(d, inner, obj_key ? &ops : NULL, &maps[i], err, errlen);
		visor_map_destroy(inner); /* only its description is kept */
		if (rc)
			break;
		if (d->origin == VISOR_OBJ_MAP_DATA && d->init_data) {
			uint32_t key = 0;
			rc = visor_map_update(maps[i], &key, d->init_data, VISOR_ANY);
			if (rc)
				fail(err, errlen, rc, "map '%s': initial data: %s", d->name,
				     visor_map_errmsg(maps[i]));
		}
	}
	/* Static initialisers of maps of maps refer to maps made above. Prog
	 * array slots need loaded programs: visor_obj_vm_load fills them. */
	for (size_t i = 0; i < n && !rc; i++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, i);
		for (size_t s = 0; s < d->slot_count && !rc; s++) {
			const struct visor_obj_map_slot *sl = &d->slots[s];
			if (sl->map_idx < 0 || (size_t)sl->map_idx >= n)
				continue;
			rc = visor_map_update_ref(maps[i], &sl->slot, maps[sl->map_idx], 0, VISOR_ANY);
			if (rc)
				fail(err, errlen, rc, "map '%s': slot %u: %s", d->name, sl->slot,
				     visor_map_errmsg(maps[i]));
		}
	}
	if (rc) {
		visor_obj_maps_destroy(maps, n);
		return rc;
	}
	*out = maps;
	*count = n;
	return 0;
}

int visor_obj_maps_create(const struct visor_obj *obj, struct visor_map ***out, size_t *count,
			  char *err, size_t errlen)
{
	return maps_create(obj, 0, out, count, err, errlen);
}

void visor_obj_maps_destroy(struct visor_map **maps, size_t count)
{
	if (!maps)
		return;
	for (size_t i = 0; i < count; i++)
		visor_map_destroy(maps[i]);
	free(maps);
}

int visor_obj_prog_load_vm(struct visor_vm *vm, const struct visor_obj_prog *prog,
			   struct visor_map *const *maps, size_t count, char *err, size_t errlen)
{
	if (!vm || !prog || (count && !maps))
		return fail(err, errlen, -EINVAL, "load_obj_prog: NULL argument");
	const char *name = visor_obj_prog_name(prog);
	char why[512];
	int rc = visor_obj_prog_unsupported(prog, why, sizeof(why));
	if (rc)
		return fail(err, errlen, rc, "%s", why);
	uint32_t type = visor_obj_prog_type(prog);
	if (!visor_vm_prog_type_supported(type)) {
		const char *tn = visor_obj_prog_type_name(type);
		return fail(err, errlen, -EOPNOTSUPP,
			    "prog '%s': program type %s is not supported by the visor VM yet (XDP, socket filter, tc, kprobe, tracepoint, raw tracepoint, tracing and syscall only)",
			    name, tn ? tn : "unknown");
	}
	if ((rc = visor_vm_set_maps(vm, maps, count)) || (rc = visor_vm_set_prog_type(vm, type)) ||
	    (rc = visor_vm_register_linux_helpers(vm)))
		return fail(err, errlen, rc, "prog '%s': %s", name, visor_vm_errmsg(vm));
	rc = visor_vm_load(vm, visor_obj_prog_insns(prog), visor_obj_prog_insn_count(prog));
	if (rc)
		return fail(err, errlen, rc, "prog '%s': %s", name, visor_vm_errmsg(vm));
	VISOR_OPTS(visor_verify_opts, vo, .line_of = visor_obj_prog_line_cb, .line_ctx = (void *)prog);
	rc = visor_verify_vm(vm, &vo);
	if (rc && !visor_vm_unsafe(vm)) {
		visor_vm_unload(vm);
		return fail(err, errlen, rc, "prog '%s' refused by the verifier: %s", name, vo.errmsg);
	}
	return 0;
}

/* ---- A whole object on the visor engine ---------------------------------
 *
 * Lifetimes. Prog arrays hold references to VMs, and every VM holds
 * references to the object's maps, prog arrays included: a cycle, which
 * the kernel breaks by clearing a prog array when its last user reference
 * goes. visor_obj_vm_destroy does the same, then waits a grace period
 * (runs that read a slot before it was cleared finish), then unloads each
 * VM and unbinds its maps. A VM is freed with its last reference: the
 * object's own, or a prog array slot's, which the maps layer releases a
 * grace period after the slot changed.
 *
 * Everything ids and prog arrays need is in one registry behind one lock:
 * loaded objects (prog arrays find their owner type and the object's
 * programs there; a destroyed object is gone, so its ids stop resolving)
 * and loaded programs (a slot's release finds its record by VM, even after
 * the object is gone). A prog array's ref_ops ctx is a number, obj_key << 8
 * | map index, never a pointer, so nothing dangles when an array outlives
 * its object. */

struct loaded_prog {
	struct visor_vm *vm;
	uint32_t id;
	uint32_t owner_tag; /* prog_tag(): what a prog array owner must match */
	uint64_t obj_key;
	int refs;           /* the object's + one per prog array slot; under g_lock */
	struct loaded_prog *next;
};

struct obj_vm_prog {
	char *name;
	struct loaded_prog *lp; /* NULL: not loaded */
	int err;                /* why not: negative errno and message */
	char *why;
};

struct visor_obj_vm {
	uint64_t key;
	struct visor_obj_vm *next; /* the registry */
	struct visor_map **maps;
	size_t nmaps;
	char **map_names;
	uint32_t *owner; /* per map: prog array owner's tag, 0 while unclaimed */
	struct obj_vm_prog *progs;
	size_t nprogs;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct visor_obj_vm *g_objs;
static struct loaded_prog *g_progs;
static uint64_t g_next_key;
static uint32_t g_next_id;

/* The kernel's prog array compatibility: same type, same xdp.frags. */
static uint32_t prog_tag(const struct visor_obj_prog *p)
{
	return (visor_obj_prog_type(p) + 1) |
	       ((visor_obj_prog_flags(p) & VISOR_PROG_F_XDP_HAS_FRAGS) ? 1u << 31 : 0);
}

static struct visor_obj_vm *obj_by_key(uint64_t key)
{
	for (struct visor_obj_vm *o = g_objs; o; o = o->next)
		if (o->key == key)
			return o;
	return NULL;
}

static struct loaded_prog *prog_by_vm(const void *vm)
{
	for (struct loaded_prog *lp = g_progs; lp; lp = lp->next)
		if (lp->vm == vm)
			return lp;
	return NULL;
}

/* Drops one reference; the last frees the VM. */
static void prog_put(struct loaded_prog *lp)
{
	pthread_mutex_lock(&g_lock);
	bool last = --lp->refs == 0;
	if (last)
		for (struct loaded_prog **pp = &g_progs; *pp; pp = &(*pp)->next)
			if (*pp == lp) {
				*pp = lp->next;
				break;
			}
	pthread_mutex_unlock(&g_lock);
	if (last) {
		visor_vm_destroy(lp->vm);
		free(lp);
	}
}

static void *prog_array_resolve(void *ctx, uint32_t id)
{
	uint64_t key = (uintptr_t)ctx >> 8;
	void *vm = NULL;
	pthread_mutex_lock(&g_lock);
	struct visor_obj_vm *o = obj_by_key(key);
	for (size_t i = 0; o && i < o->nprogs && !vm; i++) {
		struct loaded_prog *lp = o->progs[i].lp;
		if (lp && lp->id == id) {
			lp->refs++;
			vm = lp->vm;
		}
	}
	pthread_mutex_unlock(&g_lock);
	return vm;
}

static void prog_array_release(void *ctx, void *ref)
{
	(void)ctx;
	pthread_mutex_lock(&g_lock);
	struct loaded_prog *lp = prog_by_vm(ref);
	pthread_mutex_unlock(&g_lock);
	if (lp)
		prog_put(lp);
}

/* The owner is claimed by the first program that fits. */
static int claim(struct visor_obj_vm *o, size_t map_idx, uint32_t tag)
{
	if (!o->owner[map_idx])
		o->owner[map_idx] = tag;
	return o->owner[map_idx] == tag ? 0 : -EINVAL;
}

static int prog_array_check(void *ctx, void *ref)
{
	uint64_t key = (uintptr_t)ctx >> 8;
	size_t map_idx = (uintptr_t)ctx & 0xff;
	int rc = -EBADF;
	pthread_mutex_lock(&g_lock);
	struct visor_obj_vm *o = obj_by_key(key);
	struct loaded_prog *lp = prog_by_vm(ref);
	if (o && lp && lp->obj_key == key)
		rc = claim(o, map_idx, lp->owner_tag);
	pthread_mutex_unlock(&g_lock);
	return rc;
}

static struct obj_vm_prog *find_prog(const struct visor_obj_vm *o, const char *name)
{
	for (size_t i = 0; o && name && i < o->nprogs; i++)
		if (!strcmp(o->progs[i].name, name))
			return &o->progs[i];
	return NULL;
}

/* A program that uses a prog array owned by another type does not load
 * (the kernel's bpf_check_tail_call); the first user claims it. */
static int claim_used_arrays(struct visor_obj_vm *o, const struct visor_obj *obj,
			     const struct visor_obj_prog *p, char *why, size_t len)
{
	size_t n;
	const struct visor_obj_reloc *r = visor_obj_prog_relocs(p, &n);
	int rc = 0;
	pthread_mutex_lock(&g_lock);
	for (size_t i = 0; i < n && !rc; i++) {
		if (r[i].kind != VISOR_OBJ_RELO_MAP_FD || r[i].map_idx < 0 ||
		    (size_t)r[i].map_idx >= o->nmaps)
			continue;
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, (size_t)r[i].map_idx);
		if (d->type != VISOR_MAP_TYPE_PROG_ARRAY)
			continue;
		uint32_t owner = o->owner[r[i].map_idx];
		if ((rc = claim(o, (size_t)r[i].map_idx, prog_tag(p)))) {
			const char *tn = visor_obj_prog_type_name((owner & ~(1u << 31)) - 1);
			snprintf(why, len,
				 "prog '%s': prog array '%s' belongs to %s%s programs, and tail calls do not cross program types",
				 visor_obj_prog_name(p), d->name, tn ? tn : "other",
				 owner >> 31 ? " (xdp.frags)" : "");
		}
	}
	pthread_mutex_unlock(&g_lock);
	return rc;
}

/* Loads program i into a VM of its own; a refusal is recorded in o. */
static int load_prog(struct visor_obj_vm *o, const struct visor_obj *obj, size_t i,
		     const struct visor_obj_vm_opts *opts, char *err, size_t errlen)
{
	const struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
	struct obj_vm_prog *op = &o->progs[i];
	char why[512] = "";
	struct visor_vm *vm = visor_vm_create();
	if (!vm)
		return fail(err, errlen, -ENOMEM, "out of memory");
	visor_vm_set_unsafe(vm, opts->unsafe);
	int rc = visor_obj_prog_load_vm(vm, p, o->maps, o->nmaps, why, sizeof(why));
	if (!rc)
		rc = claim_used_arrays(o, obj, p, why, sizeof(why));
	if (rc) {
		visor_vm_destroy(vm);
		op->err = rc;
		op->why = strdup(why);
		if (!op->why)
			return fail(err, errlen, -ENOMEM, "out of memory");
		return opts->require_all ? fail(err, errlen, rc, "%s", why) : 0;
	}
	if (opts->jit && (rc = visor_vm_jit_compile(vm, opts->jit_flags))) {
		fail(err, errlen, rc, "prog '%s': %s", op->name, visor_vm_errmsg(vm));
		visor_vm_destroy(vm);
		return rc;
	}
	struct loaded_prog *lp = calloc(1, sizeof(*lp));
	if (!lp) {
		visor_vm_destroy(vm);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	lp->vm = vm;
	lp->owner_tag = prog_tag(p);
	lp->obj_key = o->key;
	lp->refs = 1;
	pthread_mutex_lock(&g_lock);
	lp->id = ++g_next_id;
	lp->next = g_progs;
	g_progs = lp;
	op->lp = lp;
	pthread_mutex_unlock(&g_lock);
	return 0;
}

/* `.values = { [n] = &prog }` of prog arrays, after every program loaded
 * (libbpf's order: the first user of an array claims it at load). */
static int fill_prog_slots(struct visor_obj_vm *o, const struct visor_obj *obj, char *err,
			   size_t errlen)
{
	for (size_t m = 0; m < o->nmaps; m++) {
		const struct visor_obj_map_def *d = visor_obj_map_def_at(obj, m);
		if (d->type != VISOR_MAP_TYPE_PROG_ARRAY)
			continue;
		for (size_t s = 0; s < d->slot_count; s++) {
			const struct visor_obj_map_slot *sl = &d->slots[s];
			if (sl->prog_idx < 0 || (size_t)sl->prog_idx >= o->nprogs)
				continue;
			struct obj_vm_prog *op = &o->progs[sl->prog_idx];
			if (!op->lp)
				return fail(err, errlen, -EINVAL,
					    "map '%s': slot %u: program '%s' is not loaded: %s", d->name,
					    sl->slot, op->name, op->why ? op->why : "?");
			pthread_mutex_lock(&g_lock);
			op->lp->refs++; /* the slot's, released by the map */
			pthread_mutex_unlock(&g_lock);
			int rc = visor_map_update_ref(o->maps[m], &sl->slot, op->lp->vm, op->lp->id,
						      VISOR_ANY);
			if (rc) {
				prog_put(op->lp);
				return fail(err, errlen, rc, "map '%s': slot %u (program '%s'): %s",
					    d->name, sl->slot, op->name, visor_map_errmsg(o->maps[m]));
			}
		}
	}
	return 0;
}

struct visor_obj_vm *visor_obj_vm_load(const struct visor_obj *obj,
				       const struct visor_obj_vm_opts *opts, char *err,
				       size_t errlen)
{
	struct visor_obj_vm_opts o = {.sz = sizeof(o)};
	if (!obj || (opts && opts->sz < sizeof(size_t))) {
		fail(err, errlen, -EINVAL, "obj_vm_load: NULL object or opts without .sz");
		errno = EINVAL;
		return NULL;
	}
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	struct visor_obj_vm *ovm = calloc(1, sizeof(*ovm));
	if (!ovm) {
		fail(err, errlen, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&g_lock);
	ovm->key = ++g_next_key;
	pthread_mutex_unlock(&g_lock);
	int rc = maps_create(obj, ovm->key, &ovm->maps, &ovm->nmaps, err, errlen);
	if (rc) {
		free(ovm);
		errno = -rc;
		return NULL;
	}
	ovm->nprogs = visor_obj_prog_count(obj);
	ovm->progs = calloc(ovm->nprogs ? ovm->nprogs : 1, sizeof(*ovm->progs));
	ovm->map_names = calloc(ovm->nmaps ? ovm->nmaps : 1, sizeof(*ovm->map_names));
	ovm->owner = calloc(ovm->nmaps ? ovm->nmaps : 1, sizeof(*ovm->owner));
	rc = ovm->progs && ovm->map_names && ovm->owner ? 0 : -ENOMEM;
	for (size_t i = 0; i < ovm->nprogs && !rc; i++)
		if (!(ovm->progs[i].name = strdup(visor_obj_prog_name(visor_obj_prog_at(obj, i)))))
			rc = -ENOMEM;
	for (size_t i = 0; i < ovm->nmaps && !rc; i++)
		if (!(ovm->map_names[i] = strdup(visor_obj_map_def_at(obj, i)->name)))
			rc = -ENOMEM;
	if (rc) {
		fail(err, errlen, rc, "out of memory");
	} else {
		/* In the registry from here: prog array checks look it up. */
		pthread_mutex_lock(&g_lock);
		ovm->next = g_objs;
		g_objs = ovm;
		pthread_mutex_unlock(&g_lock);
		for (size_t i = 0; i < ovm->nprogs && !rc; i++)
			rc = load_prog(ovm, obj, i, &o, err, errlen);
		if (!rc)
			rc = fill_prog_slots(ovm, obj, err, errlen);
	}
	if (rc) {
		visor_obj_vm_destroy(ovm);
		errno = -rc;
		return NULL;
	}
	return ovm;
}

void visor_obj_vm_destroy(struct visor_obj_vm *ovm)
{
	if (!ovm)
		return;
	pthread_mutex_lock(&g_lock);
	for (struct visor_obj_vm **pp = &g_objs; *pp; pp = &(*pp)->next)
		if (*pp == ovm) {
			*pp = ovm->next;
			break;
		}
	pthread_mutex_unlock(&g_lock);
	/* Empty the prog arrays; their old slots are released a grace
	 * period later, by the maps layer. */
	for (size_t m = 0; m < ovm->nmaps; m++) {
		if (!ovm->maps[m] || visor_map_type(ovm->maps[m]) != VISOR_MAP_TYPE_PROG_ARRAY)
			continue;
		for (uint32_t k = 0; k < visor_map_max_entries(ovm->maps[m]); k++)
			visor_map_delete(ovm->maps[m], &k);
	}
	visor_map_synchronize(); /* runs that still saw a slot are over */
	for (size_t i = 0; ovm->progs && i < ovm->nprogs; i++) {
		struct obj_vm_prog *op = &ovm->progs[i];
		if (op->lp) {
			/* A stale slot may keep the VM a while: without its
			 * program and its maps, so it keeps no map alive. */
			visor_vm_unload(op->lp->vm);
			visor_vm_set_maps(op->lp->vm, NULL, 0);
			prog_put(op->lp);
		}
		free(op->name);
		free(op->why);
	}
	for (size_t m = 0; ovm->map_names && m < ovm->nmaps; m++)
		free(ovm->map_names[m]);
	visor_obj_maps_destroy(ovm->maps, ovm->nmaps);
	free(ovm->map_names);
	free(ovm->owner);
	free(ovm->progs);
	free(ovm);
}

struct visor_vm *visor_obj_vm_prog(const struct visor_obj_vm *ovm, const char *name)
{
	const struct obj_vm_prog *op = find_prog(ovm, name);
	if (!op || !op->lp) {
		errno = op ? -op->err : ENOENT;
		return NULL;
	}
	return op->lp->vm;
}

int visor_obj_vm_prog_status(const struct visor_obj_vm *ovm, const char *name,
			     const char **why)
{
	const struct obj_vm_prog *op = find_prog(ovm, name);
	if (why)
		*why = op ? (op->why ? op->why : "") : "no such program";
	return !op ? -ENOENT : op->lp ? 0 : op->err;
}

uint32_t visor_obj_vm_prog_id(const struct visor_obj_vm *ovm, const char *name)
{
	const struct obj_vm_prog *op = find_prog(ovm, name);
	return op && op->lp ? op->lp->id : 0;
}

struct visor_map *const *visor_obj_vm_maps(const struct visor_obj_vm *ovm, size_t *count)
{
	if (count)
		*count = ovm ? ovm->nmaps : 0;
	return ovm ? ovm->maps : NULL;
}

struct visor_map *visor_obj_vm_map(const struct visor_obj_vm *ovm, const char *name)
{
	for (size_t i = 0; ovm && name && i < ovm->nmaps; i++)
		if (!strcmp(ovm->map_names[i], name))
			return ovm->maps[i];
	return NULL;
}
