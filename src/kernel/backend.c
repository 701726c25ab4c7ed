/* One load call over both backends (issue 6): the same object file loaded
 * on visor's engine (visor_obj_vm_load, every program verified) or into the
 * kernel (libbpf), its maps and global data reached through visor_map_* and
 * its programs test-run through one call either way. On the kernel side
 * each map is a proxy visor_map (src/maps/proxy.c) over the map's fd. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/kernel.h>
#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "kernel_internal.h"

struct loaded_map {
	const struct visor_kernel_map *kmap; /* kernel side: what the proxy wraps */
	struct visor_map *map;
};

struct visor_loaded {
	unsigned backend;
	struct visor_obj_vm *ovm;        /* VISOR_BACKEND_VM */
	struct visor_kernel_obj *kobj;   /* VISOR_BACKEND_KERNEL */
	struct loaded_map *maps;         /* kernel proxies, made on first use */
	size_t nmaps;
};

/* ---- Kernel maps as proxies --------------------------------------------- */

static int fd_of(void *ctx) { return *(const int *)ctx; }

static int kmap_lookup(void *ctx, const void *key, void *value)
{
	return bpf_map_lookup_elem(fd_of(ctx), key, value) ? -errno : 0;
}

static int kmap_update(void *ctx, const void *key, const void *value, uint64_t flags)
{
	return bpf_map_update_elem(fd_of(ctx), key, value, flags) ? -errno : 0;
}

static int kmap_delete(void *ctx, const void *key)
{
	return bpf_map_delete_elem(fd_of(ctx), key) ? -errno : 0;
}

static int kmap_next(void *ctx, const void *key, void *next)
{
	return bpf_map_get_next_key(fd_of(ctx), key, next) ? -errno : 0;
}

static void kmap_release(void *ctx) { free(ctx); }

static const struct visor_map_proxy_ops kmap_ops = {
	.lookup = kmap_lookup,
	.update = kmap_update,
	.delete_elem = kmap_delete,
	.get_next_key = kmap_next,
	.release = kmap_release,
};

/* The proxy of a kernel map (one per map; the fd stays owned by kobj). */
static struct visor_map *kernel_proxy(struct visor_loaded *l, struct visor_kernel_map *km,
				      const char *name)
{
	for (size_t i = 0; i < l->nmaps; i++)
		if (l->maps[i].kmap == km)
			return l->maps[i].map;
	const struct visor_kernel_map_info *in = visor_kernel_map_info(km);
	struct loaded_map *grown = realloc(l->maps, (l->nmaps + 1) * sizeof(*grown));
	int *fd = malloc(sizeof(*fd));
	if (!grown || !fd) {
		free(fd);
		if (grown)
			l->maps = grown;
		return NULL;
	}
	l->maps = grown;
	*fd = visor_kernel_map_fd(km);
	VISOR_OPTS(visor_map_create_opts, desc, .type = in->type, .key_size = in->key_size,
		   .value_size = in->value_size, .max_entries = in->max_entries,
		   .map_flags = in->map_flags, .name = name, .nr_cpus = in->nr_cpus);
	struct visor_map *m = NULL;
	if (visor_map_create_proxy(&desc, &kmap_ops, fd, &m)) {
		free(fd);
		return NULL;
	}
	l->maps[l->nmaps++] = (struct loaded_map){.kmap = km, .map = m};
	return m;
}

/* ---- Loading ------------------------------------------------------------ */

int visor_obj_load(const char *path, unsigned backend, struct visor_loaded **out, char *err,
		   size_t err_len)
{
	if (out)
		*out = NULL;
	if (!path || !out)
		return visor_errf(err, err_len, -EINVAL, "visor_obj_load: NULL path or out");
	if (backend != VISOR_BACKEND_VM && backend != VISOR_BACKEND_KERNEL)
		return visor_errf(err, err_len, -EINVAL,
				  "visor_obj_load: backend 0x%x: give exactly one of "
				  "VISOR_BACKEND_VM or VISOR_BACKEND_KERNEL", backend);
	struct visor_loaded *l = calloc(1, sizeof(*l));
	if (!l)
		return visor_errf(err, err_len, -ENOMEM, "%s: out of memory", path);
	l->backend = backend;
	if (backend == VISOR_BACKEND_KERNEL) {
		int rc = visor_kernel_obj_load(path, NULL, &l->kobj, err, err_len);
		if (rc) {
			free(l);
			return rc;
		}
		*out = l;
		return 0;
	}
	char msg[256] = "";
	struct visor_obj *obj = visor_obj_open_file(path, NULL, msg, sizeof(msg));
	if (!obj) {
		int rc = errno ? -errno : -EINVAL;
		free(l);
		return visor_errf(err, err_len, rc, "%s", msg);
	}
	VISOR_OPTS(visor_obj_vm_opts, vo, .require_all = true);
	l->ovm = visor_obj_vm_load(obj, &vo, msg, sizeof(msg));
	int rc = l->ovm ? 0 : (errno ? -errno : -EINVAL);
	visor_obj_close(obj);
	if (rc) {
		free(l);
		return visor_errf(err, err_len, rc, "%s: %s", path, msg);
	}
	*out = l;
	return 0;
}

unsigned visor_loaded_backend(const struct visor_loaded *l) { return l ? l->backend : 0; }

struct visor_kernel_obj *visor_loaded_kernel_obj(struct visor_loaded *l)
{
	return l ? l->kobj : NULL;
}

struct visor_obj_vm *visor_loaded_vm(struct visor_loaded *l) { return l ? l->ovm : NULL; }

/* Global data: visor's loader names the maps after their sections (".bss",
 * ".data.stats"), libbpf after the object too ("globals.bss"). Both names
 * work on both sides: on the VM the part from the first '.' is tried. */
struct visor_map *visor_loaded_map(struct visor_loaded *l, const char *name)
{
	if (!l || !name)
		return NULL;
	if (l->ovm) {
		struct visor_map *m = visor_obj_vm_map(l->ovm, name);
		const char *dot = strchr(name, '.');
		if (!m && dot && dot != name)
			m = visor_obj_vm_map(l->ovm, dot);
		return m;
	}
	/* libbpf's find_map_by_name knows internal maps by ".bss" as well. */
	struct visor_kernel_map *km = visor_kernel_obj_map(l->kobj, name);
	return km ? kernel_proxy(l, km, name) : NULL;
}

/* ---- Test runs ---------------------------------------------------------- */

int visor_loaded_test_run(struct visor_loaded *l, const char *prog,
			  struct visor_prog_test_run_opts *o)
{
	if (!l || !prog || !o)
		return -EINVAL;
	char *eb = o->errbuf;
	size_t el = o->errbuf_len;
	if (l->ovm) {
		struct visor_vm *vm = visor_obj_vm_prog(l->ovm, prog);
		if (!vm) {
			const char *why = NULL;
			int rc = visor_obj_vm_prog_status(l->ovm, prog, &why);
			return visor_errf(eb, el, rc ? rc : -ENOENT, "program '%s': %s", prog,
					  why ? why : "not loaded");
		}
		return visor_prog_test_run(vm, o);
	}
	int fd = visor_kernel_obj_prog_fd(l->kobj, prog);
	if (fd < 0)
		return visor_errf(eb, el, -ENOENT, "no program '%s' in the object", prog);
	LIBBPF_OPTS(bpf_test_run_opts, k, .data_in = o->data_in, .data_size_in = o->data_size_in,
		    .data_out = o->data_out, .data_size_out = o->data_out ? o->data_size_out : 0,
		    .ctx_in = o->ctx_in, .ctx_size_in = o->ctx_size_in, .ctx_out = o->ctx_out,
		    .ctx_size_out = o->ctx_out ? o->ctx_size_out : 0, .repeat = o->repeat);
	if (bpf_prog_test_run_opts(fd, &k)) {
		int rc = -errno;
		return visor_errf(eb, el, rc, "test run of '%s' in the kernel: %s%s", prog,
				  strerror(-rc),
				  rc == -ENOSPC ? " (data_out or ctx_out is too small)" : "");
	}
	o->retval = k.retval;
	o->duration = k.duration;
	if (o->data_out)
		o->data_size_out = k.data_size_out;
	if (o->ctx_out)
		o->ctx_size_out = k.ctx_size_out;
	memset(&o->redirect, 0, sizeof(o->redirect));
	if (eb && el)
		eb[0] = 0;
	return 0;
}

void visor_loaded_close(struct visor_loaded *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nmaps; i++)
		visor_map_destroy(l->maps[i].map);
	free(l->maps);
	visor_obj_vm_destroy(l->ovm);
	visor_kernel_obj_close(l->kobj);
	free(l);
}
