/* The BCC-like object (include/visor/bpf.h): a BCC-dialect source compiled
 * through the front end's object cache (or a ready .o), loaded on one
 * backend with visor_obj_load, auto-attached as BCC does, and freed with
 * everything it made. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <visor/frontend.h>
#include <visor/kernel.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "api_internal.h"

int api_err(struct visor_bpf *b, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

void api_note(struct visor_bpf *b, const char *note)
{
	const char *p = note;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		p = nl ? nl + 1 : p + n;
		if (!line[0])
			continue;
		/* Once per line: autoattach and later attaches share this list. */
		size_t ln = strlen(line);
		const char *seen = b->notes;
		int dup = 0;
		while ((seen = strstr(seen, line))) {
			if ((seen == b->notes || seen[-1] == '\n') && seen[ln] == '\n') {
				dup = 1;
				break;
			}
			seen += ln;
		}
		if (dup)
			continue;
		size_t used = strlen(b->notes);
		if (used + ln + 2 < sizeof(b->notes))
			snprintf(b->notes + used, sizeof(b->notes) - used, "%s\n", line);
		fprintf(b->diag, "visor: %s\n", line);
		fflush(b->diag);
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), n = strlen(suffix);
	return a >= n && !strcmp(s + a - n, suffix);
}

/* The object to load: the given .o, or the source compiled into the cache. */
static int object_path(struct visor_bpf *b, const struct visor_bpf_opts *o)
{
	const char *obj = o->obj_file;
	if (!obj && o->src_file && ends_with(o->src_file, ".o"))
		obj = o->src_file; /* a .o given as "the file": load it */
	if (obj) {
		b->obj_path = strdup(obj);
		return b->obj_path ? 0 : api_err(b, -ENOMEM, "out of memory");
	}
	LIBVISOR_OPTS(visor_compile_opts, co, .path = o->src_file, .text = o->text,
		      .cflags = o->cflags, .ncflags = o->ncflags, .diag = b->diag);
	char err[sizeof(b->errmsg)];
	int rc = visor_compile_cached(&co, &b->obj_path, err, sizeof(err));
	if (rc)
		return api_err(b, rc, "%s", err);
	return 0;
}

/* A compiled source's load error names the object in the cache; the user
 * knows the source: say that instead. */
static void name_source(struct visor_bpf *b, const char *src)
{
	const char *at = b->obj_path ? strstr(b->errmsg, b->obj_path) : NULL;
	if (!at)
		return;
	char msg[sizeof(b->errmsg)];
	snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - b->errmsg), b->errmsg, src,
		 at + strlen(b->obj_path));
	snprintf(b->errmsg, sizeof(b->errmsg), "%s", msg);
}

/* The VM's bpf_trace_printk lines go where trace_print reads them. */
static void vm_route_printk(struct visor_bpf *b)
{
	struct visor_obj_vm *ovm = visor_loaded_vm(b->loaded);
	for (size_t i = 0; ovm && b->obj && i < visor_obj_prog_count(b->obj); i++) {
		struct visor_vm *vm =
			visor_obj_vm_prog(ovm, visor_obj_prog_name(visor_obj_prog_at(b->obj, i)));
		if (vm)
			visor_vm_set_printk(vm, api_vm_printk, b);
	}
}

int visor_bpf_new(const struct visor_bpf_opts *opts, struct visor_bpf **out, char *err,
		  size_t err_len)
{
	struct visor_bpf_opts o;
	memset(&o, 0, sizeof(o));
	if (opts)
		memcpy(&o, opts, opts->sz && opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (out)
		*out = NULL;
	if (err && err_len)
		err[0] = 0;
	int given = !!o.text + !!o.src_file + !!o.obj_file;
	if (!out || given != 1) {
		if (err && err_len)
			snprintf(err, err_len, "visor_bpf_new: give exactly one of text, src_file, obj_file");
		return -EINVAL;
	}
	unsigned backend = o.backend ? o.backend : VISOR_BACKEND_KERNEL;
	if (backend != VISOR_BACKEND_KERNEL && backend != VISOR_BACKEND_VM) {
		if (err && err_len)
			snprintf(err, err_len, "visor_bpf_new: backend 0x%x: VISOR_BACKEND_KERNEL or VISOR_BACKEND_VM",
				 backend);
		return -EINVAL;
	}
	struct visor_bpf *b = calloc(1, sizeof(*b));
	if (!b) {
		if (err && err_len)
			snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	b->backend = backend;
	b->diag = o.diag ? o.diag : stderr;
	int rc = object_path(b, &o);
	if (!rc) {
		char msg[sizeof(b->errmsg)];
		rc = visor_obj_load(b->obj_path, backend, &b->loaded, msg, sizeof(msg));
		if (rc)
			api_err(b, rc, "%s", msg);
		if (rc && (o.source_name || !o.obj_file))
			name_source(b, o.source_name  ? o.source_name
				       : o.src_file ? o.src_file
						    : "<text>");
	}
	if (!rc && backend == VISOR_BACKEND_VM) {
		/* The VM's tables are typed through the object's BTF (the
		 * kernel's through the kernel's copy of it). */
		char msg[256];
		b->obj = visor_obj_open_file(b->obj_path, NULL, msg, sizeof(msg));
		if (!b->obj)
			rc = api_err(b, errno ? -errno : -EINVAL, "%s", msg);
	}
	if (!rc && backend == VISOR_BACKEND_VM)
		vm_route_printk(b);
	if (!rc && !o.no_autoattach && backend == VISOR_BACKEND_KERNEL)
		rc = api_autoattach(b);
	if (rc) {
		if (err && err_len)
			snprintf(err, err_len, "%s", b->errmsg);
		visor_bpf_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

void visor_bpf_free(struct visor_bpf *b)
{
	if (!b)
		return;
	api_channels_free(b);
	api_trace_free(b);
	api_forget_links(b);
	api_tables_free(b);
	/* Closing the kernel object destroys its links: detached first. */
	visor_loaded_close(b->loaded);
	visor_obj_close(b->obj);
	free(b->obj_path);
	free(b);
}

const char *visor_bpf_errmsg(const struct visor_bpf *b)
{
	return b ? b->errmsg : "no object";
}

unsigned visor_bpf_backend(const struct visor_bpf *b)
{
	return b ? b->backend : 0;
}

const char *visor_bpf_object_path(const struct visor_bpf *b)
{
	return b ? b->obj_path : NULL;
}

struct visor_loaded *visor_bpf_loaded(struct visor_bpf *b)
{
	return b ? b->loaded : NULL;
}

/* ---- Programs ------------------------------------------------------------ */

size_t visor_bpf_prog_count(const struct visor_bpf *b)
{
	if (!b)
		return 0;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k)
		return visor_kernel_obj_prog_count(k);
	return b->obj ? visor_obj_prog_count(b->obj) : 0;
}

const char *visor_bpf_prog_name(const struct visor_bpf *b, size_t i)
{
	if (!b || i >= visor_bpf_prog_count(b))
		return NULL;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k)
		return visor_kernel_obj_prog_name(k, i);
	return visor_obj_prog_name(visor_obj_prog_at(b->obj, i));
}

const char *visor_bpf_prog_section(const struct visor_bpf *b, const char *fn)
{
	for (size_t i = 0; fn && i < visor_bpf_prog_count(b); i++) {
		if (strcmp(visor_bpf_prog_name(b, i), fn))
			continue;
		struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
		if (k)
			return visor_kernel_obj_prog_section(k, i);
		return visor_obj_prog_section(visor_obj_prog_at(b->obj, i));
	}
	return NULL;
}

int visor_bpf_prog_type(struct visor_bpf *b, const char *fn)
{
	if (!b || !fn)
		return -EINVAL;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k) {
		int fd = visor_kernel_obj_prog_fd(k, fn);
		if (fd < 0)
			return api_err(b, -ENOENT, "no program named '%s'", fn);
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return api_err(b, -errno, "program '%s': %s", fn, strerror(errno));
		return (int)info.type;
	}
	struct visor_obj_prog *p = b->obj ? visor_obj_find_prog(b->obj, fn) : NULL;
	if (!p)
		return api_err(b, -ENOENT, "no program named '%s'", fn);
	return (int)visor_obj_prog_type(p);
}

int visor_bpf_prog_fd(struct visor_bpf *b, const char *fn)
{
	if (!b || !fn)
		return -EINVAL;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (!k)
		return api_err(b, -EOPNOTSUPP, "program fds are the kernel backend's; this object is on visor's engine");
	int fd = visor_kernel_obj_prog_fd(k, fn);
	if (fd < 0)
		return api_err(b, -ENOENT, "no program named '%s'", fn);
	return fd;
}

int visor_bpf_test_run(struct visor_bpf *b, const char *fn, const void *data, size_t len,
		       uint32_t *retval)
{
	if (!b || !fn || (!data && len) || len > UINT32_MAX)
		return b ? api_err(b, -EINVAL, "test run: bad arguments") : -EINVAL;
	/* A socket filter on a raw socket (BCC's attach_raw_socket) sees the
	 * frame from its Ethernet header; a test run, as the kernel's, starts
	 * it at the network header (eth_type_trans pulls 14 bytes). A copy of
	 * the Ethernet header in front makes the run see what the socket
	 * would, on both backends. */
	uint8_t *framed = NULL;
	if (len >= 14 && visor_bpf_prog_type(b, fn) == 1 /* BPF_PROG_TYPE_SOCKET_FILTER */) {
		framed = malloc(len + 14);
		if (!framed)
			return api_err(b, -ENOMEM, "test run: out of memory");
		memcpy(framed, data, 14);
		memcpy(framed + 14, data, len);
		data = framed;
		len += 14;
	}
	char msg[512] = "";
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = data, .data_size_in = (uint32_t)len,
		   .repeat = 1, .errbuf = msg, .errbuf_len = sizeof(msg));
	int rc = visor_loaded_test_run(b->loaded, fn, &o);
	free(framed);
	if (rc)
		return api_err(b, rc, "%s", msg[0] ? msg : strerror(-rc));
	if (retval)
		*retval = o.retval;
	return 0;
}
