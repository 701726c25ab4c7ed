/* The kernel backend's output channels (src/kernel/ringbuf.c, perfbuf.c,
 * trace_pipe.c) on programs attached to syscalls/sys_enter_getppid and
 * triggered by this test: a ring buffer carries 100k numbered events (x
 * VISOR_TEST_SCALE) that all arrive, in order, none lost, read by a
 * concurrent poller; a perf buffer delivers every record; bpf_printk's line
 * with our pid comes out of the trace pipe. Plus the open errors (wrong map
 * type, no such map) and a callback stopping a poll. Needs root and the
 * kernel's bpf(): otherwise one SKIP line. */
#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "lib/testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define MAGIC 0x76697372u

struct event {
	uint64_t seq;
	uint32_t tgid;
	uint32_t magic;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void trigger(void)
{
	syscall(SYS_getppid);
}

/* config[0] = our tgid, so the programs ignore every other process. */
static int set_target(struct visor_kernel_obj *obj)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "config");
	uint32_t zero = 0;
	uint64_t tgid = (uint64_t)getpid();
	if (!m)
		return -ENOENT;
	return bpf_map_update_elem(visor_kernel_map_fd(m), &zero, &tgid, BPF_ANY) ? -errno : 0;
}

static uint64_t read_u64(struct visor_kernel_obj *obj, const char *map, uint32_t key)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, map);
	uint64_t v = UINT64_MAX;
	if (m && visor_kernel_map_lookup(m, &key, &v))
		v = UINT64_MAX;
	return v;
}

/* Loads and attaches path; 0, or 77 (skip printed) when the kernel will
 * not load it, or 1 after a failed check. */
static int load(const char *path, struct visor_kernel_obj **obj)
{
	char err[512], note[512] = "";
	int rc = visor_kernel_obj_load(path, NULL, obj, err, sizeof(err));
	if (rc == -EPERM || rc == -EACCES || rc == -ENOSYS) {
		printf("SKIP test_kernel_output: cannot load into the kernel: %s\n", err);
		return 77;
	}
	CHECK(rc == 0, "load %s: %s", path, err);
	if (rc)
		return 1;
	CHECK(set_target(*obj) == 0, "%s: setting config[0]", path);
	rc = visor_kernel_attach_all(*obj, note, sizeof(note), err, sizeof(err));
	CHECK(rc == 0, "attach %s: %s", path, err);
	if (rc) {
		visor_kernel_obj_close(*obj);
		*obj = NULL;
		return 1;
	}
	return 0;
}

/* ---- Ring buffer ---------------------------------------------------- */

struct rb_state {
	struct visor_kernel_ringbuf *rb;
	uint64_t want;               /* events to receive */
	_Atomic uint64_t received;
	uint64_t bad_order, bad_content, first_bad_seq;
	_Atomic int done;            /* the producer gave up */
	int poll_error;
	int stop_with;               /* the callback returns this (stop test) */
};

static int rb_event(void *ctx, const void *data, size_t size)
{
	struct rb_state *s = ctx;
	const struct event *e = data;
	uint64_t n = atomic_load(&s->received);
	if (size != sizeof(*e) || e->magic != MAGIC || e->tgid != (uint32_t)getpid()) {
		s->bad_content++;
	} else if (e->seq != n) {
		if (!s->bad_order++)
			s->first_bad_seq = e->seq;
	}
	atomic_store(&s->received, n + 1);
	return s->stop_with;
}

static void *rb_poller(void *arg)
{
	struct rb_state *s = arg;
	double end = now_s() + 60;
	while (atomic_load(&s->received) < s->want && !atomic_load(&s->done) && now_s() < end) {
		int rc = visor_kernel_ringbuf_poll(s->rb, 20);
		if (rc < 0 && rc != -EINTR) {
			s->poll_error = rc;
			break;
		}
	}
	return NULL;
}

static int test_ringbuf(void)
{
	struct visor_kernel_obj *obj;
	int rc = load(PROGS "kernel_out_ringbuf.bpf.o", &obj);
	if (rc)
		return rc;
	char err[512];
	struct visor_kernel_ringbuf *rb = NULL;
	struct visor_kernel_perfbuf *pb = NULL;
	/* The open errors: a map of another type, no such map. */
	rc = visor_kernel_ringbuf_open(obj, "config", rb_event, NULL, &rb, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "not a ring buffer") && !rb, "config: %d %s", rc, err);
	rc = visor_kernel_ringbuf_open(obj, "nope", rb_event, NULL, &rb, err, sizeof(err));
	CHECK(rc == -ENOENT && strstr(err, "nope"), "nope: %d %s", rc, err);
	rc = visor_kernel_perfbuf_open(obj, "events", rb_event, NULL, NULL, &pb, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "not a perf buffer") && !pb, "events as perf: %d %s", rc,
	      err);

	static struct rb_state s;
	memset(&s, 0, sizeof(s));
	rc = visor_kernel_ringbuf_open(obj, "events", rb_event, &s, &s.rb, err, sizeof(err));
	CHECK(rc == 0, "ringbuf_open: %s", err);
	if (rc) {
		visor_kernel_obj_close(obj);
		return 1;
	}
	double scale = test_scale();
	s.want = (uint64_t)(100000 * scale);
	if (s.want < 1000)
		s.want = 1000;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, rb_poller, &s) == 0, "pthread_create");
	/* The ring (256 KiB) holds ~10900 events: keep at most 4096 in flight
	 * so a descheduled poller never makes the producer's reserve fail. */
	double start = now_s(), end = start + 60;
	uint64_t sent = 0;
	while (sent < s.want && now_s() < end) {
		if (sent - atomic_load(&s.received) >= 4096) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			continue;
		}
		trigger();
		sent++;
	}
	while (atomic_load(&s.received) < s.want && now_s() < end) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&s.done, 1);
	pthread_join(th, NULL);
	double took = now_s() - start;
	CHECK(s.poll_error == 0, "ringbuf_poll: %d", s.poll_error);
	CHECK_EQ_U64(sent, s.want, "events triggered");
	CHECK_EQ_U64(atomic_load(&s.received), s.want, "events received");
	CHECK(s.bad_order == 0, "%llu events out of order (first seq %llu)",
	      (unsigned long long)s.bad_order, (unsigned long long)s.first_bad_seq);
	CHECK(s.bad_content == 0, "%llu events with wrong size/content",
	      (unsigned long long)s.bad_content);
	CHECK_EQ_U64(read_u64(obj, "dropped", 0), 0, "reserve failures in the program");
	printf("ringbuf: %llu events in order in %.2f s\n", (unsigned long long)s.want, took);

	/* A callback's non-zero value stops the poll and is returned. */
	s.stop_with = 7;
	trigger();
	trigger();
	rc = 0;
	for (int i = 0; i < 50 && rc == 0; i++)
		rc = visor_kernel_ringbuf_poll(s.rb, 100);
	CHECK(rc == 7, "poll with a stopping callback returned %d, want 7", rc);
	s.stop_with = 0;
	visor_kernel_ringbuf_poll(s.rb, 100); /* the second event */
	CHECK_EQ_U64(atomic_load(&s.received), s.want + 2, "events after the stop");
	CHECK(s.bad_order == 0, "order after the stop");
	rc = visor_kernel_ringbuf_poll(s.rb, 0);
	CHECK(rc == 0, "an empty ring polled %d", rc);
	visor_kernel_ringbuf_free(s.rb);
	visor_kernel_obj_close(obj);
	return 0;
}

/* ---- Perf buffer ------------------------------------------------------ */

#define PERF_EVENTS 2000

struct pb_state {
	uint64_t records, lost, bad;
	uint8_t seen[PERF_EVENTS];
};

static int pb_record(void *ctx, const void *data, size_t size)
{
	struct pb_state *s = ctx;
	struct event ev = {0}, *e = &ev;
	/* Perf samples are only 4-byte aligned (after their u32 size). */
	memcpy(&ev, data, size < sizeof(ev) ? size : sizeof(ev));
	s->records++;
	/* perf pads raw samples to 8 bytes with their size field: >= 16. */
	if (size < sizeof(*e) || e->magic != MAGIC || e->tgid != (uint32_t)getpid() ||
	    e->seq >= PERF_EVENTS || s->seen[e->seq]++)
		s->bad++;
	return 0;
}

static void pb_lost(void *ctx, int cpu, uint64_t count)
{
	struct pb_state *s = ctx;
	(void)cpu;
	s->lost += count;
}

static int test_perfbuf(void)
{
	struct visor_kernel_obj *obj;
	int rc = load(PROGS "kernel_out_perf.bpf.o", &obj);
	if (rc)
		return rc;
	char err[512];
	static struct pb_state s;
	memset(&s, 0, sizeof(s));
	struct visor_kernel_perfbuf *pb;
	rc = visor_kernel_perfbuf_open(obj, "records", pb_record, pb_lost, &s, &pb, err,
				       sizeof(err));
	CHECK(rc == 0, "perfbuf_open: %s", err);
	if (rc) {
		visor_kernel_obj_close(obj);
		return 1;
	}
	for (int i = 0; i < PERF_EVENTS; i++) {
		trigger();
		if (i % 256 == 255)
			visor_kernel_perfbuf_poll(pb, 0);
	}
	double end = now_s() + 10;
	while (s.records + s.lost < PERF_EVENTS && now_s() < end)
		visor_kernel_perfbuf_poll(pb, 50);
	CHECK_EQ_U64(s.records, PERF_EVENTS, "perf records received");
	CHECK_EQ_U64(s.lost, 0, "perf records lost");
	CHECK_EQ_U64(s.bad, 0, "perf records malformed or repeated");
	visor_kernel_perfbuf_free(pb);
	visor_kernel_obj_close(obj);
	return 0;
}

/* ---- Trace pipe --------------------------------------------------------- */

struct trace_state {
	char want[64];
	int found, lines;
	char sample[256];
};

static void trace_line(void *ctx, const char *line)
{
	struct trace_state *s = ctx;
	s->lines++;
	if (strstr(line, s->want)) {
		/* "comm-pid [cpu] flags ts: bpf_trace_printk: visor-test pid" */
		if (!s->found++)
			snprintf(s->sample, sizeof(s->sample), "%s", line);
	}
}

static int test_trace_pipe(void)
{
	char err[512];
	struct visor_kernel_trace *tr;
	/* One reader at a time: wait for a concurrent one (another test). */
	int rc;
	double busy_end = now_s() + 15;
	while ((rc = visor_kernel_trace_open(&tr, err, sizeof(err))) == -EBUSY && now_s() < busy_end) {
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	CHECK(rc == 0, "trace_open: %s", err);
	if (rc)
		return 1;
	struct visor_kernel_obj *obj;
	rc = load(PROGS "kernel_out_printk.bpf.o", &obj);
	if (rc) {
		visor_kernel_trace_close(tr);
		return rc;
	}
	struct trace_state s = {0};
	snprintf(s.want, sizeof(s.want), "visor-test %d", (int)getpid());
	/* Triggered again until seen, in case a line is slow to come. */
	double end = now_s() + 10;
	int triggered = 0;
	while (!s.found && now_s() < end) {
		trigger();
		triggered++;
		rc = visor_kernel_trace_poll(tr, 200, trace_line, &s);
		CHECK(rc >= 0, "trace_poll: %d", rc);
		if (rc < 0)
			break;
	}
	CHECK(s.found, "no '%s' line on the trace pipe (%d lines read)", s.want, s.lines);
	CHECK(!s.found || strstr(s.sample, "bpf_trace_printk: "), "line format: %s", s.sample);
	CHECK(!strchr(s.sample, '\n'), "a line with its newline: %s", s.sample);
	uint32_t key = (uint32_t)getpid();
	CHECK_EQ_U64(read_u64(obj, "calls", key), triggered, "calls counted by the program");
	visor_kernel_obj_close(obj);
	visor_kernel_trace_close(tr);

	/* visor_trace_print runs for its timeout and returns the line count. */
	FILE *out = tmpfile();
	CHECK(out != NULL, "tmpfile");
	if (out) {
		double t0 = now_s();
		double busy = t0 + 15;
		while ((rc = visor_trace_print(out, 150, err, sizeof(err))) == -EBUSY &&
		       now_s() < busy)
			t0 = now_s();
		double took = now_s() - t0;
		CHECK(rc >= 0, "visor_trace_print: %d %s", rc, err);
		CHECK(took >= 0.14 && took < 2, "visor_trace_print took %.3f s for 150 ms", took);
		fclose(out);
	}
	return 0;
}

int main(void)
{
	if (geteuid() != 0)
		return test_skip("test_kernel_output", "needs root (bpf(), tracepoints, trace pipe)");
	int rc = test_ringbuf();
	if (rc == 77)
		return rc;
	test_perfbuf();
	test_trace_pipe();
	return test_summary("test_kernel_output");
}
