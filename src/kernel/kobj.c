/* Objects loaded into the kernel through libbpf: open, load (with the
 * verifier's refusal and privilege problems said in one line), the programs
 * and maps inside, and the links attach.c records in the object. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel_internal.h"
#include "kobj.h"


/* ---- libbpf's messages ---------------------------------------------------
 * libbpf prints its warnings (and the verifier log of a refused program) to
 * stderr; while visor loads, they are kept here instead so the error can
 * quote the line that matters. */

static __thread char captured[16384];
static __thread size_t captured_len;

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	size_t room = sizeof(captured) - captured_len;
	if (room <= 1) {
		/* Keep the tail: the verifier's reason is at the end. */
		size_t keep = sizeof(captured) / 2;
		memmove(captured, captured + sizeof(captured) - keep, keep);
		captured_len = keep;
		room = sizeof(captured) - captured_len;
	}
	int n = vsnprintf(captured + captured_len, room, fmt, ap);
	if (n > 0)
		captured_len += (size_t)n < room ? (size_t)n : room - 1;
	return 0;
}

static libbpf_print_fn_t capture_begin(void)
{
	captured_len = 0;
	captured[0] = 0;
	return libbpf_set_print(capture);
}

static void capture_end(libbpf_print_fn_t old)
{
	libbpf_set_print(old);
}

/* The verifier's reason: the last line of the load log that is not the
 * statistics ("processed N insns ...") or libbpf's frame; and, when the
 * object has line info, the last source line the log showed before it
 * ("; (*v)++; @ prog.c:5" -> where "prog.c:5", src "(*v)++;"). */
static void verifier_reason(const char *log, char *out, size_t len, char *where,
			    size_t where_len, char *src, size_t src_len)
{
	const char *begin = strstr(log, "-- BEGIN PROG LOAD LOG --");
	const char *end = begin ? strstr(begin, "-- END PROG LOAD LOG --") : NULL;
	out[0] = where[0] = src[0] = 0;
	if (!begin || !end)
		return;
	begin = strchr(begin, '\n');
	if (!begin)
		return;
	const char *line = begin + 1;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		const char *at = n > 2 && !strncmp(line, "; ", 2) ? memmem(line, n, " @ ", 3) : NULL;
		if (at) {
			snprintf(src, src_len, "%.*s", (int)(at - line - 2), line + 2);
			snprintf(where, where_len, "%.*s", (int)(line + n - at - 3), at + 3);
		} else if (n && strncmp(line, "processed ", 10) &&
			   strncmp(line, "verification time", 17)) {
			snprintf(out, len, "%.*s", (int)n, line);
		}
		line += n + 1;
		if (!nl)
			break;
	}
}

/* What to do about the verifier's most common refusals, in a sentence. */
static const char *verifier_hint(const char *reason)
{
	if (strstr(reason, "_or_null"))
		return "a map lookup's result may be NULL: check it (if (!p) return 0;) "
		       "before using it";
	if (strstr(reason, "invalid mem access 'scalar'"))
		return "memory behind a plain pointer (kernel memory) is read with "
		       "bpf_probe_read_kernel()";
	if (strstr(reason, "invalid access to packet"))
		return "compare data + offset + size with data_end before reading the packet";
	return NULL;
}

/* The last line libbpf printed (without its "libbpf: " prefix). */
static void last_libbpf_line(char *out, size_t len)
{
	out[0] = 0;
	size_t e = captured_len;
	while (e && (captured[e - 1] == '\n' || captured[e - 1] == ' '))
		e--;
	size_t b = e;
	while (b && captured[b - 1] != '\n')
		b--;
	const char *p = captured + b;
	size_t n = e - b;
	if (n > 8 && !strncmp(p, "libbpf: ", 8)) {
		p += 8;
		n -= 8;
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = 0;
}

/* ---- Privileges ------------------------------------------------------------ */

static bool has_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif

long kernel_sysctl_long(const char *path, long dflt)
{
	long v = dflt;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

const char *kernel_privilege_hint(int err, const char *what, char *buf, size_t len)
{
	int e = err < 0 ? -err : err;
	bool admin = has_cap(CAP_SYS_ADMIN);
	bool perf = strstr(what, "perf") != NULL;
	if (perf) {
		long paranoid = kernel_sysctl_long("/proc/sys/kernel/perf_event_paranoid", 2);
		snprintf(buf, len,
			 "%s: %s: needs root or CAP_PERFMON (kernel.perf_event_paranoid = %ld)", what,
			 strerror(e), paranoid);
		return buf;
	}
	if (admin || has_cap(CAP_BPF)) {
		/* Privileged enough: before memcg accounting (5.11), locked
		 * memory was the limit that said no. */
		struct rlimit rl;
		if (e == EPERM && !getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur != RLIM_INFINITY) {
			snprintf(buf, len,
				 "%s: %s: RLIMIT_MEMLOCK is %llu KiB, too low for bpf maps on this "
				 "kernel (raise it: ulimit -l unlimited)",
				 what, strerror(e), (unsigned long long)(rl.rlim_cur / 1024));
			return buf;
		}
		snprintf(buf, len, "%s: %s: refused although running with CAP_BPF/CAP_SYS_ADMIN "
			 "(lockdown or an LSM policy?)", what, strerror(e));
		return buf;
	}
	snprintf(buf, len,
		 "%s: %s: loading programs needs root or CAP_BPF + CAP_PERFMON (+ CAP_NET_ADMIN "
		 "for XDP/tc); running as uid %u without them",
		 what, strerror(e), (unsigned)geteuid());
	return buf;
}

/* ---- Maps as visor_kernel_map ---------------------------------------------- */


/* ---- Loading ----------------------------------------------------------------- */

static bool section_is(const char *sec, const char *prefix)
{
	size_t n = strlen(prefix);
	return sec && !strncmp(sec, prefix, n) && (sec[n] == 0 || sec[n] == '/' || sec[n] == '.');
}

/* The failed load, in one line. */
static int load_error(struct visor_kernel_obj *o, int rc, char *err, size_t err_len)
{
	/* Which program failed: libbpf says "prog 'NAME': BPF program load failed". */
	char prog[64] = "";
	const char *p = strstr(captured, "prog '");
	for (const char *q = p; q; q = strstr(q + 1, "prog '"))
		if (strstr(q, "': BPF program load failed") == strchr(q + 6, '\''))
			p = q;
	if (p) {
		p += 6;
		const char *e = strchr(p, '\'');
		size_t n = e ? (size_t)(e - p) : 0;
		if (n >= sizeof(prog))
			n = sizeof(prog) - 1;
		memcpy(prog, p, n);
		prog[n] = 0;
	}
	struct bpf_program *bp = prog[0] ? bpf_object__find_program_by_name(o->bpf, prog) : NULL;
	const char *sec = bp ? bpf_program__section_name(bp) : NULL;
	char line[200];
	bool privileged = has_cap(CAP_SYS_ADMIN) || has_cap(CAP_BPF);

	if ((rc == -EPERM || rc == -EACCES) && !privileged)
		return visor_errf(err, err_len, -EPERM, "%s",
				  kernel_privilege_hint(rc, o->path, line, sizeof(line)));
	if (rc == -EPERM && (section_is(sec, "fentry") || section_is(sec, "fexit") ||
			     section_is(sec, "fmod_ret") || section_is(sec, "lsm")))
		return visor_errf(err, err_len, -EPERM,
				  "%s: prog '%s' (%s): this kernel refuses fentry/fexit/lsm "
				  "programs (EPERM: no BPF trampoline here); use a tracepoint, "
				  "raw_tp or tp_btf program instead",
				  o->path, prog, sec);
	char reason[200], where[160], src[120];
	verifier_reason(captured, reason, sizeof(reason), where, sizeof(where), src, sizeof(src));
	if (reason[0]) {
		const char *hint = verifier_hint(reason);
		return visor_errf(err, err_len, -EACCES,
				  "%s: prog '%s' refused by the kernel verifier: %s%s%s%s%s%s",
				  where[0] ? where : o->path, prog[0] ? prog : "?", reason,
				  src[0] ? " (at `" : "", src, src[0] ? "`)" : "", hint ? ": " : "",
				  hint ? hint : "");
	}
	if (rc == -EPERM)
		return visor_errf(err, err_len, -EPERM, "%s",
				  kernel_privilege_hint(rc, o->path, line, sizeof(line)));
	last_libbpf_line(line, sizeof(line));
	return visor_errf(err, err_len, rc, "%s: load failed: %s%s%s", o->path,
			  kernel_strerror(-rc), line[0] ? ": " : "", line);
}

int visor_kernel_obj_load(const char *path, const struct visor_kernel_obj_opts *opts,
			  struct visor_kernel_obj **objp, char *err, size_t err_len)
{
	*objp = NULL;
	struct visor_kernel_obj_opts op = {.log_level = 1};
	if (opts) {
		size_t sz = opts->sz && opts->sz < sizeof(op) ? opts->sz : sizeof(op);
		memcpy(&op, opts, sz);
	}
	struct stat st;
	if (stat(path, &st))
		return visor_errf(err, err_len, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return visor_errf(err, err_len, -EINVAL, "%s: not a regular file", path);

	struct visor_kernel_obj *o = calloc(1, sizeof(*o));
	if (!o)
		return visor_errf(err, err_len, -ENOMEM, "%s: out of memory", path);
	snprintf(o->path, sizeof(o->path), "%s", path);

	libbpf_print_fn_t old = capture_begin();
	int rc = 0;
	o->bpf = bpf_object__open_file(path, NULL);
	if (!o->bpf) {
		rc = -errno;
		char line[200];
		last_libbpf_line(line, sizeof(line));
		rc = visor_errf(err, err_len, rc == -ENOENT ? -ENOENT : -EINVAL,
				"%s: not an eBPF object libbpf can open: %s", path,
				line[0] ? line : kernel_strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < op.nprogs; i++)
		if (!bpf_object__find_program_by_name(o->bpf, op.progs[i])) {
			rc = visor_errf(err, err_len, -ENOENT, "%s: no program named '%s'", path,
					op.progs[i]);
			goto fail;
		}
	struct bpf_program *p;
	bpf_object__for_each_program(p, o->bpf) {
		uint32_t type = 0;
		if (op.progs) {
			bool want = false;
			for (size_t i = 0; i < op.nprogs; i++)
				if (!strcmp(op.progs[i], bpf_program__name(p))) {
					want = true;
					if (op.prog_types && op.prog_types[i])
						type = op.prog_types[i];
				}
			bpf_program__set_autoload(p, want);
		}
		/* Level 1 is what libbpf asks for itself after a failure. */
		if (op.log_level > 1)
			bpf_program__set_log_level(p, op.log_level);
		kernel_prepare_kprobe_fallback(p);
		if (type)
			bpf_program__set_type(p, (enum bpf_prog_type)type);
	}
	struct bpf_map *sm;
	bpf_object__for_each_map(sm, o->bpf) {
		if (!op.share_maps)
			break;
		struct bpf_map *theirs =
			bpf_object__find_map_by_name(op.share_maps->bpf, bpf_map__name(sm));
		int fd = theirs ? bpf_map__fd(theirs) : -1;
		if (fd >= 0 && (rc = bpf_map__reuse_fd(sm, fd))) {
			rc = visor_errf(err, err_len, rc, "%s: map '%s': cannot share it: %s", path,
					bpf_map__name(sm), kernel_strerror(-rc));
			goto fail;
		}
	}
	rc = bpf_object__load(o->bpf);
	if (rc) {
		rc = load_error(o, rc, err, err_len);
		goto fail;
	}
	struct bpf_map *m;
	bpf_object__for_each_map(m, o->bpf)
		o->nmaps++;
	o->maps = calloc(o->nmaps ? o->nmaps : 1, sizeof(*o->maps));
	if (!o->maps) {
		rc = visor_errf(err, err_len, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	capture_end(old);
	*objp = o;
	return 0;
fail:
	capture_end(old);
	visor_kernel_obj_close(o);
	return rc;
}

void visor_kernel_obj_detach_all(struct visor_kernel_obj *obj)
{
	while (obj && obj->links)
		visor_kernel_link_destroy(obj->links);
}

struct visor_kernel_link *visor_kernel_obj_link_at(const struct visor_kernel_obj *obj, size_t i)
{
	struct visor_kernel_link *l = obj ? obj->links : NULL;
	while (l && i--)
		l = l->next;
	return l;
}

int visor_kernel_link_fd(const struct visor_kernel_link *link)
{
	return link ? link->fd : -1;
}

void visor_kernel_obj_close(struct visor_kernel_obj *obj)
{
	if (!obj)
		return;
	visor_kernel_obj_detach_all(obj);
	for (size_t i = 0; obj->maps && i < obj->nmaps; i++)
		visor_kernel_map_close(obj->maps[i]);
	free(obj->maps);
	bpf_object__close(obj->bpf);
	free(obj);
}

/* ---- Programs and maps ----------------------------------------------------- */

static struct bpf_program *prog_at(const struct visor_kernel_obj *obj, size_t i)
{
	struct bpf_program *p;
	size_t k = 0;
	bpf_object__for_each_program(p, obj->bpf)
		if (k++ == i)
			return p;
	return NULL;
}

static struct bpf_map *map_at(const struct visor_kernel_obj *obj, size_t i, size_t *index)
{
	struct bpf_map *m;
	size_t k = 0;
	bpf_object__for_each_map(m, obj->bpf) {
		if (k == i) {
			if (index)
				*index = k;
			return m;
		}
		k++;
	}
	return NULL;
}

size_t visor_kernel_obj_prog_count(const struct visor_kernel_obj *obj)
{
	size_t n = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj->bpf)
		n++;
	return n;
}

const char *visor_kernel_obj_prog_name(const struct visor_kernel_obj *obj, size_t i)
{
	struct bpf_program *p = prog_at(obj, i);
	return p ? bpf_program__name(p) : NULL;
}

const char *visor_kernel_obj_prog_section(const struct visor_kernel_obj *obj, size_t i)
{
	struct bpf_program *p = prog_at(obj, i);
	return p ? bpf_program__section_name(p) : NULL;
}

struct bpf_program *kernel_obj_prog(struct visor_kernel_obj *obj, const char *name)
{
	return name ? bpf_object__find_program_by_name(obj->bpf, name) : NULL;
}

int visor_kernel_obj_prog_fd(const struct visor_kernel_obj *obj, const char *name)
{
	struct bpf_program *p = name ? bpf_object__find_program_by_name(obj->bpf, name) : NULL;
	int fd = p ? bpf_program__fd(p) : -1;
	return fd >= 0 ? fd : -ENOENT;
}

size_t visor_kernel_obj_map_count(const struct visor_kernel_obj *obj)
{
	return obj->nmaps;
}

const char *visor_kernel_obj_map_name(const struct visor_kernel_obj *obj, size_t i)
{
	struct bpf_map *m = map_at(obj, i, NULL);
	return m ? bpf_map__name(m) : NULL;
}

struct visor_kernel_map *visor_kernel_obj_map(struct visor_kernel_obj *obj, const char *name)
{
	if (!obj || !name)
		return NULL;
	/* find_map_by_name also knows internal maps by ".bss", ".rodata". */
	struct bpf_map *want = bpf_object__find_map_by_name(obj->bpf, name);
	if (!want)
		return NULL;
	size_t i = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj->bpf) {
		if (m == want)
			break;
		i++;
	}
	if (i >= obj->nmaps)
		return NULL;
	if (obj->maps[i])
		return obj->maps[i];
	int fd = bpf_map__fd(want);
	if (fd < 0)
		return NULL;
	/* A duplicate, so the wrapper closes its own fd as pinned maps do. */
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return NULL;
	struct visor_kernel_map *vm;
	if (kernel_map_from_fd(dup_fd, name, &vm, NULL, 0))
		return NULL;
	obj->maps[i] = vm;
	return vm;
}

/* ---- Links -------------------------------------------------------------------- */

struct visor_kernel_link *kernel_link_new(struct visor_kernel_obj *obj)
{
	struct visor_kernel_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->obj = obj;
	l->fd = -1;
	l->next = obj->links;
	obj->links = l;
	return l;
}
