/* bpf_trace_printk output, as BCC's trace_print and trace_fields: on the
 * kernel the trace pipe (opened on first use), on visor's engine the lines
 * the engine's printk target queued here, in the trace pipe's shape
 * ("comm-pid [cpu] flags ts: bpf_trace_printk: text") with this process as
 * the task. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "api_internal.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void push_line(struct api_lines *q, const char *line)
{
	if (q->count == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		char **grown = malloc(cap * sizeof(*grown));
		if (!grown)
			return;
		for (size_t i = 0; i < q->count; i++)
			grown[i] = q->line[(q->head + i) % q->cap];
		free(q->line);
		q->line = grown;
		q->head = 0;
		q->cap = cap;
	}
	char *copy = strdup(line);
	if (copy)
		q->line[(q->head + q->count++) % q->cap] = copy;
}

static char *pop_line(struct api_lines *q)
{
	if (!q->count)
		return NULL;
	char *l = q->line[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	return l;
}

void api_vm_printk(void *ctx, const char *line, size_t len)
{
	struct visor_bpf *b = ctx;
	char text[640];
	while (len && (line[len - 1] == '\n' || line[len - 1] == 0))
		len--;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(text, sizeof(text), "%16s-%-7d [%03d] ..... %llu.%06ld: bpf_trace_printk: %.*s",
		 program_invocation_short_name, (int)getpid(), 0, (unsigned long long)ts.tv_sec,
		 ts.tv_nsec / 1000, (int)(len < 512 ? len : 512), line);
	push_line(&b->lines, text);
}

/* bpf_trace_printk("...\n") ends in a newline and the kernel's
 * tracepoint adds one: the empty line that makes is not output. */
static void on_line(void *ctx, const char *line)
{
	if (line[strspn(line, " \t\r\n")])
		push_line(ctx, line);
}

/* Fills b->lines from the trace pipe, waiting up to timeout_ms: lines
 * queued, or -errno. */
static int fill(struct visor_bpf *b, int timeout_ms)
{
	if (b->lines.count)
		return (int)b->lines.count;
	if (b->backend == VISOR_BACKEND_VM) {
		if (timeout_ms > 0)
			nanosleep(&(struct timespec){timeout_ms / 1000, (timeout_ms % 1000) * 1000000L},
				  NULL);
		return (int)b->lines.count;
	}
	if (!b->trace) {
		char err[512];
		int rc = visor_kernel_trace_open(&b->trace, err, sizeof(err));
		if (rc)
			return api_err(b, rc, "%s", err);
	}
	int rc = visor_kernel_trace_poll(b->trace, timeout_ms, on_line, &b->lines);
	if (rc < 0 && !b->lines.count)
		return rc == -EINTR ? rc : api_err(b, rc, "trace pipe: %s", strerror(-rc));
	return (int)b->lines.count;
}

static volatile sig_atomic_t stopped;

static void on_stop(int sig)
{
	stopped = sig;
}

int visor_bpf_trace_print(struct visor_bpf *b, FILE *out, int timeout_ms, int max_lines)
{
	if (!b || !out)
		return -EINVAL;
	struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term;
	if (timeout_ms < 0) {
		/* Until SIGINT/SIGTERM: caught here, no SA_RESTART so reads end. */
		stopped = 0;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	}
	double end = now_s() + (timeout_ms < 0 ? 0 : timeout_ms / 1000.0);
	int printed = 0, rc = 0;
	while (!max_lines || printed < max_lines) {
		int wait = 100;
		if (timeout_ms >= 0) {
			double left = end - now_s();
			if (left < 0)
				left = 0;
			if (left * 1000 < wait)
				wait = (int)(left * 1000);
		}
		rc = fill(b, wait);
		char *line;
		while ((!max_lines || printed < max_lines) && (line = pop_line(&b->lines))) {
			fprintf(out, "%s\n", line);
			free(line);
			printed++;
		}
		fflush(out);
		if (rc < 0 && rc != -EINTR)
			break;
		rc = 0;
		if (timeout_ms < 0 ? stopped != 0 : now_s() >= end)
			break;
	}
	if (timeout_ms < 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	return rc < 0 ? rc : printed;
}

/* BCC's trace_fields: "task-pid [cpu] flags ts: sym: msg". 0 when line is
 * not of that shape (lost-events lines, "CPU:..."). */
static int parse_fields(const char *line, struct visor_bpf_trace_fields *f)
{
	memset(f, 0, sizeof(*f));
	const char *br = strstr(line, " [");
	if (!br)
		return 0;
	/* task-pid: the part before " [", the pid after its last '-'. */
	const char *s = line;
	while (*s == ' ')
		s++;
	const char *e = br;
	while (e > s && e[-1] == ' ')
		e--;
	const char *dash = e;
	while (dash > s && dash[-1] != '-')
		dash--;
	if (dash <= s)
		return 0;
	snprintf(f->task, sizeof(f->task), "%.*s", (int)(dash - 1 - s), s);
	f->pid = atoi(dash);
	char *p;
	f->cpu = (int)strtol(br + 2, &p, 10);
	if (*p != ']')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	const char *colon = strchr(p, ':');
	if (!colon)
		return 0;
	/* "flags ts" or, on old kernels, just "ts". */
	char mid[64];
	snprintf(mid, sizeof(mid), "%.*s", (int)(colon - p), p);
	char *sp = strrchr(mid, ' ');
	if (sp) {
		*sp = 0;
		snprintf(f->flags, sizeof(f->flags), "%.7s", mid);
		f->ts = strtod(sp + 1, NULL);
	} else {
		f->ts = strtod(mid, NULL);
	}
	const char *msg = colon + 1;
	while (*msg == ' ')
		msg++;
	const char *sym = strstr(msg, ": ");
	if (sym)
		msg = sym + 2;
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
	return 1;
}

int visor_bpf_trace_fields(struct visor_bpf *b, struct visor_bpf_trace_fields *f,
			   int timeout_ms)
{
	if (!b || !f)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	double end = now_s() + (timeout_ms < 0 ? 1e9 : timeout_ms / 1000.0);
	for (;;) {
		char *line;
		while ((line = pop_line(&b->lines))) {
			int ok = parse_fields(line, f);
			free(line);
			if (ok)
				return 1;
		}
		double left = end - now_s();
		if (left <= 0)
			return 0;
		int rc = fill(b, left * 1000 < 100 ? (int)(left * 1000) + 1 : 100);
		if (rc < 0)
			return rc;
	}
}

void api_trace_free(struct visor_bpf *b)
{
	char *line;
	while ((line = pop_line(&b->lines)))
		free(line);
	free(b->lines.line);
	memset(&b->lines, 0, sizeof(b->lines));
	visor_kernel_trace_close(b->trace);
	b->trace = NULL;
}
