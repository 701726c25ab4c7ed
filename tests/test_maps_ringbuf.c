/* Ring buffer: the kernel's record layout (8-byte header, BUSY/DISCARD
 * bits, pg_off, 8-byte rounding), reserve/submit/discard/output/query,
 * out-of-order commits, full rings, wrap-around (a record crossing the end
 * is contiguous), the consumer callback and its errors, wakeups, and several
 * producers at once. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <visor/maps.h>

#include "testutil.h"

static struct visor_map *mk(uint32_t size)
{
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_RINGBUF, .max_entries = size);
	if (visor_map_create(&o, &m))
		abort();
	return m;
}

struct seen {
	int n;
	size_t sizes[64];
	uint32_t first_word[64];
	int stop_at;
};

static int cb(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	if (s->n < 64) {
		s->sizes[s->n] = size;
		memcpy(&s->first_word[s->n], data, size >= 4 ? 4 : size);
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? -42 : 0;
}

static void test_basic(void)
{
	struct visor_map *m = mk(4096);
	struct seen s = {0};
	CHECK(visor_ringbuf_query(m, VISOR_RB_RING_SIZE) == 4096, "ring size");
	CHECK(visor_ringbuf_query(m, VISOR_RB_AVAIL_DATA) == 0, "empty");
	CHECK(visor_ringbuf_query(m, 99) == 0, "unknown query");

	uint32_t *a = visor_ringbuf_reserve(m, 5, 0);
	CHECK(a && ((uintptr_t)a & 7) == 0, "reserve");
	/* The header before the sample: len with BUSY, then the page offset. */
	uint32_t *hdr = a - 2;
	CHECK(hdr[0] == (5 | VISOR_RINGBUF_BUSY_BIT), "header len 0x%x", hdr[0]);
	CHECK(hdr[1] == 3, "pg_off %u (after 3 bookkeeping pages)", hdr[1]);
	CHECK(visor_ringbuf_query(m, VISOR_RB_PROD_POS) == 16, "prod pos rounds to 8");
	CHECK(visor_map_value_ok(m, a, 5), "sample memory is valid for programs");
	CHECK(!visor_ringbuf_reserve(m, 8, 1), "reserve flags must be 0");

	/* Records are consumed in reservation order: b waits for a. */
	uint32_t *b = visor_ringbuf_reserve(m, 4, 0);
	*b = 2;
	CHECK(visor_ringbuf_submit(b, 0) == 0, "submit b");
	CHECK(visor_ringbuf_consume(m, cb, &s) == 0 && s.n == 0, "a still busy");
	*a = 1;
	CHECK(visor_ringbuf_submit(a, 0) == 0, "submit a");
	CHECK(hdr[0] == 5, "BUSY cleared");
	CHECK(visor_ringbuf_submit(a, 0) == -EINVAL, "double submit refused");
	int stack_var;
	CHECK(visor_ringbuf_submit(&stack_var, 0) == -EINVAL, "foreign pointer refused");
	CHECK(visor_ringbuf_consume(m, cb, &s) == 2 && s.n == 2, "both consumed");
	CHECK(s.sizes[0] == 5 && s.first_word[0] == 1 && s.sizes[1] == 4 && s.first_word[1] == 2,
	      "in order with sizes");

	/* Discarded records are skipped; output copies. */
	void *d = visor_ringbuf_reserve(m, 100, 0);
	CHECK(visor_ringbuf_discard(d, 0) == 0, "discard");
	CHECK((((uint32_t *)d)[-2] & VISOR_RINGBUF_DISCARD_BIT), "DISCARD bit set");
	uint32_t word = 7;
	CHECK(visor_ringbuf_output(m, &word, 4, 0) == 0, "output");
	CHECK(visor_ringbuf_output(m, &word, 4, 4) == -EINVAL, "output flags");
	s.n = 0;
	CHECK(visor_ringbuf_consume(m, cb, &s) == 1 && s.first_word[0] == 7, "discard skipped");
	CHECK(visor_ringbuf_query(m, VISOR_RB_AVAIL_DATA) == 0 &&
	      visor_ringbuf_query(m, VISOR_RB_CONS_POS) == visor_ringbuf_query(m, VISOR_RB_PROD_POS),
	      "all consumed");

	/* Full: at most size - 8 bytes of records outstanding. */
	CHECK(!visor_ringbuf_reserve(m, 4096 - 8, 0), "a record as big as the ring never fits");
	void *big = visor_ringbuf_reserve(m, 4096 - 16, 0);
	CHECK(big, "size - 8 bytes of record fits");
	CHECK(!visor_ringbuf_reserve(m, 1, 0), "then the ring is full");
	CHECK(visor_ringbuf_output(m, &word, 4, 0) == -EAGAIN, "output on a full ring");
	CHECK(visor_ringbuf_submit(big, VISOR_RB_NO_WAKEUP) == 0, "submit big");
	s.n = 0;
	CHECK(visor_ringbuf_consume(m, cb, &s) == 1 && s.sizes[0] == 4096 - 16, "big consumed");

	/* The callback's error stops consumption; that record counts as read. */
	for (uint32_t i = 0; i < 3; i++)
		visor_ringbuf_output(m, &i, 4, 0);
	s = (struct seen){.stop_at = 2};
	CHECK(visor_ringbuf_consume(m, cb, &s) == -42 && s.n == 2, "stop with error");
	s.stop_at = 0;
	s.n = 0;
	CHECK(visor_ringbuf_consume(m, cb, &s) == 1 && s.first_word[0] == 2, "rest consumed later");

	/* Other map calls are not supported, as in the kernel. */
	uint32_t k = 0, v;
	CHECK(visor_map_lookup(m, NULL, &v) == -VISOR_ENOTSUPP, "lookup");
	CHECK(visor_map_lookup(m, &k, &v) == -EINVAL, "lookup with a key");
	CHECK(visor_map_update(m, NULL, &v, 0) == -VISOR_ENOTSUPP, "update");
	CHECK(visor_map_delete(m, NULL) == -VISOR_ENOTSUPP, "delete");
	CHECK(visor_map_get_next_key(m, NULL, &k) == -VISOR_ENOTSUPP, "get_next_key");
	struct visor_map *h;
	VISOR_OPTS(visor_map_create_opts, ho, .type = VISOR_MAP_TYPE_HASH, .key_size = 4,
		   .value_size = 4, .max_entries = 4);
	visor_map_create(&ho, &h);
	CHECK(!visor_ringbuf_reserve(h, 8, 0) && visor_ringbuf_output(h, &v, 4, 0) == -EINVAL &&
	      visor_ringbuf_consume(h, cb, &s) == -EINVAL && visor_ringbuf_fd(h) == -EINVAL,
	      "ring calls on a hash map");
	visor_map_destroy(h);
	visor_map_destroy(m);
}

static void test_wrap(void)
{
	struct visor_map *m = mk(4096);
	struct seen s = {0};
	/* Advance so that the next record straddles the end of the data area. */
	for (int i = 0; i < 3; i++) {
		void *p = visor_ringbuf_reserve(m, 1000 - 8, 0); /* 1000 bytes each */
		visor_ringbuf_submit(p, 0);
	}
	visor_ringbuf_consume(m, cb, &s);
	uint8_t *p = visor_ringbuf_reserve(m, 2000, 0); /* at 3000, ends at 5008 */
	CHECK(p, "straddling reserve");
	for (int i = 0; i < 2000; i++)
		p[i] = (uint8_t)i;
	visor_ringbuf_submit(p, 0);
	CHECK(visor_ringbuf_consume(m, NULL, &s) == -EINVAL, "NULL callback refused");
	s.n = 0;
	CHECK(visor_ringbuf_consume(m, cb, &s) == 1 && s.sizes[0] == 2000, "wrapped record");
	CHECK(s.first_word[0] == 0x03020100, "contents at the start");
	/* The record's tail landed at the start of the data area (same memory). */
	uint8_t *start = p - 8 - 3000;
	CHECK(start[0] == (uint8_t)(4096 - 3008) && start[500] == (uint8_t)(500 + 4096 - 3008),
	      "the second mapping aliases the first");
	CHECK(visor_ringbuf_query(m, VISOR_RB_CONS_POS) == 5008, "cons pos keeps counting");

	/* Many laps with random sizes: every record intact, in order. */
	uint32_t seq = 0, next = 0;
	uint64_t x = 99;
	int laps = (int)(20000 * test_scale());
	for (int i = 0; i < laps; i++) {
		x = x * 6364136223846793005ULL + 1;
		uint32_t size = 4 + (uint32_t)(x >> 33) % 600;
		uint32_t *r = visor_ringbuf_reserve(m, size, 0);
		if (!r) {
			s.n = 0;
			visor_ringbuf_consume(m, cb, &s);
			for (int j = 0; j < s.n && j < 64; j++)
				CHECK(s.first_word[j] == next + (uint32_t)j, "sequence");
			next += (uint32_t)s.n;
			r = visor_ringbuf_reserve(m, size, 0);
			CHECK(r, "reserve after consume");
		}
		*r = seq++;
		if (x & (1ULL << 40)) {
			visor_ringbuf_discard(r, 0);
			seq--;
		} else {
			visor_ringbuf_submit(r, 0);
		}
	}
	s.n = 0;
	visor_ringbuf_consume(m, cb, &s);
	CHECK(next + (uint32_t)s.n == seq, "all %u records seen (%u)", seq, next + s.n);
	visor_map_destroy(m);
}

static void test_wakeup(void)
{
	struct visor_map *m = mk(4096);
	struct seen s = {0};
	int fd = visor_ringbuf_fd(m);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	CHECK(fd >= 0 && poll(&p, 1, 0) == 0, "nothing to wake for");
	CHECK(visor_ringbuf_poll(m, cb, &s, 10) == 0, "poll times out");
	uint32_t w = 1;
	visor_ringbuf_output(m, &w, 4, VISOR_RB_NO_WAKEUP);
	CHECK(poll(&p, 1, 0) == 0, "NO_WAKEUP does not notify");
	visor_ringbuf_output(m, &w, 4, 0);
	CHECK(poll(&p, 1, 0) == 0, "consumer not caught up: no notification");
	CHECK(visor_ringbuf_poll(m, cb, &s, 0) == 2, "poll consumes");
	visor_ringbuf_output(m, &w, 4, 0);
	CHECK(poll(&p, 1, 0) == 1, "caught-up consumer is notified");
	CHECK(visor_ringbuf_poll(m, cb, &s, 1000) == 1, "poll");
	visor_ringbuf_output(m, &w, 4, VISOR_RB_NO_WAKEUP);
	visor_ringbuf_output(m, &w, 4, VISOR_RB_FORCE_WAKEUP);
	CHECK(poll(&p, 1, 0) == 1, "FORCE_WAKEUP notifies");
	CHECK(visor_ringbuf_poll(m, cb, &s, 1000) == 2, "poll");
	visor_map_destroy(m);
}

/* Several producers, one consumer thread: every record exactly once. */
#define PRODUCERS 4
struct prod_arg {
	struct visor_map *m;
	uint32_t id, n;
};
static _Atomic int producers_done;

static void *producer(void *arg)
{
	struct prod_arg *a = arg;
	bool discarded = false;
	for (uint32_t i = 0; i < a->n;) {
		uint32_t *r = visor_ringbuf_reserve(a->m, 8 + (i % 5) * 8, 0);
		if (!r) {
			sched_yield();
			continue;
		}
		r[0] = a->id;
		r[1] = i;
		if (i % 7 == 3 && !discarded) {
			visor_ringbuf_discard(r, 0); /* then send it again */
			discarded = true;
			continue;
		}
		visor_ringbuf_submit(r, 0);
		discarded = false;
		i++;
	}
	atomic_fetch_add(&producers_done, 1);
	return NULL;
}

struct cons_state {
	uint32_t next[PRODUCERS];
	int bad;
};

static int cons_cb(void *ctx, void *data, size_t size)
{
	struct cons_state *c = ctx;
	uint32_t *r = data;
	if (r[0] >= PRODUCERS || r[1] != c->next[r[0]] || size != 8 + (r[1] % 5) * 8)
		c->bad++;
	else
		c->next[r[0]]++;
	return 0;
}

static void test_producers(void)
{
	struct visor_map *m = mk(8192);
	pthread_t t[PRODUCERS];
	struct prod_arg a[PRODUCERS];
	uint32_t n = (uint32_t)(50000 * test_scale());
	struct cons_state c = {{0}, 0};
	atomic_store(&producers_done, 0);
	for (int i = 0; i < PRODUCERS; i++) {
		a[i] = (struct prod_arg){m, (uint32_t)i, n};
		pthread_create(&t[i], NULL, producer, &a[i]);
	}
	while (atomic_load(&producers_done) < PRODUCERS)
		visor_ringbuf_poll(m, cons_cb, &c, 5);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
	visor_ringbuf_consume(m, cons_cb, &c);
	CHECK(!c.bad, "%d records out of order or corrupt", c.bad);
	for (int i = 0; i < PRODUCERS; i++)
		CHECK(c.next[i] == n, "producer %d: %u of %u", i, c.next[i], n);
	visor_map_destroy(m);
}

int main(void)
{
	test_basic();
	test_wrap();
	test_wakeup();
	test_producers();
	return test_summary("test_maps_ringbuf");
}
