/* LPM trie: longest-prefix matches for IPv4 and IPv6, the kernel's update
 * and delete rules, iteration order (more specific first), and random
 * operations checked against a brute-force model (a list of prefixes). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>

#include "testutil.h"

struct k4 {
	uint32_t plen;
	uint8_t d[4];
};
struct k16 {
	uint32_t plen;
	uint8_t d[16];
};

static struct visor_map *mk(uint32_t ks, uint32_t max)
{
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_LPM_TRIE, .key_size = ks,
		   .value_size = 8, .max_entries = max, .map_flags = VISOR_F_NO_PREALLOC);
	if (visor_map_create(&o, &m))
		abort();
	return m;
}

static uint64_t lookup4(struct visor_map *m, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct k4 k = {32, {a, b, c, d}};
	uint64_t v;
	return visor_map_lookup(m, &k, &v) ? 0 : v;
}

static void put4(struct visor_map *m, uint32_t plen, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
		 uint64_t v)
{
	struct k4 k = {plen, {a, b, c, d}};
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "insert %u.%u.%u.%u/%u", a, b, c, d, plen);
}

static void test_ipv4(void)
{
	struct visor_map *m = mk(8, 16);
	put4(m, 8, 10, 0, 0, 0, 1);
	put4(m, 16, 10, 1, 0, 0, 2);
	put4(m, 24, 10, 1, 2, 0, 3);
	put4(m, 32, 10, 1, 2, 3, 4);
	put4(m, 0, 0, 0, 0, 0, 5);
	CHECK(lookup4(m, 10, 1, 2, 3) == 4, "/32");
	CHECK(lookup4(m, 10, 1, 2, 4) == 3, "/24");
	CHECK(lookup4(m, 10, 1, 9, 9) == 2, "/16");
	CHECK(lookup4(m, 10, 9, 9, 9) == 1, "/8");
	CHECK(lookup4(m, 11, 0, 0, 0) == 5, "default route");

	/* A lookup key shorter than the stored prefix does not match it. */
	struct k4 k = {12, {10, 1, 0, 0}};
	uint64_t v;
	CHECK(visor_map_lookup(m, &k, &v) == 0 && v == 1, "/12 lookup matches /8 only");
	k.plen = 33;
	CHECK(visor_map_lookup(m, &k, &v) == -ENOENT, "prefixlen beyond the key");
	CHECK(visor_map_update(m, &k, &v, 0) == -EINVAL, "insert /33");
	CHECK(visor_map_delete(m, &k) == -EINVAL, "delete /33");

	/* Update flags; only prefix bits count when matching a stored key. */
	k = (struct k4){16, {10, 1, 77, 77}};
	CHECK(visor_map_update(m, &k, &v, VISOR_NOEXIST) == -EEXIST, "NOEXIST");
	k.plen = 20;
	CHECK(visor_map_update(m, &k, &v, VISOR_EXIST) == -ENOENT, "EXIST");
	CHECK(visor_map_update(m, &k, &v, 3) == -EINVAL, "flags 3");
	k = (struct k4){16, {10, 1, 99, 99}};
	CHECK(visor_map_delete(m, &k) == 0, "delete by prefix");
	CHECK(lookup4(m, 10, 1, 9, 9) == 1, "/16 gone: /8 now");
	CHECK(lookup4(m, 10, 1, 2, 3) == 4, "/32 still reachable");
	CHECK(visor_map_delete(m, &k) == -ENOENT, "delete again");

	/* Postorder: more specific prefixes before the ones containing them,
	 * stored data returned as inserted. */
	struct visor_map *o = mk(8, 100);
	put4(o, 16, 192, 168, 0, 0, 1);
	put4(o, 24, 192, 168, 0, 0, 1);
	put4(o, 24, 192, 168, 1, 0, 1);
	put4(o, 24, 192, 168, 128, 0, 1);
	put4(o, 8, 10, 0, 0, 0, 1);
	put4(o, 32, 10, 1, 2, 3, 1);
	put4(o, 0, 0, 0, 0, 0, 1);
	put4(o, 1, 128, 0, 0, 0, 1);
	put4(o, 1, 0, 0, 0, 0, 1);
	put4(o, 4, 0xff, 0xff, 0xff, 0xff, 1); /* host bits kept: 255.255.255.255/4 */
	/* The kernel's order for this set (test_maps_kernel_diff checks it live). */
	static const char *want[] = {"10.1.2.3/32", "10.0.0.0/8", "0.0.0.0/1",
				     "192.168.0.0/24", "192.168.1.0/24", "192.168.128.0/24",
				     "192.168.0.0/16", "255.255.255.255/4", "128.0.0.0/1",
				     "0.0.0.0/0"};
	struct k4 cur, next;
	int i = 0, rc;
	for (rc = visor_map_get_next_key(o, NULL, &next); !rc;
	     rc = visor_map_get_next_key(o, &cur, &next), i++) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%u", next.d[0], next.d[1], next.d[2],
			 next.d[3], next.plen);
		CHECK(i < 10 && !strcmp(buf, want[i]), "order %d: %s, want %s", i, buf,
		      i < 10 ? want[i] : "end");
		cur = next;
	}
	CHECK(i == 10 && rc == -ENOENT, "10 keys, then -ENOENT");
	cur = (struct k4){23, {192, 168, 1, 0}};
	CHECK(visor_map_get_next_key(o, &cur, &next) == 0 && next.plen == 32, "missing -> first");
	CHECK(visor_map_lookup_and_delete(o, &cur, &v) == -VISOR_ENOTSUPP, "lookup_and_delete");
	visor_map_destroy(o);

	/* Full: -ENOSPC, but replacing an existing prefix still works. */
	struct visor_map *f = mk(8, 2);
	put4(f, 8, 1, 0, 0, 0, 1);
	put4(f, 8, 2, 0, 0, 0, 2);
	k = (struct k4){8, {3, 0, 0, 0}};
	CHECK(visor_map_update(f, &k, &v, 0) == -ENOSPC, "full");
	CHECK(strstr(visor_map_errmsg(f), "full"), "msg: %s", visor_map_errmsg(f));
	CHECK(visor_map_update(f, &k, &v, VISOR_EXIST) == -ENOENT, "full, EXIST");
	k.d[0] = 1;
	v = 9;
	CHECK(visor_map_update(f, &k, &v, 0) == 0 && lookup4(f, 1, 2, 3, 4) == 9, "replace when full");
	visor_map_destroy(f);

	/* Program view. */
	uint64_t *p = visor_map_lookup_ptr(m, &(struct k4){32, {10, 1, 2, 3}});
	CHECK(p && *p == 4 && visor_map_value_ok(m, p, 8) && !visor_map_value_ok(m, p, 9),
	      "lookup_ptr");
	v = 8;
	CHECK(visor_map_update_from_prog(m, &(struct k4){8, {20, 0, 0, 0}}, &v, 0) == 0 &&
	      lookup4(m, 20, 1, 1, 1) == 8, "update_from_prog");
	visor_map_destroy(m);
}

static void test_ipv6(void)
{
	struct visor_map *m = mk(20, 64);
	struct k16 k = {32, {0x20, 0x01, 0x0d, 0xb8}};
	uint64_t v = 1;
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "2001:db8::/32");
	k = (struct k16){48, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01}};
	v = 2;
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "2001:db8:1::/48");
	k = (struct k16){128, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, [15] = 1}};
	v = 3;
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "host /128");
	k = (struct k16){0};
	v = 4;
	CHECK(visor_map_update(m, &k, &v, 0) == 0, "::/0");

	struct k16 q = {128, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, [15] = 1}};
	CHECK(visor_map_lookup(m, &q, &v) == 0 && v == 3, "exact /128");
	q.d[15] = 2;
	CHECK(visor_map_lookup(m, &q, &v) == 0 && v == 2, "/48");
	q.d[5] = 2;
	CHECK(visor_map_lookup(m, &q, &v) == 0 && v == 1, "/32");
	q.d[0] = 0x30;
	CHECK(visor_map_lookup(m, &q, &v) == 0 && v == 4, "default");
	q.plen = 129;
	CHECK(visor_map_lookup(m, &q, &v) == -ENOENT, "/129");
	visor_map_destroy(m);
}

/* Random operations against a list of prefixes. */
struct model {
	struct k4 keys[64];
	uint64_t vals[64];
	int n;
};

static bool pfx_eq(const struct k4 *a, const struct k4 *b)
{
	if (a->plen != b->plen)
		return false;
	for (uint32_t i = 0; i < a->plen; i++)
		if (((a->d[i / 8] ^ b->d[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

static bool pfx_has(const struct k4 *p, const struct k4 *addr)
{
	if (p->plen > addr->plen)
		return false;
	struct k4 t = *addr;
	t.plen = p->plen;
	return pfx_eq(p, &t);
}

static int model_find(struct model *md, const struct k4 *k)
{
	for (int i = 0; i < md->n; i++)
		if (pfx_eq(&md->keys[i], k))
			return i;
	return -1;
}

static uint64_t rng = 0x12345678;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static struct k4 rand_key(void)
{
	/* A few address families so that prefixes nest and diverge. */
	static const uint8_t first[] = {10, 192, 172, 0, 255};
	struct k4 k = {rnd() % 34, {first[rnd() % 5], (uint8_t)(rnd() % 4), (uint8_t)(rnd() % 3),
				    (uint8_t)rnd()}};
	return k;
}

static void test_random(void)
{
	const int max = 48;
	struct visor_map *m = mk(8, max);
	struct model md = {.n = 0};
	int ops = (int)(40000 * test_scale());
	for (int i = 0; i < ops; i++) {
		struct k4 k = rand_key();
		uint64_t v = rnd(), got;
		int op = rnd() % 10, rc, want, at = model_find(&md, &k);
		if (op < 4) {
			uint64_t flags = rnd() % 3;
			rc = visor_map_update(m, &k, &v, flags);
			if (k.plen > 32)
				want = -EINVAL;
			else if (at >= 0)
				want = flags == VISOR_NOEXIST ? -EEXIST : 0;
			else
				want = flags == VISOR_EXIST ? -ENOENT : md.n == max ? -ENOSPC : 0;
			CHECK(rc == want, "op %d update /%u flags %llu: %d want %d", i, k.plen,
			      (unsigned long long)flags, rc, want);
			if (!want) {
				if (at < 0)
					at = md.n++;
				md.keys[at] = k;
				md.vals[at] = v;
			}
		} else if (op < 7) {
			rc = visor_map_delete(m, &k);
			want = k.plen > 32 ? -EINVAL : at < 0 ? -ENOENT : 0;
			CHECK(rc == want, "op %d delete: %d want %d", i, rc, want);
			if (!want) {
				md.keys[at] = md.keys[md.n - 1];
				md.vals[at] = md.vals[md.n - 1];
				md.n--;
			}
		} else {
			k.plen = 32;
			int best = -1;
			for (int j = 0; j < md.n; j++)
				if (pfx_has(&md.keys[j], &k) &&
				    (best < 0 || md.keys[j].plen > md.keys[best].plen))
					best = j;
			rc = visor_map_lookup(m, &k, &got);
			CHECK(best < 0 ? rc == -ENOENT : rc == 0 && got == md.vals[best],
			      "op %d lookup %u.%u.%u.%u: rc %d", i, k.d[0], k.d[1], k.d[2], k.d[3],
			      rc);
		}
		if (i % 512 == 0 || i == ops - 1) {
			/* Iteration yields each stored prefix once, children first. */
			struct k4 cur, next;
			int n = 0;
			for (rc = visor_map_get_next_key(m, NULL, &next); !rc;
			     rc = visor_map_get_next_key(m, &cur, &next)) {
				int j = model_find(&md, &next);
				CHECK(j >= 0 && !memcmp(&md.keys[j], &next, sizeof(next)),
				      "iterated key in the model, data as stored");
				cur = next;
				if (++n > max + 1)
					break;
			}
			CHECK(n == md.n, "iteration count %d, model %d", n, md.n);
		}
	}
	visor_map_destroy(m);
}

int main(void)
{
	test_ipv4();
	test_ipv6();
	test_random();
	return test_summary("test_maps_lpm");
}
