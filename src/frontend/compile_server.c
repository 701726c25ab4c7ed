/* The compile server: a resident process (`visor compile-server`) that
 * keeps libclang-19 (the rewriter) and clang itself (libvisor-clang.so,
 * clang_inprocess.cpp) loaded, and serves each compile in a child forked
 * for it. A compile then costs the rewrite and clang's own work, not
 * starting libclang and a clang-19 process (~0.25 s together here).
 *
 * One server per cache directory and visor build, listening on
 * <cache>/compile-server-<identity>.sock (the directory is the user's; the
 * socket is mode 0700 and peers of another uid are refused as well). The
 * identity (fe_pipeline_identity: visor's binary, headers, clang, module)
 * is checked again per request, so an object is never made by other code
 * than the client's. It exits after an idle time, when its binary is
 * replaced, or when its socket is removed.
 * Anything wrong with it (absent, stale, crashed mid-answer) makes the
 * client compile as before, with clang-19 processes.
 *
 * Wire format (one request, one answer per connection): a header of
 * 32-bit words, then strings as a 64-bit length and the bytes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <visor/frontend.h>

#include "clang_api.h"
#include "clang_inprocess.h"
#include "frontend_internal.h"
#include "pipeline.h"

#define SERVER_MAGIC 0x31435356u /* "VSC1" */
enum { OP_COMPILE = 1, OP_PING = 2, OP_STOP = 3 };
enum { JOB_REWRITE = 1, JOB_KPROBE_FALLBACK = 2 };
#define MAX_ARGS 4096
#define MAX_STRING (256u << 20)

/* ---- Where things are -------------------------------------------------------- */

static int cache_file(const char *name, char *buf, size_t len, char *err, size_t err_len)
{
	char dir[PATH_MAX];
	int rc = fe_cache_dir(dir, sizeof(dir), err, err_len);
	if (rc)
		return rc;
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len ||
	    strlen(buf) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return visor_errf(err, err_len, -ENAMETOOLONG,
			      "%s/%s: too long for a socket path (set VISOR_CACHE_DIR)", dir, name);
	return 0;
}

/* compile-server-<identity>.<ext>: each visor build has its own server, so
 * two installs (or a build tree and an install) never fight over one. */
static int server_file(const char *ext, char *buf, size_t len, char *err, size_t err_len)
{
	char id[FE_HASH_HEX], name[64];
	fe_pipeline_identity(id);
	snprintf(name, sizeof(name), "compile-server-%.16s.%s", id, ext);
	return cache_file(name, buf, len, err, err_len);
}

int fe_server_sock_path(char *buf, size_t len, char *err, size_t err_len)
{
	return server_file("sock", buf, len, err, err_len);
}

static bool regular_file(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

static const char *fe_clang_module_path_unlocked(void)
{
	static char found[PATH_MAX];
	const char *env = getenv("VISOR_CLANG_MODULE");
	if (env && *env)
		return regular_file(env) ? env : NULL;
	if (found[0])
		return found;
	char bin[PATH_MAX];
	if (fe_self_binary(bin)) {
		/* The build tree (beside build/visor), PREFIX/lib/visor from
		 * PREFIX/bin/visor, and from PREFIX/lib/libvisor.so. */
		static const char *const rel[] = {"libvisor-clang.so",
						  "../lib/visor/libvisor-clang.so",
						  "visor/libvisor-clang.so"};
		const char *dir = dirname(bin);
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			char cand[PATH_MAX + 64];
			snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
			if (regular_file(cand) && realpath(cand, found))
				return found;
		}
	}
#ifdef VISOR_CLANG_MODULE_INSTALLED
	if (regular_file(VISOR_CLANG_MODULE_INSTALLED) && realpath(VISOR_CLANG_MODULE_INSTALLED, found))
		return found;
#endif
	found[0] = '\0';
	return NULL;
}

const char *fe_clang_module_path(void)
{
	return FE_LOCKED(fe_clang_module_path_unlocked());
}

bool visor_compile_server_wanted(void)
{
	const char *env = getenv("VISOR_COMPILE_SERVER");
	if (env && !strcmp(env, "0"))
		return false;
	/* A substitute clang (tests, wrappers) is not the one in the module. */
	const char *cl = getenv("VISOR_CLANG");
	return !(cl && *cl);
}

/* ---- Wire ---------------------------------------------------------------------- */

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* In the client a signal (Ctrl-C: its handler has no SA_RESTART) ends the
 * wait with -EINTR; the server's processes retry. */
static bool recv_retry_eintr;

static int recv_all(int fd, void *data, size_t len)
{
	char *p = data;
	while (len) {
		ssize_t r = recv(fd, p, len, 0);
		if (r < 0 && errno == EINTR && recv_retry_eintr)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int send_str(int fd, const char *s, size_t len)
{
	uint64_t n = s ? len : 0;
	int rc = send_all(fd, &n, sizeof(n));
	return rc ? rc : send_all(fd, s ? s : "", (size_t)n);
}

static int send_cstr(int fd, const char *s)
{
	return send_str(fd, s, s ? strlen(s) : 0);
}

/* A string (malloc'd, NUL-terminated); *len may be NULL. */
static int recv_str(int fd, char **out, size_t *len)
{
	uint64_t n;
	*out = NULL;
	int rc = recv_all(fd, &n, sizeof(n));
	if (rc)
		return rc;
	if (n > MAX_STRING)
		return -EPROTO;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	if ((rc = recv_all(fd, s, (size_t)n))) {
		free(s);
		return rc;
	}
	s[n] = '\0';
	*out = s;
	if (len)
		*len = (size_t)n;
	return 0;
}

struct request {
	uint32_t magic, op, flags, nargs, rewrite_nargs, pad;
};

struct answer_head {
	uint32_t magic;
	int32_t status; /* 0, or -errno: the server could not serve (-ESTALE: other identity) */
	int32_t rewrite_rc, nerrors, nwarnings, compiled, cc_status, pad;
	double rewrite_s, compile_s;
	int64_t maxrss_kb;
};

/* What clang reads from its environment: a compile in the server sees the
 * client's values, not those the server was started with. */
static const char *const clang_env[] = {"CPATH", "C_INCLUDE_PATH", "SOURCE_DATE_EPOCH",
					"TMPDIR"};
#define NCLANG_ENV (sizeof(clang_env) / sizeof(clang_env[0]))

/* ---- Client --------------------------------------------------------------------- */

static bool sun_path(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path))
		return false;
	memcpy(sa->sun_path, path, n + 1);
	return true;
}

static int peer_is_me(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	return cred.uid == getuid() ? 0 : -EPERM;
}

static int connect_server(const char *sock_path, double timeout_s)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa;
	if (!sun_path(&sa, sock_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	struct timeval tv = {.tv_sec = (time_t)timeout_s,
			     .tv_usec = (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6)};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : peer_is_me(fd);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

void fe_server_answer_free(struct fe_server_answer *a)
{
	fe_rewrite_result_free(&a->rw);
	fe_clang_result_free(&a->cc);
	free(a->rewrite_err);
	a->rewrite_err = NULL;
}

int fe_server_compile(const char *sock_path, const struct fe_server_job *job,
		      struct fe_server_answer *ans, char *err, size_t err_len)
{
	memset(ans, 0, sizeof(*ans));
	char identity[FE_HASH_HEX];
	fe_pipeline_identity(identity);
	/* A compile of a large program takes seconds; a server that takes
	 * minutes is broken, and the caller compiles by itself. */
	int fd = connect_server(sock_path, 120);
	if (fd < 0)
		return visor_errf(err, err_len, fd, "no compile server at %s: %s", sock_path,
			      strerror(-fd));
	struct request rq = {
		.magic = SERVER_MAGIC,
		.op = OP_COMPILE,
		.flags = (job->ro ? JOB_REWRITE : 0) |
			 (job->ro && job->ro->kprobe_fallback ? JOB_KPROBE_FALLBACK : 0),
		.nargs = (uint32_t)job->cc_nargs,
		.rewrite_nargs = (uint32_t)job->rewrite_nargs,
	};
	const char *text = job->ro ? job->ro->text : job->text;
	size_t len = job->ro ? job->ro->len : job->len;
	/* Relative paths (the source's, -I DIR, the cache's) are the client's. */
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		close(fd);
		return visor_errf(err, err_len, -errno, "getcwd: %s", strerror(errno));
	}
	int rc = send_all(fd, &rq, sizeof(rq));
	if (!rc)
		rc = send_cstr(fd, identity);
	if (!rc)
		rc = send_cstr(fd, cwd);
	for (size_t i = 0; !rc && i < NCLANG_ENV; i++) {
		const char *v = getenv(clang_env[i]);
		/* "" for unset, "=VALUE" for set (even to "") */
		size_t n = v ? strlen(v) + 1 : 0;
		char *tagged = malloc(n + 1);
		if (!tagged) {
			rc = -ENOMEM;
			break;
		}
		if (v)
			snprintf(tagged, n + 1, "=%s", v);
		rc = send_str(fd, tagged, n);
		free(tagged);
	}
	if (!rc)
		rc = send_cstr(fd, job->path);
	if (!rc)
		rc = send_str(fd, text, len);
	for (size_t i = 0; !rc && i < job->cc_nargs; i++)
		rc = send_cstr(fd, job->cc_args[i]);
	struct answer_head h;
	if (!rc)
		rc = recv_all(fd, &h, sizeof(h));
	if (!rc && h.magic != SERVER_MAGIC)
		rc = -EPROTO;
	if (!rc && h.status) {
		close(fd);
		return visor_errf(err, err_len, h.status, "the compile server refused: %s",
			      h.status == -ESTALE ? "it runs other code than this visor"
						  : strerror(-h.status));
	}
	if (!rc)
		rc = recv_str(fd, &ans->rewrite_err, NULL);
	if (!rc)
		rc = recv_str(fd, &ans->rw.diags, NULL);
	if (!rc)
		rc = recv_str(fd, &ans->rw.text, &ans->rw.len);
	if (!rc)
		rc = recv_str(fd, &ans->cc.stderr_text, NULL);
	close(fd);
	if (rc) {
		fe_server_answer_free(ans);
		return visor_errf(err, err_len, rc, "the compile server's answer: %s", strerror(-rc));
	}
	ans->rewrite_rc = h.rewrite_rc;
	ans->rw.nerrors = h.nerrors;
	ans->rw.nwarnings = h.nwarnings;
	ans->compiled = h.compiled;
	ans->cc.status = h.cc_status;
	ans->cc.maxrss_kb = h.maxrss_kb;
	ans->cc.seconds = ans->cc.after_input_s = h.compile_s;
	ans->rewrite_s = h.rewrite_s;
	return 0;
}

/* Ping (info: one line about the server) or stop. */
static int server_call(uint32_t op, char *info, size_t info_len, char *err, size_t err_len)
{
	char sock[PATH_MAX];
	int rc = fe_server_sock_path(sock, sizeof(sock), err, err_len);
	if (rc)
		return rc;
	int fd = connect_server(sock, 5);
	if (fd < 0)
		return visor_errf(err, err_len, fd, "no compile server at %s", sock);
	struct request rq = {.magic = SERVER_MAGIC, .op = op};
	struct answer_head h;
	char *line = NULL;
	rc = send_all(fd, &rq, sizeof(rq));
	if (!rc)
		rc = send_cstr(fd, "");
	if (!rc)
		rc = recv_all(fd, &h, sizeof(h));
	if (!rc && h.magic != SERVER_MAGIC)
		rc = -EPROTO;
	if (!rc)
		rc = recv_str(fd, &line, NULL);
	close(fd);
	if (rc) {
		free(line);
		return visor_errf(err, err_len, rc, "the compile server at %s: %s", sock, strerror(-rc));
	}
	if (info)
		snprintf(info, info_len, "%s", line);
	free(line);
	return 0;
}

/* ---- Server -----------------------------------------------------------------------
 *
 * The parent process only loads libclang and the clang module and keeps
 * SERVER_SPARES spare children: forks that have already parsed and compiled
 * a small program with the kernel's PCH (what libclang and clang do on
 * their first use in a process, and a fork must redo: ~40 ms each), waiting
 * in accept(). A spare answers pings itself and serves one compile, then
 * exits, and the parent forks its replacement; with two, compiles in a row
 * find a warm spare. A compile is thus served by a warm process that is
 * thrown
 * away after it (clang's -disable-free, -mllvm options and any damage die
 * with it), and costs the rewrite and clang's own work. */

struct server {
	pid_t pid; /* the server's (a spare's parent) */
	visor_clang_inprocess_compile_fn compile;
	char identity[FE_HASH_HEX];
	char clang[PATH_MAX]; /* the real clang binary: its resource directory */
	char sock[PATH_MAX], bin[PATH_MAX], module[PATH_MAX];
	struct stat sock_st, bin_st, module_st, clang_st;
	double started;
	unsigned long *served; /* shared with the spares: their pings say it */
	unsigned long spares;
	int lfd;
};

static volatile sig_atomic_t server_stop;
/* SIGCHLD wakes the parent's poll through it; a spare writes its pid there
 * when it takes a compile. */
static int child_pipe[2] = {-1, -1};
#define SERVER_SPARES 2

static void on_stop_signal(int sig)
{
	(void)sig;
	server_stop = 1;
}

static void on_child_signal(int sig)
{
	(void)sig;
	int e = errno;
	pid_t none = 0; /* a wake-up, no pid */
	if (write(child_pipe[1], &none, sizeof(none)) < 0) {
		/* full: the parent wakes anyway */
	}
	errno = e;
}

static int memfd_with(const char *name, const char *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* clang (the module) on input, its diagnostics returned (malloc'd) and its
 * status in *status; stdin and stderr are the caller's again afterwards. */
static char *run_clang(struct server *s, int argc, const char **argv, const char *input,
		       size_t len, int *status)
{
	int in = memfd_with("visor-input", input, len);
	int errfd = memfd_create("visor-stderr", MFD_CLOEXEC);
	int saved_in = dup(0), saved_err = dup(2);
	char *text = NULL;
	if (in < 0 || errfd < 0 || saved_in < 0 || saved_err < 0 || dup2(in, 0) < 0 ||
	    dup2(errfd, 2) < 0) {
		*status = -1; /* not clang's verdict: the client compiles by itself */
	} else {
		argv[0] = s->clang;
		*status = s->compile(argc, argv);
		lseek(errfd, 0, SEEK_SET);
		text = fe_read_fd(errfd, NULL);
	}
	if (saved_in >= 0)
		dup2(saved_in, 0);
	if (saved_err >= 0)
		dup2(saved_err, 2);
	int fds[] = {in, errfd, saved_in, saved_err};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return text;
}

/* In the spare, for one compile. */
static void serve_compile(struct server *s, int fd, const struct request *rq, char *path,
			  char *text, size_t text_len, char **args)
{
	struct answer_head h = {.magic = SERVER_MAGIC};
	struct fe_rewrite_result res;
	memset(&res, 0, sizeof(res));
	char rerr[512] = "";
	const char *ctext = text;
	size_t clen = text_len;
	if (rq->flags & JOB_REWRITE) {
		struct fe_rewrite_opts ro = {
			.path = path,
			.text = text,
			.len = text_len,
			.clang_args = (const char *const *)args + 1,
			.nargs = rq->rewrite_nargs,
			.kprobe_fallback = rq->flags & JOB_KPROBE_FALLBACK,
		};
		double t0 = fe_now();
		h.rewrite_rc = fe_rewrite_fn(&ro, &res, rerr, sizeof(rerr));
		h.rewrite_s = fe_now() - t0;
		h.nerrors = res.nerrors;
		h.nwarnings = res.nwarnings;
		ctext = res.text;
		clen = res.len;
	}
	char *stderr_text = NULL;
	if (h.rewrite_rc == 0 && h.nerrors == 0 && ctext) {
		size_t n = 0;
		char *input = fe_compiler_input(path, ctext, clen, &n);
		int st = 1;
		double t0 = fe_now();
		stderr_text = input ? run_clang(s, (int)rq->nargs, (const char **)args, input, n, &st)
				    : NULL;
		h.compile_s = fe_now() - t0;
		h.compiled = 1;
		h.cc_status = st;
		free(input);
		/* The server failed (not the source): the client compiles by
		 * itself. Status 2: a command line the module cannot run. */
		if (!stderr_text || st < 0 || st == 2)
			h.status = -EIO;
	}
	struct rusage ru;
	if (!getrusage(RUSAGE_SELF, &ru))
		h.maxrss_kb = ru.ru_maxrss;
	int rc = send_all(fd, &h, sizeof(h));
	if (!rc)
		rc = send_cstr(fd, rerr);
	if (!rc)
		rc = send_cstr(fd, res.diags);
	if (!rc)
		rc = send_str(fd, rq->flags & JOB_REWRITE ? res.text : NULL,
			      rq->flags & JOB_REWRITE && res.text ? res.len : 0);
	if (!rc)
		send_cstr(fd, stderr_text);
}

/* Returns true when the connection was a compile (the spare is used up). */
static bool serve_connection(struct server *s, int fd)
{
	struct request rq;
	char *identity = NULL, *path = NULL, *text = NULL;
	size_t text_len = 0;
	struct answer_head h = {.magic = SERVER_MAGIC};
	if (recv_all(fd, &rq, sizeof(rq)) || rq.magic != SERVER_MAGIC ||
	    recv_str(fd, &identity, NULL))
		return false;
	if (rq.op == OP_PING || rq.op == OP_STOP) {
		char line[512];
		snprintf(line, sizeof(line), "pid %d, up %.0f s, %lu compile%s served, identity %.12s",
			 (int)s->pid, fe_now() - s->started, *s->served,
			 *s->served == 1 ? "" : "s", s->identity);
		if (!send_all(fd, &h, sizeof(h)))
			send_cstr(fd, line);
		free(identity);
		if (rq.op == OP_STOP)
			kill(s->pid, SIGTERM);
		return rq.op == OP_STOP;
	}
	if (rq.op != OP_COMPILE || rq.nargs < 1 || rq.nargs > MAX_ARGS ||
	    rq.rewrite_nargs >= rq.nargs)
		h.status = -EPROTO;
	else if (strcmp(identity, s->identity))
		h.status = -ESTALE;
	free(identity);
	if (h.status) {
		send_all(fd, &h, sizeof(h));
		return false;
	}
	/* Taken: the parent counts it busy (not idle for its idle exit). */
	pid_t self = getpid();
	if (write(child_pipe[1], &self, sizeof(self)) < 0) {
		/* the parent then replaces it when it exits */
	}
	char *cwd = NULL;
	if (recv_str(fd, &cwd, NULL))
		return true;
	for (size_t i = 0; i < NCLANG_ENV; i++) {
		char *v;
		if (recv_str(fd, &v, NULL))
			return true;
		if (v[0] == '=')
			setenv(clang_env[i], v + 1, 1);
		else
			unsetenv(clang_env[i]);
		free(v);
	}
	if (recv_str(fd, &path, NULL) || recv_str(fd, &text, &text_len))
		return true;
	if (chdir(cwd)) {
		h.status = -errno;
		send_all(fd, &h, sizeof(h));
		return true;
	}
	char **args = calloc(rq.nargs + 1, sizeof(*args));
	if (!args)
		return true;
	for (uint32_t i = 0; i < rq.nargs; i++)
		if (recv_str(fd, &args[i], NULL))
			return true;
	serve_compile(s, fd, &rq, path, text, text_len, args);
	return true; /* the process exits: nothing to free */
}

/* The spare's first parse and compile, with the kernel's PCH as compiles
 * use it (fe_warm_up_args); what they cost is paid before a client waits. */
static void warm_up(struct server *s, bool log)
{
	static const char src[] = "int visor_warm_up(int x) { return x + 1; }\n";
	char **args = NULL, err[256];
	size_t n = 0;
	if (fe_warm_up_args(&args, &n, err, sizeof(err)))
		return;
	double t0 = fe_now();
	struct fe_rewrite_opts ro = {.path = "<warm-up>", .text = src, .len = sizeof(src) - 1,
				     .clang_args = (const char *const *)args + 1, .nargs = n - 1};
	struct fe_rewrite_result res;
	if (!fe_rewrite_fn(&ro, &res, err, sizeof(err)))
		fe_rewrite_result_free(&res);
	double t1 = fe_now();
	const char **cargs = calloc(n + 9, sizeof(*cargs));
	if (cargs) {
		memcpy(cargs, args, n * sizeof(*cargs));
		const char *tail[] = {"-w", "-c", "-x", "c", "-", "-o", "/dev/null"};
		memcpy(cargs + n, tail, sizeof(tail));
		int st;
		free(run_clang(s, (int)(n + 7), cargs, src, sizeof(src) - 1, &st));
		free(cargs);
	}
	if (log)
		fprintf(stderr, "visor compile server: a spare warms up in %.3f s (libclang %.3f s, clang %.3f s)\n",
			fe_now() - t0, t1 - t0, fe_now() - t1);
	fe_warm_up_args_free(args, n);
}

static void spare_main(struct server *s)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	close(child_pipe[0]);
	recv_retry_eintr = true;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->pid) /* the server died before the line above */
		_exit(1);
	warm_up(s, s->spares == 1);
	for (;;) {
		int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(2);
		}
		if (peer_is_me(c)) {
			close(c);
			continue;
		}
		/* A client that stops sending (suspended, or not a client)
		 * frees the spare after a while. */
		struct timeval tv = {.tv_sec = 10};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		bool used = serve_connection(s, c);
		close(c);
		if (used)
			_exit(0);
	}
}

static pid_t spawn_spare(struct server *s)
{
	s->spares++;
	pid_t pid = fork();
	if (pid == 0)
		spare_main(s);
	return pid;
}

static bool file_changed(const char *path, const struct stat *was)
{
	struct stat st;
	return stat(path, &st) || st.st_ino != was->st_ino || st.st_dev != was->st_dev ||
	       st.st_size != was->st_size || st.st_mtim.tv_sec != was->st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != was->st_mtim.tv_nsec;
}

static int server_load(struct server *s, char *err, size_t err_len)
{
	const char *cl = fe_clang_path();
	if (!cl || !realpath(cl, s->clang))
		return visor_errf(err, err_len, -ENOEXEC, "clang-19 not found: apt-get install clang-19");
	const char *mod = fe_clang_module_path();
	if (!mod)
		return visor_errf(err, err_len, -ENOENT,
			      "libvisor-clang.so not found (built with clang++-19 and llvm-19-dev; or set VISOR_CLANG_MODULE)");
	snprintf(s->module, sizeof(s->module), "%s", mod);
	if (stat(s->module, &s->module_st) || stat(s->clang, &s->clang_st))
		return visor_errf(err, err_len, -errno, "%s: %s", mod, strerror(errno));
	void *h = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return visor_errf(err, err_len, -ENOEXEC, "%s", dlerror());
	visor_clang_inprocess_init_fn init =
		(visor_clang_inprocess_init_fn)dlsym(h, "visor_clang_inprocess_init");
	s->compile = (visor_clang_inprocess_compile_fn)dlsym(h, "visor_clang_inprocess_compile");
	if (!init || !s->compile || init() != VISOR_CLANG_INPROCESS_ABI)
		return visor_errf(err, err_len, -ENOEXEC, "%s: not visor's clang module of this version",
			      mod);
	/* libclang for the rewriter, loaded once here rather than per compile. */
	return visor_clang_load(err, err_len) ? 0 : -ENOEXEC;
}

int visor_compile_server_run(double idle_s, char *err, size_t err_len)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	s->lfd = -1;
	int lock_fd = -1, rc;
	char lock[PATH_MAX];
	if ((rc = fe_server_sock_path(s->sock, sizeof(s->sock), err, err_len)) ||
	    (rc = server_file("lock", lock, sizeof(lock), err, err_len)))
		goto out;
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		rc = visor_errf(err, err_len, -errno, "%s: %s", lock, strerror(errno));
		goto out;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		rc = visor_errf(err, err_len, -EEXIST, "a compile server already runs for %s", s->sock);
		goto out;
	}
	/* Its pid, for status and stop while both spares are busy. */
	s->pid = getpid();
	char pid_text[32];
	int pid_len = snprintf(pid_text, sizeof(pid_text), "%d\n", (int)s->pid);
	if (ftruncate(lock_fd, 0) || pwrite(lock_fd, pid_text, (size_t)pid_len, 0) != pid_len) {
		rc = visor_errf(err, err_len, -EIO, "%s: %s", lock, strerror(errno));
		goto out;
	}
	/* The log (stderr, opened for appending by the starter) is this
	 * server's from here: a starter that lost the race wrote into it. */
	struct stat log_st;
	if (!fstat(2, &log_st) && S_ISREG(log_st.st_mode) && ftruncate(2, 0)) {
		/* a log it cannot empty still takes lines */
	}
	if ((rc = server_load(s, err, err_len)))
		goto out;
	s->served = mmap(NULL, sizeof(*s->served), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->served == MAP_FAILED) {
		s->served = NULL;
		rc = visor_errf(err, err_len, -errno, "mmap: %s", strerror(errno));
		goto out;
	}
	fe_pipeline_identity(s->identity);
	if (!fe_self_binary(s->bin) || stat(s->bin, &s->bin_st)) {
		rc = visor_errf(err, err_len, -ENOENT, "cannot find visor's own binary");
		goto out;
	}
	if (pipe2(child_pipe, O_CLOEXEC | O_NONBLOCK)) {
		rc = visor_errf(err, err_len, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	/* Holding the lock: a socket file left here is a dead server's. */
	unlink(s->sock);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa;
	sun_path(&sa, s->sock); /* cache_file checked its length */
	mode_t old = umask(077);
	int brc = s->lfd < 0 ? -1 : bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (s->lfd < 0 || brc || listen(s->lfd, 64) || stat(s->sock, &s->sock_st)) {
		rc = visor_errf(err, err_len, -errno, "%s: %s", s->sock, strerror(errno));
		goto out;
	}
	struct sigaction sa_stop = {.sa_handler = on_stop_signal};
	struct sigaction sa_child = {.sa_handler = on_child_signal, .sa_flags = SA_NOCLDSTOP};
	sigaction(SIGTERM, &sa_stop, NULL);
	sigaction(SIGINT, &sa_stop, NULL);
	sigaction(SIGCHLD, &sa_child, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->started = fe_now();
	double last = s->started, spare_born = 0;
	unsigned failures = 0;
	/* The spares, and whether each has taken a compile. */
	pid_t spares[SERVER_SPARES];
	bool taken[SERVER_SPARES];
	size_t nspares = 0, idle_spares = 0;
	fprintf(stderr, "visor compile server: pid %d, %s, idle exit after %.0f s\n", (int)getpid(),
		s->sock, idle_s);
	fflush(stderr);
	while (!server_stop) {
		pid_t msg[64];
		ssize_t got;
		while ((got = read(child_pipe[0], msg, sizeof(msg))) > 0)
			for (size_t i = 0; i < (size_t)got / sizeof(pid_t); i++)
				for (size_t j = 0; msg[i] && j < nspares; j++)
					if (spares[j] == msg[i] && !taken[j]) {
						taken[j] = true;
						idle_spares--;
						last = fe_now();
					}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			size_t j = 0;
			while (j < nspares && spares[j] != pid)
				j++;
			if (j == nspares)
				continue;
			bool was_taken = taken[j];
			spares[j] = spares[nspares - 1];
			taken[j] = taken[nspares - 1];
			nspares--;
			if (!was_taken)
				idle_spares--;
			last = fe_now();
			if (was_taken && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				__atomic_fetch_add(s->served, 1, __ATOMIC_RELAXED);
				failures = 0;
			} else if (++failures >= 3) {
				fprintf(stderr, "visor compile server: three spares in a row died (last: status 0x%x); exiting\n",
					status);
				server_stop = 1;
			}
		}
		if (server_stop)
			break;
		if (nspares == idle_spares && fe_now() - last > idle_s)
			break;
		if (file_changed(s->bin, &s->bin_st) || file_changed(s->sock, &s->sock_st) ||
		    file_changed(s->module, &s->module_st) || file_changed(s->clang, &s->clang_st))
			break; /* a new visor or clang, or the cache was removed */
		/* A replacement is forked when a spare exits, not when it takes
		 * a compile: its warm-up would share the CPU with that compile
		 * (2 cores here: twice as slow). The second spare serves the
		 * next compile meanwhile. */
		while (nspares < SERVER_SPARES) {
			/* Spares dying at once must not make a fork loop. */
			if (failures && fe_now() - spare_born < 1.0)
				usleep(200000);
			pid_t p = spawn_spare(s);
			spare_born = fe_now();
			if (p < 0)
				break;
			spares[nspares] = p;
			taken[nspares++] = false;
			idle_spares++;
		}
		struct pollfd p = {.fd = child_pipe[0], .events = POLLIN};
		poll(&p, 1, 1000);
	}
	for (size_t j = 0; j < nspares; j++)
		kill(spares[j], SIGKILL);
	for (size_t j = 0; j < nspares; j++)
		waitpid(spares[j], NULL, 0);
	if (!file_changed(s->sock, &s->sock_st))
		unlink(s->sock);
	rc = 0;
out:
	if (s->lfd >= 0)
		close(s->lfd);
	if (lock_fd >= 0)
		close(lock_fd);
	for (int i = 0; i < 2; i++)
		if (child_pipe[i] >= 0) {
			close(child_pipe[i]);
			child_pipe[i] = -1;
		}
	if (s->served)
		munmap(s->served, sizeof(*s->served));
	free(s);
	return rc;
}

/* ---- Starting, asking, stopping ----------------------------------------------------- */

/* The pid in the lock file of a running server (its lock is held), or 0. */
static pid_t locked_server_pid(void)
{
	char lock[PATH_MAX], text[32] = "";
	if (server_file("lock", lock, sizeof(lock), NULL, 0))
		return 0;
	int fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pid_t pid = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK) {
		ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		pid = (pid_t)atoi(text);
	}
	close(fd);
	return pid;
}

int visor_compile_server_status(char *info, size_t info_len, char *err, size_t err_len)
{
	int rc = server_call(OP_PING, info, info_len, err, err_len);
	pid_t pid;
	/* No answer in time: both spares busy (long compiles), yet it runs. */
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && (pid = locked_server_pid()) > 0) {
		if (info)
			snprintf(info, info_len, "pid %d, busy", (int)pid);
		return 0;
	}
	return rc;
}

int visor_compile_server_stop(char *err, size_t err_len)
{
	char lock[PATH_MAX];
	int rc = server_call(OP_STOP, NULL, 0, err, err_len);
	pid_t pid;
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && (pid = locked_server_pid()) > 0 &&
	    !kill(pid, SIGTERM))
		rc = 0; /* busy, but stoppable */
	if (rc)
		return rc;
	if ((rc = server_file("lock", lock, sizeof(lock), err, err_len)))
		return rc;
	/* Gone when its lock is free (bounded: 10 s). */
	int fd = open(lock, O_RDWR | O_CLOEXEC);
	for (int i = 0; fd >= 0 && i < 1000; i++) {
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	if (fd >= 0)
		close(fd);
	return fd < 0 ? 0 : visor_errf(err, err_len, -ETIMEDOUT, "the compile server did not stop");
}

extern char **environ;

int visor_compile_server_start(const char *visor_exe, double idle_s, char *err, size_t err_len)
{
	char sock[PATH_MAX], log[PATH_MAX], cache[PATH_MAX];
	int rc = fe_server_sock_path(sock, sizeof(sock), err, err_len);
	if (!rc)
		rc = server_file("log", log, sizeof(log), err, err_len);
	if (!rc)
		rc = fe_cache_dir(cache, sizeof(cache), err, err_len);
	if (rc)
		return rc;
	if (!(idle_s > 0))
		return visor_errf(err, err_len, -EINVAL, "idle time %g: want seconds > 0", idle_s);
	if (!fe_clang_module_path())
		return visor_errf(err, err_len, -ENOENT,
			      "libvisor-clang.so not found (built with clang++-19 and llvm-19-dev; or set VISOR_CLANG_MODULE)");
	char exe[PATH_MAX];
	if (!visor_exe) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return visor_errf(err, err_len, -errno, "/proc/self/exe: %s", strerror(errno));
		exe[n] = '\0';
		visor_exe = exe;
	}
	char idle[32];
	snprintf(idle, sizeof(idle), "%g", idle_s);
	/* Everything the child needs is made here: after fork in a
	 * multi-threaded caller only async-signal-safe calls are. Its
	 * environment is ours with the cache directory made absolute (it
	 * runs in /). */
	size_t nenv = 0;
	while (environ && environ[nenv])
		nenv++;
	char **envp = calloc(nenv + 2, sizeof(*envp));
	char *cache_var = malloc(strlen(cache) + sizeof("VISOR_CACHE_DIR="));
	if (!envp || !cache_var) {
		free(envp);
		free(cache_var);
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	}
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "VISOR_CACHE_DIR=", 16))
			envp[k++] = environ[i];
	sprintf(cache_var, "VISOR_CACHE_DIR=%s", cache);
	envp[k++] = cache_var;
	char *const argv[] = {(char *)visor_exe, "compile-server", "run", "--idle", idle, NULL};
	/* Detached (its own session, a grandchild: nobody's zombie), with
	 * nothing of the caller's open: a visor that loaded programs must not
	 * lend their descriptors to a process that outlives it. */
	pid_t pid = fork();
	if (pid < 0) {
		rc = visor_errf(err, err_len, -errno, "fork: %s", strerror(errno));
		free(envp);
		free(cache_var);
		return rc;
	}
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		int nul = open("/dev/null", O_RDWR);
		int lg = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (nul < 0 || lg < 0)
			_exit(1);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(lg, 2);
		if (close_range(3, ~0U, 0))
			for (int fd = 3; fd < 65536; fd++)
				close(fd);
		/* It pins no directory; compiles run in the client's. */
		if (chdir("/"))
			_exit(1);
		execve(visor_exe, argv, envp);
		_exit(127);
	}
	free(envp);
	free(cache_var);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}
