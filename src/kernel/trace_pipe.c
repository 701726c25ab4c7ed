/* The trace pipe: what bpf_trace_printk (bpf_printk) writes, one line per
 * call, read from tracefs's trace_pipe the way BCC's trace_print does.
 * Reading consumes, and the kernel lets one reader at a time open it
 * (EBUSY for the others). tracefs is
 * found at /sys/kernel/tracing or /sys/kernel/debug/tracing, and mounted
 * at /sys/kernel/tracing when it is missing and we are root (a fresh
 * machine mounts neither). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel_internal.h"

#define TRACE_LINE_MAX 4096

struct visor_kernel_trace {
	int fd;
	size_t len;                 /* bytes of an incomplete line in buf */
	char buf[TRACE_LINE_MAX * 2];
};

static int has_trace_pipe(const char *dir, char *path, size_t len)
{
	snprintf(path, len, "%s/trace_pipe", dir);
	return access(path, F_OK) == 0;
}

/* Finds trace_pipe into path, mounting tracefs when root and missing. */
static int find_trace_pipe(char *path, size_t len, char *err, size_t err_len)
{
	const char *dir;
	bool mounted;
	int rc = visor_kernel_tracefs(&dir, &mounted, err, err_len);
	if (rc == -EACCES)
		return visor_errf(err, err_len, rc,
				  "reading the trace pipe needs root: tracefs is not mounted (or not "
				  "readable) at %s", dir);
	if (rc)
		return rc;
	if (mounted)
		fprintf(stderr, "visor: mounted tracefs at %s\n", dir);
	if (!has_trace_pipe(dir, path, len))
		return visor_errf(err, err_len, -ENOENT,
				  "%s has no trace_pipe (a kernel without tracing?)", dir);
	return 0;
}

int visor_kernel_trace_open(struct visor_kernel_trace **tr, char *err, size_t err_len)
{
	*tr = NULL;
	char path[64];
	int rc = find_trace_pipe(path, sizeof(path), err, err_len);
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == EACCES || e == EPERM)
			return visor_errf(err, err_len, -e, "reading the trace pipe needs root (%s: %s)",
					  path, kernel_strerror(e));
		if (e == EBUSY)
			return visor_errf(err, err_len, -e, "%s is being read by another process (one "
					  "reader at a time)", path);
		return visor_errf(err, err_len, -e, "%s: %s", path, kernel_strerror(e));
	}
	struct visor_kernel_trace *t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return visor_errf(err, err_len, -ENOMEM, "trace pipe: out of memory");
	}
	t->fd = fd;
	*tr = t;
	return 0;
}

/* Hands every complete line of buf to fn (without its newline) and keeps
 * the rest; a line longer than the buffer is cut and delivered. */
static int deliver_lines(struct visor_kernel_trace *t, void (*fn)(void *, const char *), void *ctx)
{
	int lines = 0;
	size_t start = 0;
	for (size_t i = 0; i < t->len; i++) {
		if (t->buf[i] != '\n')
			continue;
		t->buf[i] = '\0';
		if (fn)
			fn(ctx, t->buf + start);
		lines++;
		start = i + 1;
	}
	if (start == 0 && t->len >= TRACE_LINE_MAX) {
		t->buf[t->len] = '\0';
		if (fn)
			fn(ctx, t->buf);
		lines++;
		start = t->len;
	}
	memmove(t->buf, t->buf + start, t->len - start);
	t->len -= start;
	return lines;
}

int visor_kernel_trace_poll(struct visor_kernel_trace *tr, int timeout_ms,
			    void (*fn)(void *ctx, const char *line), void *ctx)
{
	if (!tr)
		return -EINVAL;
	struct pollfd p = {.fd = tr->fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	int lines = 0;
	for (;;) {
		/* Room for the NUL deliver_lines may add after a cut line. */
		size_t room = sizeof(tr->buf) - 1 - tr->len;
		ssize_t n = read(tr->fd, tr->buf + tr->len, room > TRACE_LINE_MAX ? TRACE_LINE_MAX : room);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				return lines ? lines : -EINTR;
			return -errno;
		}
		if (n == 0)
			break;
		tr->len += (size_t)n;
		lines += deliver_lines(tr, fn, ctx);
	}
	return lines;
}

void visor_kernel_trace_close(struct visor_kernel_trace *tr)
{
	if (!tr)
		return;
	close(tr->fd);
	free(tr);
}

static void print_line(void *ctx, const char *line)
{
	fprintf(ctx, "%s\n", line);
	fflush(ctx);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int visor_trace_print(FILE *out, int timeout_ms, char *err, size_t err_len)
{
	struct visor_kernel_trace *tr;
	int rc = visor_kernel_trace_open(&tr, err, err_len);
	if (rc)
		return rc;
	int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int total = 0;
	for (;;) {
		int wait = -1;
		if (end >= 0) {
			int64_t left = end - now_ms();
			if (left <= 0)
				break;
			wait = (int)left;
		}
		int n = visor_kernel_trace_poll(tr, wait, print_line, out);
		if (n < 0) {
			rc = visor_errf(err, err_len, n, "trace pipe: %s", kernel_strerror(-n));
			break;
		}
		total += n;
	}
	visor_kernel_trace_close(tr);
	return rc ? rc : total;
}
