/* The object: open (the parse in its order), close, the accessors, and the
 * queries later layers ask (source lines, what the VM cannot run). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "object_internal.h"

/* ---- Shared helpers ----------------------------------------------------- */

int obj_err(struct visor_obj *obj, int err, const char *fmt, ...)
{
	if (obj->err && obj->errlen) {
		char msg[OBJ_ERR_LEN];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		/* one line: a hostile name must not break it */
		for (char *c = msg; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		snprintf(obj->err, obj->errlen, "%s: %s", obj->name ? obj->name : "object", msg);
		obj->err = NULL; /* the first error is the one that counts */
	}
	return -err;
}

void *obj_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n >= *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		if (nc > SIZE_MAX / sz)
			return NULL;
		void *na = realloc(*arr, nc * sz);
		if (!na)
			return NULL;
		*arr = na;
		*cap = nc;
	}
	return (char *)*arr + n * sz;
}

void obj_sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, sz, cmp);
}

/* Strings are interned: a name referenced from many places (a map symbol
 * in a thousand relocations) is stored once, which keeps memory bounded by
 * the input whatever its shape. */
static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

const char *obj_strndup(struct visor_obj *obj, const char *s, size_t n)
{
	n = strnlen(s, n);
	if (obj->nstrs * 2 >= obj->capstrs) {
		size_t nc = obj->capstrs ? obj->capstrs * 2 : 64;
		char **nt = calloc(nc, sizeof(*nt));
		if (!nt)
			return NULL;
		for (size_t i = 0; i < obj->capstrs; i++) {
			char *o = obj->strs[i];
			if (!o)
				continue;
			size_t h = str_hash(o, strlen(o)) & (nc - 1);
			while (nt[h])
				h = (h + 1) & (nc - 1);
			nt[h] = o;
		}
		free(obj->strs);
		obj->strs = nt;
		obj->capstrs = nc;
	}
	size_t h = str_hash(s, n) & (obj->capstrs - 1);
	for (; obj->strs[h]; h = (h + 1) & (obj->capstrs - 1))
		if (strncmp(obj->strs[h], s, n) == 0 && obj->strs[h][n] == 0)
			return obj->strs[h];
	char *c = malloc(n + 1);
	if (!c)
		return NULL;
	memcpy(c, s, n);
	c[n] = 0;
	obj->strs[h] = c;
	obj->nstrs++;
	return c;
}

const char *obj_strdup(struct visor_obj *obj, const char *s)
{
	return obj_strndup(obj, s, SIZE_MAX);
}

/* ---- Open and close ----------------------------------------------------- */

#define OPT(o, field, dflt)                                                              \
	((o) && (o)->sz >= offsetof(struct visor_obj_open_opts, field) + sizeof((o)->field) \
		 ? (o)->field : (dflt))

static int read_license(struct visor_obj *obj, struct obj_elf *e)
{
	for (size_t i = 1; i < e->nsecs; i++) {
		const struct obj_sec *s = &e->secs[i];
		if (s->kind == SEC_LICENSE) {
			size_t n = s->size < OBJ_LICENSE_LEN - 1 ? s->size : OBJ_LICENSE_LEN - 1;
			memcpy(obj->license, s->data, n);
			obj->license[n] = 0;
		} else if (s->kind == SEC_VERSION) {
			if (s->size != sizeof(uint32_t))
				return obj_err(obj, EINVAL, "version section has %zu bytes, not 4",
					       s->size);
			memcpy(&obj->kern_version, s->data, sizeof(uint32_t));
		}
	}
	return 0;
}

static struct visor_obj *open_image(const void *data, size_t size, const char *name,
				    char *err, size_t errlen)
{
	struct visor_obj *obj = calloc(1, sizeof(*obj));
	struct obj_elf e = {0};
	int rc;

	if (!obj) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	obj->err = err;
	obj->errlen = errlen;
	obj->name = strdup(name);
	if (!obj->name) {
		rc = obj_err(obj, ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = obj_elf_open(obj, &e, data, size)) ||
	    (rc = obj_load_btf(obj, &e)) ||
	    (rc = read_license(obj, &e)) ||
	    (rc = obj_parse_btf_ext(obj, &e)) ||
	    (rc = obj_collect_programs(obj, &e)) ||
	    (rc = obj_collect_maps(obj, &e)) ||
	    (rc = obj_collect_externs(obj, &e)) ||
	    (rc = obj_map_slots(obj, &e)) ||
	    (rc = obj_collect_relocs(obj, &e)))
		goto out;
	for (size_t i = 0; i < obj->nprogs && !rc; i++)
		rc = obj_link_program(obj, &e, &obj->progs[i]);
out:
	obj_elf_free(&e);
	obj->err = NULL;
	if (rc) {
		visor_obj_close(obj);
		errno = -rc;
		return NULL;
	}
	return obj;
}

struct visor_obj *visor_obj_open_mem(const void *data, size_t size,
				     const struct visor_obj_open_opts *opts, char *err, size_t errlen)
{
	const char *name = OPT(opts, name, NULL);
	size_t max = OPT(opts, max_size, 0);

	if (err && errlen)
		err[0] = 0;
	if (!name)
		name = "mem";
	if (!max)
		max = OBJ_DEFAULT_MAX_SIZE;
	if (!data && size) {
		if (err && errlen)
			snprintf(err, errlen, "%s: no data", name);
		errno = EINVAL;
		return NULL;
	}
	if (size > max) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %zu bytes is more than the %zu allowed", name, size,
				 max);
		errno = EFBIG;
		return NULL;
	}
	return open_image(data ? data : "", size, name, err, errlen);
}

struct visor_obj *visor_obj_open_file(const char *path, const struct visor_obj_open_opts *opts,
				      char *err, size_t errlen)
{
	size_t max = OPT(opts, max_size, 0);
	const char *name = OPT(opts, name, NULL);
	char nbuf[256];
	int e = 0;

	if (err && errlen)
		err[0] = 0;
	if (!max)
		max = OBJ_DEFAULT_MAX_SIZE;
	if (!name) { /* libbpf's rule: the file name up to its first '.' */
		const char *b = strrchr(path, '/');
		b = b ? b + 1 : path;
		snprintf(nbuf, sizeof(nbuf), "%.*s", (int)strcspn(b, "."), b);
		name = nbuf[0] ? nbuf : b;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
	} else if (!S_ISREG(st.st_mode)) {
		e = EINVAL;
	} else if ((uint64_t)st.st_size > max) {
		e = EFBIG;
	} else if (!(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
		e = ENOMEM;
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e = r < 0 ? errno : EIO;
				break;
			}
			got += (size_t)r;
		}
	}
	if (fd >= 0)
		close(fd);
	if (e) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 e == EFBIG ? "file is larger than allowed" :
				 e == EINVAL ? "not a regular file" : strerror(e));
		free(buf);
		errno = e;
		return NULL;
	}
	struct visor_obj *obj = open_image(buf, (size_t)st.st_size, name, err, errlen);
	e = errno;
	free(buf);
	errno = e;
	return obj;
}

void visor_obj_close(struct visor_obj *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < obj->nprogs; i++) {
		struct visor_obj_prog *p = &obj->progs[i];
		free(p->insns);
		free(p->relocs);
		free(p->subprogs);
		free(p->lines);
		free(p->cores);
	}
	free(obj->progs);
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct visor_obj_map_def *d = &obj->maps[i];
		free((void *)d->init_data);
		free((void *)d->slots);
		free((void *)d->inner);
	}
	free(obj->maps);
	free(obj->externs);
	for (size_t i = 0; i < obj->capstrs; i++)
		free(obj->strs[i]);
	free(obj->strs);
	btf__free(obj->btf);
	free(obj->name);
	free(obj);
}

/* ---- Accessors ---------------------------------------------------------- */

const char *visor_obj_name(const struct visor_obj *obj)
{
	return obj->name;
}

const char *visor_obj_license(const struct visor_obj *obj)
{
	return obj->license;
}

uint32_t visor_obj_kern_version(const struct visor_obj *obj)
{
	return obj->kern_version;
}

const struct btf *visor_obj_btf(const struct visor_obj *obj)
{
	return obj->btf;
}

size_t visor_obj_prog_count(const struct visor_obj *obj)
{
	return obj->nprogs;
}

struct visor_obj_prog *visor_obj_prog_at(const struct visor_obj *obj, size_t i)
{
	return i < obj->nprogs ? &obj->progs[i] : NULL;
}

struct visor_obj_prog *visor_obj_find_prog(const struct visor_obj *obj, const char *name)
{
	for (size_t i = 0; i < obj->nprogs; i++)
		if (strcmp(obj->progs[i].name, name) == 0)
			return &obj->progs[i];
	return NULL;
}

const char *visor_obj_prog_name(const struct visor_obj_prog *prog)
{
	return prog->name;
}

const char *visor_obj_prog_section(const struct visor_obj_prog *prog)
{
	return prog->sec_name;
}

uint32_t visor_obj_prog_type(const struct visor_obj_prog *prog)
{
	return prog->type;
}

uint32_t visor_obj_prog_expected_attach_type(const struct visor_obj_prog *prog)
{
	return prog->attach_type;
}

uint32_t visor_obj_prog_flags(const struct visor_obj_prog *prog)
{
	return prog->flags;
}

bool visor_obj_prog_autoload(const struct visor_obj_prog *prog)
{
	return prog->autoload;
}

const struct visor_obj_attach *visor_obj_prog_attach(const struct visor_obj_prog *prog)
{
	return &prog->attach;
}

const struct visor_insn *visor_obj_prog_insns(const struct visor_obj_prog *prog)
{
	return prog->insns;
}

size_t visor_obj_prog_insn_count(const struct visor_obj_prog *prog)
{
	return prog->insn_count;
}

const struct visor_obj_reloc *visor_obj_prog_relocs(const struct visor_obj_prog *prog,
						     size_t *count)
{
	if (count)
		*count = prog->nrelocs;
	return prog->relocs;
}

const struct visor_obj_subprog *visor_obj_prog_subprogs(const struct visor_obj_prog *prog,
							size_t *count)
{
	if (count)
		*count = prog->nsubprogs;
	return prog->subprogs;
}

const struct visor_obj_core_relo *visor_obj_prog_core_relos(const struct visor_obj_prog *prog,
							    size_t *count)
{
	if (count)
		*count = prog->ncores;
	return prog->cores;
}

size_t visor_obj_map_count(const struct visor_obj *obj)
{
	return obj->nmaps;
}

const struct visor_obj_map_def *visor_obj_map_def_at(const struct visor_obj *obj, size_t i)
{
	return i < obj->nmaps ? &obj->maps[i] : NULL;
}

int visor_obj_find_map(const struct visor_obj *obj, const char *name)
{
	for (size_t i = 0; i < obj->nmaps; i++)
		if (strcmp(obj->maps[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

const struct visor_obj_extern *visor_obj_externs(const struct visor_obj *obj, size_t *count)
{
	if (count)
		*count = obj->nexterns;
	return obj->externs;
}

/* ---- Source lines ------------------------------------------------------- */

static const struct visor_obj_subprog *subprog_of(const struct visor_obj_prog *prog, size_t idx)
{
	size_t lo = 0, hi = prog->nsubprogs;
	while (lo < hi) { /* first subprogram starting after idx */
		size_t mid = lo + (hi - lo) / 2;
		if (prog->subprogs[mid].start <= idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &prog->subprogs[lo - 1] : NULL;
}

int visor_obj_prog_line(const struct visor_obj_prog *prog, size_t insn_idx, const char **file,
			unsigned *line, const char **text)
{
	if (insn_idx >= prog->insn_count)
		return -ERANGE;
	/* the last record at or before insn_idx; records are in stream order */
	size_t lo = 0, hi = prog->nlines;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prog->lines[mid].insn_idx <= insn_idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct visor_obj_subprog *sp = subprog_of(prog, insn_idx);
	if (lo == 0 || !sp || prog->lines[lo - 1].insn_idx < sp->start)
		return -ENOENT;
	const struct obj_line *l = &prog->lines[lo - 1];
	if (file)
		*file = l->file;
	if (line)
		*line = l->line;
	if (text)
		*text = l->text;
	return 0;
}

int visor_obj_prog_line_cb(void *prog, size_t insn_idx, const char **file, unsigned *line,
			   const char **text)
{
	return visor_obj_prog_line(prog, insn_idx, file, line, text);
}

/* ---- What the VM cannot run --------------------------------------------- */

static const char *const core_kind_names[] = {
	"field byte offset", "field byte size", "field exists", "field signed",
	"field left shift", "field right shift", "local type id", "target type id",
	"type exists", "type size", "enum value exists", "enum value", "type matches",
};
#define CORE_TYPE_ID_LOCAL 6

/* UAPI types whose layout is fixed by the kernel ABI: relocating against
 * the kernel would give what the compiler already wrote. */
static const char *const uapi_types[] = {
	"__sk_buff", "xdp_md", "bpf_sock", "bpf_sock_addr", "bpf_sock_ops", "sk_msg_md",
	"sk_reuseport_md", "bpf_sk_lookup", "bpf_sysctl", "bpf_sockopt",
	"bpf_raw_tracepoint_args", "bpf_perf_event_data", "bpf_spin_lock", "bpf_timer",
};

static const char *core_type_name(const struct btf *btf, uint32_t id, const char **kind)
{
	const struct btf_type *t = btf ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; t && i < 32 && (btf_is_mod(t) || btf_is_typedef(t)); i++)
		t = btf__type_by_id(btf, t->type);
	*kind = !t ? "" : btf_is_struct(t) ? "struct " : btf_is_union(t) ? "union " :
		btf_is_any_enum(t) ? "enum " : "";
	const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;
	return n && *n ? n : "(anon)";
}

static bool core_ok(const struct btf *btf, const struct visor_obj_core_relo *c)
{
	if (c->kind == CORE_TYPE_ID_LOCAL)
		return true;
	const char *k, *n = core_type_name(btf, c->type_id, &k);
	for (size_t i = 0; i < sizeof(uapi_types) / sizeof(uapi_types[0]); i++)
		if (strcmp(n, uapi_types[i]) == 0)
			return true;
	return false;
}

static int refuse(const struct visor_obj_prog *prog, char *msg, size_t len, int64_t insn,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(const struct visor_obj_prog *prog, char *msg, size_t len, int64_t insn,
		  const char *fmt, ...)
{
	char what[160], where[200] = "";
	const char *file, *text;
	unsigned line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (insn >= 0 && visor_obj_prog_line(prog, (size_t)insn, &file, &line, &text) == 0) {
		const char *b = strrchr(file, '/');
		while (*text == ' ' || *text == '\t')
			text++;
		snprintf(where, sizeof(where), " at %s:%u: `%.80s`", b ? b + 1 : file, line, text);
	} else if (insn >= 0) {
		snprintf(where, sizeof(where), " at insn %lld", (long long)insn);
	}
	if (msg && len) {
		snprintf(msg, len, "prog '%s': %s%s is not supported by the visor VM", prog->name,
			 what, where);
		for (char *c = msg; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
	}
	return -EOPNOTSUPP;
}

int visor_obj_prog_unsupported(const struct visor_obj_prog *prog, char *msg, size_t len)
{
	const struct visor_obj *obj = prog->obj;

	if (msg && len)
		msg[0] = 0;
	if (!prog->known_sec)
		return refuse(prog, msg, len, -1, "section '%s' (no known program type)",
			      prog->sec_name);
	for (size_t i = 0; i < prog->nrelocs; i++) {
		const struct visor_obj_reloc *r = &prog->relocs[i];
		if (r->kind == VISOR_OBJ_RELO_KFUNC)
			return refuse(prog, msg, len, r->insn_idx, "kfunc call to '%s'", r->sym);
		if (r->kind == VISOR_OBJ_RELO_EXTERN) {
			uint32_t k = obj->externs[r->extern_idx].kind;
			return refuse(prog, msg, len, r->insn_idx, "extern %s '%s'",
				      k == VISOR_OBJ_EXTERN_KCONFIG ? "__kconfig variable" :
				      k == VISOR_OBJ_EXTERN_KSYM ? "__ksym variable" : "symbol",
				      r->sym);
		}
	}
	for (size_t i = 0; i < prog->ncores; i++) {
		const struct visor_obj_core_relo *c = &prog->cores[i];
		if (core_ok(obj->btf, c))
			continue;
		const char *k, *n = core_type_name(obj->btf, c->type_id, &k);
		return refuse(prog, msg, len, c->insn_idx,
			      "CO-RE relocation (%s of %s%s, access %s) against kernel types",
			      c->kind < sizeof(core_kind_names) / sizeof(core_kind_names[0]) ?
				      core_kind_names[c->kind] : "unknown kind",
			      k, n, c->access ? c->access : "?");
	}
	return 0;
}
