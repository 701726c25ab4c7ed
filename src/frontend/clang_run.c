/* clang-19 as a subprocess: found once, spawned with its stderr captured
 * (the caller shows it to the user), reaped with wait4 for its peak RSS
 * (the benchmark reports the compiler's memory as well as visor's). It can
 * be started before its input exists (fe_clang_start with stdin): clang
 * spends ~0.1 s loading LLVM before it reads a byte, which then overlaps
 * the rewriter's run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline.h"

extern char **environ;

unsigned long fe_clang_runs;

static bool executable(const char *path)
{
	return path && *path && access(path, X_OK) == 0;
}

static const char *fe_clang_path_unlocked(void)
{
	static char found[4096];
	const char *env = getenv("VISOR_CLANG");
	if (env && *env)
		return executable(env) ? env : NULL;
	if (found[0])
		return found;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		if (n && n < sizeof(found) - 16) {
			snprintf(found, sizeof(found), "%.*s/clang-19", (int)n, path);
			if (executable(found))
				return found;
		}
		if (!colon)
			break;
		path = colon + 1;
	}
	snprintf(found, sizeof(found), "/usr/lib/llvm-19/bin/clang");
	if (executable(found))
		return found;
	found[0] = '\0';
	return NULL;
}

const char *fe_clang_path(void)
{
	return FE_LOCKED(fe_clang_path_unlocked());
}

int fe_clang_start(const char *const *args, size_t nargs, bool with_stdin,
		   struct fe_clang_proc *p, char *err, size_t err_len)
{
	p->pid = -1;
	p->in_fd = p->err_fd = -1;
	const char *clang = fe_clang_path();
	if (!clang)
		return visor_errf(err, err_len, -ENOEXEC, "clang-19 not found: apt-get install clang-19");

	char **argv = calloc(nargs + 2, sizeof(*argv));
	if (!argv)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	argv[0] = (char *)clang;
	for (size_t i = 1; i < nargs; i++)
		argv[i] = (char *)args[i];

	/* stdin is a socket, not a pipe: send(MSG_NOSIGNAL) to a clang that
	 * died early is an error, not a SIGPIPE in the caller. */
	int errp[2], inp[2] = {-1, -1};
	if (pipe2(errp, O_CLOEXEC)) {
		free(argv);
		return visor_errf(err, err_len, -errno, "pipe: %s", strerror(errno));
	}
	if (with_stdin && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp)) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		free(argv);
		return visor_errf(err, err_len, -e, "socketpair: %s", strerror(e));
	}
	/* fork + exec rather than posix_spawn: the child asks to get SIGTERM
	 * when its parent dies, so a caller killed mid-compile does not leave
	 * a clang that compiles a truncated input into the cache (on SIGTERM
	 * clang removes its unfinished output). Only async-signal-safe calls
	 * after fork; the exec failure comes back through a close-on-exec
	 * pipe. */
	int execp[2];
	if (pipe2(execp, O_CLOEXEC)) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		if (with_stdin) {
			close(inp[0]);
			close(inp[1]);
		}
		free(argv);
		return visor_errf(err, err_len, -e, "pipe: %s", strerror(e));
	}
	pid_t parent = getpid();
	p->t0 = fe_now();
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int null_in = with_stdin ? -1 : open("/dev/null", O_RDONLY);
		int null_out = open("/dev/null", O_WRONLY);
		if (dup2(with_stdin ? inp[1] : null_in, 0) < 0 || dup2(null_out, 1) < 0 ||
		    dup2(errp[1], 2) < 0)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(clang, argv, environ);
		int e = errno;
		if (write(execp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	int rc = p->pid < 0 ? errno : 0;
	free(argv);
	close(errp[1]);
	close(execp[1]);
	if (with_stdin)
		close(inp[1]);
	if (!rc) {
		int e;
		ssize_t r;
		while ((r = read(execp[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
		if (r == (ssize_t)sizeof(e)) { /* exec failed: reap the child */
			rc = e;
			while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	close(execp[0]);
	if (rc) {
		close(errp[0]);
		if (with_stdin)
			close(inp[0]);
		p->pid = -1;
		if (rc == ENOENT || rc == EACCES)
			return visor_errf(err, err_len, -ENOEXEC,
				      "clang-19 not found: apt-get install clang-19 (%s: %s)", clang,
				      strerror(rc));
		return visor_errf(err, err_len, -rc, "cannot run %s: %s", clang, strerror(rc));
	}
	__atomic_fetch_add(&fe_clang_runs, 1, __ATOMIC_RELAXED);
	p->err_fd = errp[0];
	p->in_fd = with_stdin ? inp[0] : -1;
	return 0;
}

void fe_clang_abort(struct fe_clang_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->pid = -1;
	p->in_fd = p->err_fd = -1;
}

int fe_clang_finish(struct fe_clang_proc *p, const char *input, size_t len,
		    struct fe_clang_result *res, char *err, size_t err_len)
{
	memset(res, 0, sizeof(*res));
	if (p->in_fd >= 0) {
		/* clang reads its whole input before it says anything, so writing
		 * all of it first cannot deadlock against its stderr. A failed
		 * send means clang is gone: its status and stderr tell why. */
		const char *q = input;
		while (len) {
			ssize_t w = send(p->in_fd, q, len, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			q += w;
			len -= (size_t)w;
		}
		close(p->in_fd);
		p->in_fd = -1;
	}
	double t_in = fe_now();

	size_t cap = 4096, n = 0;
	char *text = malloc(cap);
	for (;;) {
		if (text && n + 1024 > cap) {
			char *nt = realloc(text, cap * 2);
			if (!nt) {
				free(text);
				text = NULL;
			} else {
				text = nt;
				cap *= 2;
			}
		}
		char sink[1024];
		char *dst = text ? text + n : sink;
		ssize_t r = read(p->err_fd, dst, text ? cap - n - 1 : sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (text)
			n += (size_t)r;
	}
	close(p->err_fd);
	p->err_fd = -1;

	int status;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	while (wait4(p->pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			free(text);
			p->pid = -1;
			return visor_errf(err, err_len, -errno, "wait4: %s", strerror(errno));
		}
	}
	p->pid = -1;
	double now = fe_now();
	res->seconds = now - p->t0;
	res->after_input_s = now - t_in;
	res->maxrss_kb = ru.ru_maxrss;
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (!text)
		return visor_errf(err, err_len, -ENOMEM, "out of memory");
	text[n] = '\0';
	res->stderr_text = text;
	return 0;
}

int fe_clang_run(const char *const *args, size_t nargs, struct fe_clang_result *res, char *err,
		 size_t err_len)
{
	struct fe_clang_proc p;
	memset(res, 0, sizeof(*res));
	int rc = fe_clang_start(args, nargs, false, &p, err, err_len);
	return rc ? rc : fe_clang_finish(&p, NULL, 0, res, err, err_len);
}

void fe_clang_result_free(struct fe_clang_result *res)
{
	free(res->stderr_text);
	res->stderr_text = NULL;
}
