/* visor_compile: C in the BCC dialect (or plain libbpf C) to a BPF ELF
 * object, through the cache.
 *
 *   key = hash(source, path, flags, kernel BTF, visor's BPF headers + version)
 *   hit  -> the cached object (no libclang, no clang: a few milliseconds)
 *   miss -> vmlinux.h + PCH (once per kernel), kernel include stubs,
 *           tracepoint structs, the rewriter in a child process (libclang is
 *           mapped there only; a crash there is an error here), clang-19 on
 *           the rewritten text (same line numbers, #line naming the user's
 *           file), the object renamed into the cache. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elf.h>
#include <visor/frontend.h>
#include <visor/kernel.h>

#include "frontend_internal.h"
#include "pipeline.h"

/* Bump when the pipeline's output for the same inputs changes. */
#define FE_PIPELINE_VERSION "visor-frontend-1"

pthread_mutex_t fe_lookup_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
unsigned long fe_rewriter_children;
int (*fe_rewrite_fn)(const struct fe_rewrite_opts *, struct fe_rewrite_result *, char *,
		     size_t) = fe_rewrite;

/* ---- Where visor's BPF-side headers are ------------------------------------ */

static bool is_dir(const char *p)
{
	struct stat st;
	return p && !stat(p, &st) && S_ISDIR(st.st_mode);
}

bool fe_self_binary(char bin[PATH_MAX])
{
	Dl_info info;
	bin[0] = '\0';
	if (dladdr((void *)fe_self_binary, &info) && info.dli_fname &&
	    strchr(info.dli_fname, '/') && !realpath(info.dli_fname, bin))
		bin[0] = '\0';
	if (!bin[0]) {
		ssize_t n = readlink("/proc/self/exe", bin, PATH_MAX - 1);
		bin[n > 0 ? n : 0] = '\0';
	}
	return bin[0] != '\0';
}

static const char *visor_frontend_include_dir_unlocked(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("VISOR_BPF_INCLUDE");
	if (env && *env)
		return env;
	if (dir[0])
		return dir;
	/* Relocatable installs: PREFIX/lib/libvisor.so or PREFIX/bin/visor ->
	 * PREFIX/share/visor/include. */
	char bin[PATH_MAX];
	if (fe_self_binary(bin)) {
		char *d = dirname(bin); /* PREFIX/lib or PREFIX/bin */
		char cand[PATH_MAX + 32];
		snprintf(cand, sizeof(cand), "%s/../share/visor/include", d);
		char real[PATH_MAX];
		if (is_dir(cand) && realpath(cand, real)) {
			snprintf(dir, sizeof(dir), "%s", real);
			return dir;
		}
	}
#ifdef VISOR_BPF_INCLUDE_INSTALLED
	if (is_dir(VISOR_BPF_INCLUDE_INSTALLED)) {
		snprintf(dir, sizeof(dir), "%s", VISOR_BPF_INCLUDE_INSTALLED);
		return dir;
	}
#endif
#ifdef VISOR_BPF_INCLUDE_SOURCE
	snprintf(dir, sizeof(dir), "%s", VISOR_BPF_INCLUDE_SOURCE);
#endif
	return dir;
}

const char *visor_frontend_include_dir(void)
{
	return FE_LOCKED(visor_frontend_include_dir_unlocked());
}

/* ---- The version of visor's headers ----------------------------------------- */

static char **walk_paths;
static size_t walk_n, walk_cap;

static int walk_collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag != FTW_F)
		return 0;
	if (walk_n == walk_cap) {
		size_t nc = walk_cap ? walk_cap * 2 : 64;
		char **np = realloc(walk_paths, nc * sizeof(*np));
		if (!np)
			return -1;
		walk_paths = np;
		walk_cap = nc;
	}
	walk_paths[walk_n] = strdup(path);
	return walk_paths[walk_n++] ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A hash of every file under the include directory (name and content), the
 * pipeline version and the binary: a new prelude or rewriter makes new
 * objects. */
static const char *prelude_version_unlocked(const char *incdir)
{
	static char hex[FE_HASH_HEX];
	static char for_dir[PATH_MAX];
	if (hex[0] && !strcmp(for_dir, incdir))
		return hex;
	struct fe_hash h;
	fe_hash_init(&h);
	fe_hash_str(&h, FE_PIPELINE_VERSION);
	walk_n = 0;
	nftw(incdir, walk_collect, 16, FTW_PHYS);
	qsort(walk_paths, walk_n, sizeof(*walk_paths), cmp_str);
	for (size_t i = 0; i < walk_n; i++) {
		size_t len;
		char *data = fe_read_file(walk_paths[i], &len);
		fe_hash_str(&h, walk_paths[i] + strlen(incdir));
		if (data)
			fe_hash_update(&h, data, len);
		free(data);
		free(walk_paths[i]);
	}
	free(walk_paths);
	walk_paths = NULL;
	walk_n = walk_cap = 0;
	/* The rewriter's code: the identity of the binary holding it (a
	 * rebuilt or upgraded visor makes new objects, never reuses what an
	 * older rewriter wrote). */
	char bin[PATH_MAX];
	if (fe_self_binary(bin))
		fe_hash_file(&h, bin);
	fe_hash_final(&h, hex);
	snprintf(for_dir, sizeof(for_dir), "%s", incdir);
	return hex;
}

static const char *prelude_version(const char *incdir)
{
	return FE_LOCKED(prelude_version_unlocked(incdir));
}

void fe_pipeline_identity(char hex[FE_HASH_HEX])
{
	const char *incdir = visor_frontend_include_dir();
	const char *cl = fe_clang_path();
	char real[PATH_MAX] = "";
	struct fe_hash h;
	fe_hash_init(&h);
	fe_hash_str(&h, prelude_version(incdir));
	fe_hash_str(&h, incdir);
	fe_hash_file(&h, cl && realpath(cl, real) ? real : "");
	const char *mod = fe_clang_module_path();
	if (mod)
		fe_hash_file(&h, mod);
	fe_hash_final(&h, hex);
}

/* ---- Argument lists ---------------------------------------------------------- */

struct args {
	char **v;
	size_t n, cap;
	bool oom;
};

static void arg_add(struct args *a, const char *s)
{
	if (a->oom)
		return;
	if (a->n + 1 >= a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 32;
		char **nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv) {
			a->oom = true;
			return;
		}
		a->v = nv;
		a->cap = nc;
	}
	if (!(a->v[a->n] = strdup(s))) {
		a->oom = true;
		return;
	}
	a->v[++a->n] = NULL;
}

static void args_free(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ---- Kernel include stubs ------------------------------------------------------ */

static const char *const stub_roots[] = {"linux/", "uapi/", "net/", "asm/", "asm-generic/"};

/* Every `#include <linux|uapi|net|asm|asm-generic/...>` of the source that
 * visor's include directory does not ship gets an empty file in stubdir:
 * the types come from vmlinux.h, and BCC sources include whatever their
 * kernel headers were. */
static int make_stubs(const char *text, const char *incdir, const char *stubdir, char *err,
		      size_t err_len)
{
	for (const char *line = text; line && *line;) {
		const char *p = line, *nl = strchr(line, '\n');
		line = nl ? nl + 1 : NULL;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != '#')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "include", 7))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != '<')
			continue;
		const char *end = p;
		while (*end && *end != '>' && *end != '\n')
			end++;
		if (*end != '>' || end - p >= 256)
			continue;
		char name[256];
		memcpy(name, p, (size_t)(end - p));
		name[end - p] = '\0';
		bool kernel = false;
		for (size_t i = 0; i < sizeof(stub_roots) / sizeof(stub_roots[0]); i++)
			kernel |= !strncmp(name, stub_roots[i], strlen(stub_roots[i]));
		if (!kernel || strstr(name, "..") || strstr(name, "//"))
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", incdir, name);
		if (fe_file_exists(path))
			continue;
		snprintf(path, sizeof(path), "%s/%s", stubdir, name);
		if (fe_file_exists(path))
			continue;
		char parent[PATH_MAX + 300];
		snprintf(parent, sizeof(parent), "%s", path);
		int rc = fe_mkdirs(dirname(parent));
		if (rc)
			return visor_errf(err, err_len, rc, "%s: %s", parent, strerror(-rc));
		char body[400];
		int n = snprintf(body, sizeof(body),
				 "/* <%s>: an empty stub made by visor. Kernel types come from "
				 "vmlinux.h (the kernel's BTF). */\n",
				 name);
		if ((rc = fe_write_atomic(path, body, (size_t)n, err, err_len)))
			return rc;
	}
	return 0;
}

/* ---- The rewriter, in a child process ------------------------------------------ */

struct child_msg {
	int32_t rc, nerrors, nwarnings, pad;
	uint64_t text_len, diags_len, err_len;
};

static bool write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static void rewriter_child(int fd, const struct fe_rewrite_opts *ro)
{
	struct fe_rewrite_result res;
	char err[512] = "";
	memset(&res, 0, sizeof(res));
	int rc = fe_rewrite_fn(ro, &res, err, sizeof(err));
	struct child_msg m = {
		.rc = rc,
		.nerrors = res.nerrors,
		.nwarnings = res.nwarnings,
		.text_len = res.text ? res.len : 0,
		.diags_len = res.diags ? strlen(res.diags) : 0,
		.err_len = strlen(err),
	};
	bool ok = write_all(fd, &m, sizeof(m)) && write_all(fd, res.text ? res.text : "", m.text_len) &&
		  write_all(fd, res.diags ? res.diags : "", m.diags_len) &&
		  write_all(fd, err, m.err_len);
	_exit(ok ? 0 : 1);
}

static char *dup_bytes(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

int fe_rewrite_isolated(const struct fe_rewrite_opts *ro, int close_fd,
			struct fe_rewrite_result *res, struct fe_rewrite_usage *use, char *err,
			size_t err_len)
{
	memset(res, 0, sizeof(*res));
	if (use)
		memset(use, 0, sizeof(*use));
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return visor_errf(err, err_len, -errno, "pipe: %s", strerror(errno));
	double t0 = fe_now();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return visor_errf(err, err_len, -e, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* A caller killed mid-compile (Ctrl-C, SIGKILL) takes its
		 * rewriter with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(fds[0]);
		if (close_fd >= 0)
			close(close_fd);
		signal(SIGPIPE, SIG_DFL);
		rewriter_child(fds[1], ro);
	}
	__atomic_fetch_add(&fe_rewriter_children, 1, __ATOMIC_RELAXED);
	close(fds[1]);
	size_t len = 0;
	/* Everything the child sends until it closes the pipe. */
	char *buf = fe_read_fd(fds[0], &len);
	int read_errno = buf ? 0 : errno;
	close(fds[0]);
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	if (use) {
		use->seconds = fe_now() - t0;
		use->maxrss_kb = ru.ru_maxrss;
	}
	if (!buf && read_errno == ENOMEM)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	if (!buf)
		return visor_errf(err, err_len, -EIO, "reading the rewriter's answer: %s",
			      strerror(read_errno));
	if (WIFSIGNALED(status)) {
		free(buf);
		return visor_errf(err, err_len, -EIO, "the rewriter crashed (signal %d, %s)",
			      WTERMSIG(status), strsignal(WTERMSIG(status)));
	}
	struct child_msg m;
	if (len < sizeof(m) || (memcpy(&m, buf, sizeof(m)), 0) ||
	    sizeof(m) + m.text_len + m.diags_len + m.err_len != len) {
		free(buf);
		return visor_errf(err, err_len, -EIO, "the rewriter exited (status %d) without an answer",
			      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	const char *text = buf + sizeof(m), *diags = text + m.text_len,
		   *msg = diags + m.diags_len;
	res->nerrors = m.nerrors;
	res->nwarnings = m.nwarnings;
	res->diags = dup_bytes(diags, m.diags_len);
	if (m.rc == 0 && m.nerrors == 0) {
		res->text = dup_bytes(text, m.text_len);
		res->len = m.text_len;
	}
	if (m.rc && err_len)
		snprintf(err, err_len, "%.*s", (int)m.err_len, msg);
	free(buf);
	if (!res->diags || (m.rc == 0 && m.nerrors == 0 && !res->text)) {
		fe_rewrite_result_free(res);
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	}
	return m.rc;
}

struct rewrite_out {
	char *text;
	size_t len;
	struct fe_rewrite_usage use;
	bool stale_pch; /* libclang could not read the PCH: make it again */
};

/* libclang's complaints about the PCH itself (truncated, or made by
 * another clang): the cache's fault, never the user's. */
static bool pch_trouble(const char *text)
{
	static const char *const marks[] = {"PCH file", "precompiled header", "AST file"};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(text, marks[i]))
			return true;
	return false;
}

/* What the rewrite returned (rc, res; in a child of this process or of a
 * compile server) for the pipeline: diagnostics shown, the text taken
 * into out, or a stale PCH noted. Frees res. */
static int rewrite_apply(int rc, struct fe_rewrite_result *res, FILE *diag,
			 struct rewrite_out *out, char *err, size_t err_len)
{
	/* CXError_ASTReadError (4), or diagnostics about the PCH: it is
	 * corrupt; the caller makes it again and retries. */
	if ((rc == -EIO && strstr(err, "(error 4)")) || (res->diags && pch_trouble(res->diags))) {
		out->stale_pch = true;
		fe_rewrite_result_free(res);
		return visor_errf(err, err_len, -EIO, "the precompiled header is unreadable");
	}
	if (res->diags && res->diags[0] && diag) {
		size_t n = strlen(res->diags);
		fwrite(res->diags, 1, n, diag);
		if (res->diags[n - 1] != '\n')
			fputc('\n', diag);
	}
	if (rc == 0 && res->nerrors > 0)
		rc = -EINVAL;
	if (rc == -EINVAL) {
		int n = res->nerrors > 0 ? res->nerrors : 1;
		rc = visor_errf(err, err_len, -EINVAL, "%d error%s", n, n == 1 ? "" : "s");
	} else if (rc && !err[0]) {
		rc = visor_errf(err, err_len, rc, "the rewriter failed");
	} else if (rc == 0) {
		out->text = res->text;
		out->len = res->len;
		res->text = NULL;
	}
	fe_rewrite_result_free(res);
	return rc;
}

/* close_fd (>= 0): a descriptor the child must not keep open (clang's
 * stdin: clang sees its end only when every copy is closed). */
static int run_rewriter(const struct fe_rewrite_opts *ro, FILE *diag, int close_fd,
			struct rewrite_out *out, char *err, size_t err_len)
{
	struct fe_rewrite_result res;
	err[0] = '\0';
	int rc = fe_rewrite_isolated(ro, close_fd, &res, &out->use, err, err_len);
	return rewrite_apply(rc, &res, diag, out, err, err_len);
}

/* ---- Compiling -------------------------------------------------------------- */

static int count_errors(const char *text)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, "error:")); p += 6)
		n++;
	return n;
}

struct compile {
	const struct visor_compile_opts *o;
	FILE *diag;
	const char *path;     /* shown in diagnostics */
	char *text;
	size_t len;
	char cache[PATH_MAX];
	char obj[PATH_MAX + 64];
	char key[FE_HASH_HEX];
	char btf_sum[FE_HASH_HEX];
	bool kprobe_fallback;
	struct visor_compile_stats st;
};

/* Both phases' flags: base, PCH, include directories, prelude, tracepoint
 * structs, the user's. */
static int build_args(struct compile *c, const struct fe_btf_entry *e, struct args *a, char *err,
		      size_t err_len)
{
	const char *incdir = visor_frontend_include_dir();
	char stubdir[PATH_MAX + 16];
	snprintf(stubdir, sizeof(stubdir), "%s/stubs", c->cache);
	int rc = fe_mkdirs(stubdir);
	if (rc)
		return visor_errf(err, err_len, rc, "%s: %s", stubdir, strerror(-rc));
	if ((rc = make_stubs(c->text, incdir, stubdir, err, err_len)))
		return rc;

	arg_add(a, "clang");
	for (size_t i = 0; i < fe_base_ncflags; i++)
		arg_add(a, fe_base_cflags[i]);
	arg_add(a, "-include-pch");
	arg_add(a, e->pch);
	arg_add(a, "-I");
	arg_add(a, incdir);
	arg_add(a, "-I");
	arg_add(a, stubdir);
	arg_add(a, "-I");
	arg_add(a, e->dir);
	if (c->o->path) { /* "..." includes beside the user's file */
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", c->o->path);
		arg_add(a, "-iquote");
		arg_add(a, dirname(tmp));
	}
	if (!c->o->dialect_off) {
		arg_add(a, "-include");
		arg_add(a, "bcc/helpers.h");
	}

	struct fe_tracepoint_ref *refs = NULL;
	int nrefs = fe_tracepoints_scan(c->text, &refs);
	if (nrefs < 0)
		return visor_errf(err, err_len, nrefs, "out of memory");
	int nerr = 0;
	for (int i = 0; i < nrefs; i++) {
		char tpdir[PATH_MAX], hdr[PATH_MAX + 300], msg[600];
		snprintf(tpdir, sizeof(tpdir), "%s/tracepoints", e->dir);
		snprintf(hdr, sizeof(hdr), "%s/%s__%s.h", tpdir, refs[i].category, refs[i].event);
		rc = fe_mkdirs(tpdir);
		if (!rc && !fe_file_exists(hdr))
			rc = fe_tracepoint_header(NULL, c->o->btf_path, refs[i].category, refs[i].event,
						  hdr, msg, sizeof(msg));
		if (rc == -ENOENT) {
			fprintf(c->diag, "%s:%u:%u: error: %s\n", c->path, refs[i].line, refs[i].col,
				msg);
			nerr++;
		} else if (rc) {
			free(refs);
			return visor_errf(err, err_len, rc, "%s", msg);
		} else {
			arg_add(a, "-include");
			arg_add(a, hdr);
		}
	}
	free(refs);
	if (nerr)
		return visor_errf(err, err_len, -EINVAL, "%d error%s", nerr, nerr == 1 ? "" : "s");

	for (size_t i = 0; i < c->o->ncflags; i++)
		arg_add(a, c->o->cflags[i]);
	return a->oom ? visor_errf(err, err_len, -ENOMEM, "out of memory") : 0;
}

/* clang-19 on the rewritten text, read from its stdin, into a temporary
 * object renamed to c->obj. Started before the rewriter runs, so that
 * clang's start-up (loading LLVM, ~0.1 s) overlaps the rewrite. */
struct compiler {
	struct fe_clang_proc proc;
	char tmpobj[PATH_MAX + 128];
};

/* The flags after both phases' (build_args): what the compiler reads and
 * writes. Undone by drop_args(a, base). */
static size_t add_output_args(struct args *a, const char *obj)
{
	size_t base = a->n;
	arg_add(a, "-w");
	arg_add(a, "-fno-caret-diagnostics"); /* visor shows the user's line instead */
	arg_add(a, "-c");
	arg_add(a, "-x");
	arg_add(a, "c");
	arg_add(a, "-");
	arg_add(a, "-o");
	arg_add(a, obj);
	return base;
}

static void drop_args(struct args *a, size_t base)
{
	for (size_t i = base; i < a->n; i++)
		free(a->v[i]);
	a->n = base;
	if (a->v)
		a->v[base] = NULL;
}

static int start_compiler(struct compile *c, struct args *a, struct compiler *cc, char *err,
			  size_t err_len)
{
	fe_tmp_name(c->obj, cc->tmpobj, sizeof(cc->tmpobj));
	size_t base = add_output_args(a, cc->tmpobj);
	int rc = a->oom ? visor_errf(err, err_len, -ENOMEM, "out of memory") : 0;
	if (!rc)
		rc = fe_clang_start((const char *const *)a->v, a->n, true, &cc->proc, err, err_len);
	drop_args(a, base);
	return rc;
}

static void abort_compiler(struct compiler *cc)
{
	fe_clang_abort(&cc->proc);
	unlink(cc->tmpobj);
}

/* Line n (1-based) of text: its start and length, or NULL. */
static const char *nth_line(const char *text, size_t len, unsigned n, size_t *line_len)
{
	const char *p = text, *end = text + len;
	for (unsigned i = 1; i < n && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (p > end || (p == end && n > 1))
		return NULL;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
	return p;
}

/* A column of the rewritten line r as a column of the user's line u: the
 * rewriter only replaced a middle part, so columns in the common prefix
 * stay, columns in the common suffix keep their distance from the end,
 * and anything inside the edit points at its start. */
static unsigned map_column(const char *u, size_t ul, const char *r, size_t rl, unsigned col)
{
	size_t pre = 0, suf = 0, min = ul < rl ? ul : rl;
	while (pre < min && u[pre] == r[pre])
		pre++;
	while (suf < min - pre && u[ul - 1 - suf] == r[rl - 1 - suf])
		suf++;
	size_t c = col ? col - 1 : 0;
	if (c < pre || (ul == rl && pre == ul))
		return col;
	if (c >= rl - suf && c <= rl)
		return (unsigned)(ul - (rl - c)) + 1;
	return (unsigned)pre + 1;
}

/* clang's diagnostics on the rewritten text, as the user's: each
 * "path:L:C:" of the user's file gets the column of the user's line and
 * that line with a caret under it (clang ran with -fno-caret-diagnostics);
 * other lines (notes in visor's headers, the count) pass unchanged. */
static void show_compiler_diags(struct compile *c, const char *rewritten, size_t rlen,
				const char *diags)
{
	size_t plen = strlen(c->path);
	for (const char *line = diags; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		unsigned l = 0, col = 0;
		int used = 0;
		if (n > plen && !strncmp(line, c->path, plen) &&
		    sscanf(line + plen, ":%u:%u:%n", &l, &col, &used) == 2 && used) {
			size_t ul = 0, rl = 0;
			const char *u = nth_line(c->text, c->len, l, &ul);
			const char *r = nth_line(rewritten, rlen, l, &rl);
			unsigned ucol = u && r ? map_column(u, ul, r, rl, col) : col;
			fprintf(c->diag, "%s:%u:%u:%.*s\n", c->path, l, ucol,
				(int)(n - plen - (size_t)used), line + plen + used);
			if (u) {
				fprintf(c->diag, "%5u | %.*s\n      | ", l, (int)ul, u);
				for (unsigned i = 0; i + 1 < ucol && i < ul; i++)
					fputc(u[i] == '\t' ? '\t' : ' ', c->diag);
				fputs("^\n", c->diag);
			}
		} else {
			fprintf(c->diag, "%.*s\n", (int)n, line);
		}
		line += n + (nl ? 1 : 0);
	}
}

char *fe_compiler_input(const char *path, const char *text, size_t len, size_t *out_len)
{
	size_t cap = strlen(path) * 2 + len + 32;
	char *input = malloc(cap);
	if (!input)
		return NULL;
	size_t n = (size_t)snprintf(input, cap, "#line 1 \"");
	for (const char *p = path; *p; p++) {
		if (*p == '"' || *p == '\\')
			input[n++] = '\\';
		input[n++] = *p;
	}
	n += (size_t)snprintf(input + n, cap - n, "\"\n");
	memcpy(input + n, text, len);
	n += len;
	input[n] = '\0';
	*out_len = n;
	return input;
}

/* What clang did (r, in a process or a compile server) for the pipeline:
 * its diagnostics at the user's lines, the object checked and moved into
 * the cache, or a stale PCH noted. Frees r. */
static int compiler_apply(struct compile *c, const char *tmpobj, struct fe_clang_result *r,
			  const char *text, size_t len, char *err, size_t err_len, bool *stale_pch)
{
	c->st.compile_s += r->after_input_s;
	c->st.compiler_maxrss_kb = r->maxrss_kb;
	int rc;
	if (r->status) {
		unlink(tmpobj);
		if (pch_trouble(r->stderr_text)) {
			*stale_pch = true;
			fe_clang_result_free(r);
			return visor_errf(err, err_len, -EIO, "the precompiled header is stale");
		}
		show_compiler_diags(c, text, len, r->stderr_text);
		int ne = count_errors(r->stderr_text);
		if (ne == 0)
			rc = visor_errf(err, err_len, -EIO, "clang-19 failed (status %d)", r->status);
		else
			rc = visor_errf(err, err_len, -EINVAL, "%d error%s", ne, ne == 1 ? "" : "s");
		fe_clang_result_free(r);
		return rc;
	}
	fe_clang_result_free(r);
	/* A compiler that "succeeds" without writing a whole object (a wrapper
	 * or a wrong VISOR_CLANG) must not put anything in the cache. */
	char why[PATH_MAX + 128];
	if (fe_object_check(tmpobj, why, sizeof(why))) {
		unlink(tmpobj);
		return visor_errf(err, err_len, -EIO, "%s exited 0 but wrote no usable object (%s)",
			      fe_clang_path(), why);
	}
	if (rename(tmpobj, c->obj)) {
		rc = -errno;
		unlink(tmpobj);
		return visor_errf(err, err_len, rc, "%s: %s", c->obj, strerror(-rc));
	}
	return 0;
}

static int finish_compiler(struct compile *c, struct compiler *cc, const char *text, size_t len,
			   char *err, size_t err_len, bool *stale_pch)
{
	size_t n = 0;
	char *input = fe_compiler_input(c->path, text, len, &n);
	if (!input) {
		abort_compiler(cc);
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	}
	struct fe_clang_result r = {0};
	int rc = fe_clang_finish(&cc->proc, input, n, &r, err, err_len);
	free(input);
	if (rc) {
		unlink(cc->tmpobj);
		return rc;
	}
	return compiler_apply(c, cc->tmpobj, &r, text, len, err, err_len, stale_pch);
}

int fe_warm_up_args(char ***argv, size_t *argc, char *err, size_t err_len)
{
	static const char text[] = "int visor_warm_up;\n";
	struct visor_compile_opts o = {.sz = sizeof(o), .text = text};
	struct compile *c = calloc(1, sizeof(*c));
	struct fe_btf_entry *e = malloc(sizeof(*e));
	struct args a = {0};
	int rc = c && e ? 0 : visor_errf(err, err_len, -ENOMEM, "out of memory");
	if (!rc) {
		c->o = &o;
		c->diag = stderr;
		c->path = "<warm-up>";
		c->text = (char *)text;
		c->len = sizeof(text) - 1;
		rc = fe_cache_dir(c->cache, sizeof(c->cache), err, err_len);
	}
	if (!rc)
		rc = fe_btf_prepare(NULL, true, NULL, e, err, err_len);
	if (!rc)
		rc = build_args(c, e, &a, err, err_len);
	free(c);
	free(e);
	if (rc) {
		args_free(&a);
		return rc;
	}
	*argv = a.v;
	*argc = a.n;
	return 0;
}

void fe_warm_up_args_free(char **argv, size_t argc)
{
	struct args a = {.v = argv, .n = argc};
	args_free(&a);
}

/* The PCH was refused (by libclang, which only says "error 4", or by
 * clang). Either it is damaged or out of date, and making it again helps,
 * or the user's flags contradict it ("-fno-builtin was disabled in PCH
 * file but is currently enabled"), and nothing but other flags will: clang
 * on an empty input with the same flags says which. Returns true (with
 * clang's sentence in err) for a conflict. */
static bool pch_flag_conflict(const struct args *a, char *err, size_t err_len)
{
	const char *args[a->n + 4];
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		args[n++] = a->v[i];
	args[n++] = "-fsyntax-only";
	args[n++] = "-x";
	args[n++] = "c";
	args[n++] = "/dev/null";
	struct fe_clang_result r;
	if (fe_clang_run(args, n, &r, NULL, 0))
		return false;
	const char *e = strstr(r.stderr_text, "error: ");
	bool conflict = e && (strstr(e, "in PCH file but is currently") ||
			      strstr(e, "in precompiled file but is currently"));
	if (conflict) {
		e += 7;
		const char *nl = strchr(e, '\n');
		visor_errf(err, err_len, -EINVAL,
		       "the compiler flags contradict visor's precompiled kernel header: %.*s",
		       (int)(nl ? nl - e : (ptrdiff_t)strlen(e)), e);
	}
	fe_clang_result_free(&r);
	return conflict;
}

/* The rewrite and the compile by a running compile server (compile_server.c).
 * Returns SERVER_DECLINED when it did not serve, whatever the reason (none
 * runs, another visor's, it died, the PCH needs making again): the caller
 * then compiles by itself, as if there were no server. */
#define SERVER_DECLINED 1
static int compile_by_server(struct compile *c, struct args *a, char *err, size_t err_len)
{
	const struct visor_compile_opts *o = c->o;
	if ((o->sz >= offsetof(struct visor_compile_opts, no_server) + sizeof(o->no_server) &&
	     o->no_server) ||
	    !visor_compile_server_wanted())
		return SERVER_DECLINED;
	/* What clang's own main does and the in-process module does not:
	 * response files and CCC_OVERRIDE_OPTIONS. */
	const char *ccc = getenv("CCC_OVERRIDE_OPTIONS");
	if (ccc && *ccc)
		return SERVER_DECLINED;
	for (size_t i = 0; i < o->ncflags; i++)
		if (o->cflags[i][0] == '@')
			return SERVER_DECLINED;
	char sock[PATH_MAX], tmpobj[PATH_MAX + 128];
	if (fe_server_sock_path(sock, sizeof(sock), NULL, 0) || !fe_file_exists(sock))
		return SERVER_DECLINED;
	fe_tmp_name(c->obj, tmpobj, sizeof(tmpobj));
	size_t base = add_output_args(a, tmpobj);
	struct fe_rewrite_opts ro = {
		.path = c->path,
		.text = c->text,
		.len = c->len,
		.clang_args = (const char *const *)a->v + 1,
		.nargs = base - 1,
		.kprobe_fallback = c->kprobe_fallback,
	};
	struct fe_server_job job = {
		.ro = o->dialect_off ? NULL : &ro,
		.path = c->path,
		.text = c->text,
		.len = c->len,
		.cc_args = (const char *const *)a->v,
		.cc_nargs = a->n,
		.rewrite_nargs = base - 1,
	};
	struct fe_server_answer ans;
	char serr[256];
	int rc = a->oom ? -ENOMEM : fe_server_compile(sock, &job, &ans, serr, sizeof(serr));
	drop_args(a, base);
	if (rc == -EINTR) { /* Ctrl-C: the user's, not the server's failure */
		unlink(tmpobj);
		return visor_errf(err, err_len, -EINTR, "interrupted");
	}
	if (rc) {
		unlink(tmpobj);
		return SERVER_DECLINED;
	}
	/* The rewriter's messages are held until the server's answer is
	 * final: when it declines after all, the compile by ourselves shows
	 * them (once). */
	char *held = NULL;
	size_t held_len = 0;
	FILE *hold = open_memstream(&held, &held_len);
	const char *text = c->text;
	size_t len = c->len;
	struct rewrite_out rw = {0};
	if (!hold) {
		rc = SERVER_DECLINED;
	} else if (job.ro) {
		snprintf(err, err_len, "%s", ans.rewrite_err ? ans.rewrite_err : "");
		rc = rewrite_apply(ans.rewrite_rc, &ans.rw, hold, &rw, err, err_len);
		c->st.rewrite_s += ans.rewrite_s;
		c->st.rewriter_maxrss_kb = ans.cc.maxrss_kb;
		text = rw.text;
		len = rw.len;
	}
	/* Whatever the server did not finish (no compile, no whole object
	 * from a "successful" clang) or could not use (a stale PCH, made again
	 * by ourselves) is compiled by ourselves. */
	if (rw.stale_pch ||
	    (rc == 0 && (!ans.compiled || (ans.cc.status == 0 && fe_object_check(tmpobj, NULL, 0)) ||
			 (ans.cc.status && ans.cc.stderr_text && pch_trouble(ans.cc.stderr_text)))))
		rc = SERVER_DECLINED;
	if (hold)
		fclose(hold);
	if (rc != SERVER_DECLINED && held_len)
		fwrite(held, 1, held_len, c->diag); /* the rewriter's messages, once */
	if (rc == 0) {
		bool stale = false; /* ruled out above */
		rc = compiler_apply(c, tmpobj, &ans.cc, text, len, err, err_len, &stale);
	}
	if (rc == SERVER_DECLINED)
		err[0] = '\0';
	else
		c->st.server_used = true;
	unlink(tmpobj); /* gone already when the object was moved into the cache */
	free(held);
	free(rw.text);
	fe_server_answer_free(&ans);
	return rc;
}

static int compile_miss(struct compile *c, char *err, size_t err_len)
{
	struct fe_btf_entry *e = malloc(sizeof(*e));
	struct args a = {0};
	struct rewrite_out rw = {0};
	struct compiler cc;
	if (!e)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	bool retried = false;
	int rc;
again:
	rc = fe_btf_prepare(c->o->btf_path, true, c->diag, e, err, err_len);
	if (rc)
		goto out;
	c->st.header_cached = e->cached;
	c->st.header_s += e->seconds;
	if (!retried) { /* what killed compiles left behind (misses only: hits stay fast) */
		char objdir[PATH_MAX + 8];
		snprintf(objdir, sizeof(objdir), "%s/obj", c->cache);
		fe_cache_sweep(objdir);
		fe_cache_sweep(e->dir);
	}
	if ((rc = build_args(c, e, &a, err, err_len)))
		goto out;
	if ((rc = compile_by_server(c, &a, err, err_len)) != SERVER_DECLINED)
		goto out;
	if ((rc = start_compiler(c, &a, &cc, err, err_len)))
		goto out;

	const char *text = c->text;
	size_t len = c->len;
	if (!c->o->dialect_off) {
		struct fe_rewrite_opts ro = {
			.path = c->path,
			.text = c->text,
			.len = c->len,
			/* The compiler's own name is not a flag. */
			.clang_args = (const char *const *)a.v + 1,
			.nargs = a.n - 1,
			.kprobe_fallback = c->kprobe_fallback,
		};
		free(rw.text);
		memset(&rw, 0, sizeof(rw));
		rc = run_rewriter(&ro, c->diag, cc.proc.in_fd, &rw, err, err_len);
		c->st.rewrite_s += rw.use.seconds;
		c->st.rewriter_maxrss_kb = rw.use.maxrss_kb;
		if (rc) {
			abort_compiler(&cc);
			if (rw.stale_pch && pch_flag_conflict(&a, err, err_len)) {
				rc = -EINVAL;
				goto out;
			}
			if (rw.stale_pch && !retried) {
				retried = true;
				unlink(e->pch);
				args_free(&a);
				goto again;
			}
			goto out;
		}
		text = rw.text;
		len = rw.len;
	}
	bool stale = false;
	rc = finish_compiler(c, &cc, text, len, err, err_len, &stale);
	if (rc && stale && pch_flag_conflict(&a, err, err_len)) {
		rc = -EINVAL;
		goto out;
	}
	if (rc && stale && !retried) {
		/* libbpf-dev or clang changed under the PCH: make it again. */
		retried = true;
		unlink(e->pch);
		args_free(&a);
		goto again;
	}
out:
	free(rw.text);
	args_free(&a);
	free(e);
	return rc;
}

/* User flags that would change what the compiler writes or what it
 * reads the input as: the pipeline decides those (an object at its path,
 * C against a C PCH). -x c++ would make the PCH look corrupt, -MD leave
 * .d files in the cache, -E write text where an object belongs. */
static const char *output_flag(const char *f)
{
	static const char *const exact[] = {"-o", "-c", "-E", "-S", "-x", "-fsyntax-only",
					    "--precompile", "-###", "-include-pch", "-target",
					    "-save-temps", "-P", "-C"};
	static const char *const prefix[] = {"-M", "-emit-", "--target=", "-save-temps=",
					     "-x", "-o"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(f, exact[i]))
			return exact[i];
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(f, prefix[i], strlen(prefix[i])))
			return prefix[i];
	return NULL;
}

static int compile_cached(const struct visor_compile_opts *o, char *obj_path, size_t obj_len,
			  char *err, size_t err_len)
{
	if (!o || o->sz < sizeof(size_t))
		return visor_errf(err, err_len, -EINVAL, "visor_compile: opts missing or sz not set");
	if (!o->text && !o->path)
		return visor_errf(err, err_len, -EINVAL, "visor_compile: neither text nor path given");
	for (size_t i = 0; i < o->ncflags; i++) {
		if (!o->cflags || !o->cflags[i])
			return visor_errf(err, err_len, -EINVAL, "visor_compile: cflags[%zu] is NULL", i);
		/* "-DX" and "-I DIR" pass; an argument of a flag is not a flag */
		bool is_arg = i > 0 && (!strcmp(o->cflags[i - 1], "-I") ||
					!strcmp(o->cflags[i - 1], "-D") ||
					!strcmp(o->cflags[i - 1], "-U") ||
					!strcmp(o->cflags[i - 1], "-include") ||
					!strcmp(o->cflags[i - 1], "-isystem"));
		if (!is_arg && output_flag(o->cflags[i]))
			return visor_errf(err, err_len, -EINVAL,
				      "compiler flag '%s' is not allowed: visor decides the input language and what clang writes (use -D, -U, -I, -W..., -f... flags)",
				      o->cflags[i]);
	}
	struct compile *c = calloc(1, sizeof(*c));
	if (!c)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	c->o = o;
	c->diag = o->diag ? o->diag : stderr;
	c->path = o->path ? o->path : "<text>";
	int rc = 0;
	if (o->text) {
		c->len = strlen(o->text);
		c->text = strdup(o->text);
		if (!c->text)
			rc = visor_errf(err, err_len, -ENOMEM, "out of memory");
	} else {
		c->text = fe_read_file(o->path, &c->len);
		if (!c->text)
			rc = visor_errf(err, err_len, -errno, "%s: %s", o->path, strerror(errno));
	}
	const char *nul = rc ? NULL : memchr(c->text, '\0', c->len);
	if (nul) {
		/* clang would print a warning per NUL byte (thousands for a
		 * binary): one error at the first instead. */
		unsigned line = 1, col = 1;
		for (const char *p = c->text; p < nul; p++, col++)
			if (*p == '\n')
				line++, col = 0;
		fprintf(c->diag, "%s:%u:%u: error: a NUL byte: this is not C source text (a binary file?)\n",
			c->path, line, col);
		rc = visor_errf(err, err_len, -EINVAL, "1 error");
	}
	if (!rc)
		rc = fe_cache_dir(c->cache, sizeof(c->cache), err, err_len);
	if (!rc)
		rc = fe_btf_checksum(fe_btf_path(o->btf_path), c->btf_sum, err, err_len);
	if (rc)
		goto out;
	c->kprobe_fallback = !visor_kernel_has_kprobes();

	const char *incdir = visor_frontend_include_dir();
	struct fe_hash h;
	fe_hash_init(&h);
	fe_hash_str(&h, prelude_version(incdir));
	fe_hash_str(&h, incdir);
	fe_hash_str(&h, c->btf_sum);
	fe_hash_str(&h, c->path);
	fe_hash_update(&h, c->text, c->len);
	fe_hash_str(&h, "");
	for (size_t i = 0; i < o->ncflags; i++)
		fe_hash_str(&h, o->cflags[i]);
	fe_hash_str(&h, o->dialect_off ? "plain" : "bcc");
	fe_hash_str(&h, c->kprobe_fallback ? "kprobe-fallback" : "kprobes");
	fe_hash_final(&h, c->key);

	char objdir[PATH_MAX + 8];
	snprintf(objdir, sizeof(objdir), "%s/obj", c->cache);
	if ((rc = fe_mkdirs(objdir))) {
		rc = visor_errf(err, err_len, rc, "%s: %s", objdir, strerror(-rc));
		goto out;
	}
	snprintf(c->obj, sizeof(c->obj), "%s/%s.o", objdir, c->key);
	/* A cached object is used only when it is whole; a damaged one is
	 * compiled again (and replaced atomically). */
	if (!o->no_cache && fe_file_exists(c->obj) && !fe_object_check(c->obj, NULL, 0)) {
		c->st.object_cached = true;
		c->st.header_cached = true;
	} else {
		rc = compile_miss(c, err, err_len);
	}
	if (!rc)
		snprintf(obj_path, obj_len, "%s", c->obj);
out:
	if (o->stats && o->sz >= offsetof(struct visor_compile_opts, stats) + sizeof(o->stats)) {
		/* A caller built before server_used was added has a shorter
		 * struct: its opts end before no_server. */
		bool new_stats = o->sz >= offsetof(struct visor_compile_opts, no_server) +
						  sizeof(o->no_server);
		memcpy(o->stats, &c->st,
		       new_stats ? sizeof(c->st) : offsetof(struct visor_compile_stats, server_used));
	}
	free(c->text);
	free(c);
	return rc;
}

int visor_compile_cached(const struct visor_compile_opts *opts, char **obj_path, char *err,
			 size_t err_len)
{
	char path[PATH_MAX + 64];
	int rc = compile_cached(opts, path, sizeof(path), err, err_len);
	if (rc)
		return rc;
	*obj_path = strdup(path);
	return *obj_path ? 0 : visor_errf(err, err_len, -ENOMEM, "out of memory");
}

int visor_compile(const struct visor_compile_opts *opts, const char *out_path, char *err,
		  size_t err_len)
{
	if (!out_path)
		return visor_errf(err, err_len, -EINVAL, "visor_compile: no output path");
	char path[PATH_MAX + 64];
	int rc = compile_cached(opts, path, sizeof(path), err, err_len);
	if (rc)
		return rc;
	size_t len;
	char *data = fe_read_file(path, &len);
	if (!data)
		return visor_errf(err, err_len, -errno, "%s: %s", path, strerror(errno));
	rc = fe_write_atomic(out_path, data, len, err, err_len);
	free(data);
	return rc;
}
