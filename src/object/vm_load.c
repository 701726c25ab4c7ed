/* From a parsed object to a runnable VM: the object's maps created from its
 * definitions (global data initialised, map-in-map slots filled) and one of
 * its programs loaded with them bound. The object layer sits above the
 * engine (DESIGN.md), so the glue lives here and src/vm knows no objects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

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
		      struct visor_map **map, char *err, size_t errlen)
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
		   .errbuf_len = sizeof(why));
	int rc = visor_map_create(&o, map);
	if (rc)
		return fail(err, errlen, rc, "map '%s': %s", d->name, why[0] ? why : strerror(-rc));
	return 0;
}

int visor_obj_maps_create(const struct visor_obj *obj, struct visor_map ***out, size_t *count,
			     char *err, size_t errlen)
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
		if (d->inner && (rc = create_one(d->inner, NULL, &inner, err, errlen)))
			break;
		rc = create_one(d, inner, &maps[i], err, errlen);
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
	 * array slots wait for tail calls (not in the VM yet): left empty. */
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
	if (type != VISOR_VM_PROG_XDP && type != VISOR_VM_PROG_SOCKET_FILTER &&
	    type != VISOR_VM_PROG_SCHED_CLS) {
		const char *tn = visor_obj_prog_type_name(type);
		return fail(err, errlen, -EOPNOTSUPP,
			    "prog '%s': program type %s is not supported by the visor VM yet (XDP, socket filter and tc only)",
			    name, tn ? tn : "unknown");
	}
	if ((rc = visor_vm_set_maps(vm, maps, count)) || (rc = visor_vm_set_prog_type(vm, type)) ||
	    (rc = visor_vm_register_linux_helpers(vm)))
		return fail(err, errlen, rc, "prog '%s': %s", name, visor_vm_errmsg(vm));
	rc = visor_vm_load(vm, visor_obj_prog_insns(prog), visor_obj_prog_insn_count(prog));
	if (rc)
		return fail(err, errlen, rc, "prog '%s': %s", name, visor_vm_errmsg(vm));
	return 0;
}
