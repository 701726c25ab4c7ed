/* The packet helpers on the visor VM: XDP head / tail / metadata moves
 * (tests/progs/xdp_adjust.bpf.c), a tc NAT step with skb_store_bytes and
 * l3/l4 checksum replacement (tc_nat.bpf.c), bpf_redirect and
 * bpf_redirect_map over a devmap and a devmap_hash (redirect.bpf.c). Each
 * program runs in the interpreter and the JIT with expected output
 * packets (checksums recomputed here) and helper results, and against the
 * kernel through objdiff_check (return codes, output packets, ctx_out,
 * maps). The devmap types' user-space operations are compared with the
 * kernel's directly. Without the kernel: one SKIP line per comparison. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define ADJUST_OBJ PROGS "xdp_adjust.bpf.o"
#define NAT_OBJ PROGS "tc_nat.bpf.o"
#define REDIRECT_OBJ PROGS "redirect.bpf.o"

#define CASE(nm, d, len, ...) \
	((struct objdiff_case){.name = (nm), .data = (d), .data_len = (uint32_t)(len), __VA_ARGS__})

static int kernel_compared; /* objdiff_check calls the kernel took part in */

/* objdiff_check, counting kernel comparisons; one SKIP line without it. */
static void diff_with_kernel(const struct objdiff *d, const struct objdiff_case *c, size_t n)
{
	int engines_compared = objdiff_check(d, c, n, NULL);
	if (engines_compared == 3)
		kernel_compared++;
	else if (engines_compared == 2)
		printf("SKIP kernel comparison of %s: the kernel cannot run it here\n", d->prog);
}

static const int engines[] = {VISOR_ENGINE_INTERP, VISOR_ENGINE_JIT};
static const char *const engine_names[] = {"interp", "jit"};

/* ---- loading and running on visor ----------------------------------------- */

struct loaded {
	struct visor_obj *obj;
	struct visor_map **maps;
	size_t nmaps;
	struct visor_vm *vm;
};

/* Loads prog (verified: the verifier must accept it, unless unsafe). */
static bool load_mode(struct loaded *l, const char *path, const char *prog, int engine,
		      bool unsafe)
{
	char err[512] = "";
	memset(l, 0, sizeof(*l));
	l->obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(l->obj != NULL, "open %s: %s", path, err);
	if (!l->obj)
		return false;
	struct visor_obj_prog *p = visor_obj_find_prog(l->obj, prog);
	CHECK(p != NULL, "%s: no program %s", path, prog);
	if (!p || visor_obj_maps_create(l->obj, &l->maps, &l->nmaps, err, sizeof(err))) {
		CHECK(p == NULL, "%s: maps: %s", path, err);
		return false;
	}
	l->vm = visor_vm_create();
	visor_vm_set_unsafe(l->vm, unsafe);
	int rc = visor_obj_prog_load_vm(l->vm, p, l->maps, l->nmaps, err, sizeof(err));
	CHECK(rc == 0, "%s: load: %s", prog, err);
	if (!rc && engine == VISOR_ENGINE_JIT) {
		rc = visor_vm_jit_compile(l->vm, 0);
		CHECK(rc == 0, "%s: jit: %s", prog, visor_vm_errmsg(l->vm));
	}
	return rc == 0;
}

static bool load(struct loaded *l, const char *path, const char *prog, int engine)
{
	return load_mode(l, path, prog, engine, false);
}

static void unload(struct loaded *l)
{
	visor_vm_destroy(l->vm);
	for (size_t i = 0; i < l->nmaps; i++)
		visor_map_destroy(l->maps[i]);
	free(l->maps);
	visor_obj_close(l->obj);
}

static struct visor_map *map_named(const struct loaded *l, const char *name)
{
	for (size_t i = 0; i < l->nmaps; i++)
		if (!strcmp(visor_map_name(l->maps[i]), name))
			return l->maps[i];
	return NULL;
}

static int64_t result_at(const struct loaded *l, uint32_t i)
{
	int64_t v = INT64_MIN;
	struct visor_map *m = map_named(l, "results");
	if (!m || visor_map_lookup(m, &i, &v))
		return INT64_MIN;
	return v;
}

/* ---- checksums, computed from scratch ------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Sets the IPv4 header and UDP/TCP checksums of an option-less frame. */
static void fix_checksums(uint8_t *f, size_t len, bool udp_zero)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	size_t l4len = len - 34;
	size_t csum_at = ip[9] == 6 ? 16 : 6;
	ip[10] = ip[11] = 0;
	uint16_t c = fold(sum16(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	l4[csum_at] = l4[csum_at + 1] = 0;
	if (udp_zero)
		return;
	uint32_t s = sum16(ip + 12, 8, 0) + ip[9] + (uint32_t)l4len;
	c = fold(sum16(l4, l4len, s));
	if (ip[9] == 17 && !c)
		c = 0xffff;
	l4[csum_at] = (uint8_t)(c >> 8), l4[csum_at + 1] = (uint8_t)c;
}

/* ---- XDP: adjust_head / tail / meta ---------------------------------------- */

static size_t vlan_frame(uint8_t *f, bool tagged)
{
	uint8_t inner[128];
	size_t n = pkt_udp4(inner, 0xc0000202, 0xc6336401, 4000, 53, "query", 5);
	if (!tagged) {
		memcpy(f, inner, n);
		return n;
	}
	memcpy(f, inner, 12);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 100; /* VID 100 */
	memcpy(f + 16, inner + 12, n - 12);
	return n + 4;
}

static void test_xdp_vlan(void)
{
	uint8_t tagged[128], plain[128], out[256];
	size_t tl = vlan_frame(tagged, true), pl = vlan_frame(plain, false);
	for (int e = 0; e < 2; e++) {
		struct loaded l;
		if (!load(&l, ADJUST_OBJ, "xdp_vlan", engines[e])) {
			unload(&l);
			continue;
		}
		/* Pop: the untagged frame; push: the tagged one (VID 100). */
		const struct {
			const uint8_t *in, *want;
			size_t inl, wantl;
			uint32_t ret, repeat;
		} cases[] = {
			{tagged, plain, tl, pl, VISOR_XDP_PASS, 1},
			{plain, tagged, pl, tl, VISOR_XDP_TX, 1},
			/* Repeated runs see what the last one left: push, then pop. */
			{plain, plain, pl, pl, VISOR_XDP_PASS, 2},
			{plain, tagged, pl, tl, VISOR_XDP_TX, 3},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char err[256] = "";
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = cases[i].in,
				   .data_size_in = (uint32_t)cases[i].inl, .data_out = out,
				   .data_size_out = sizeof(out), .repeat = cases[i].repeat,
				   .engine = engines[e], .errbuf = err, .errbuf_len = sizeof(err));
			int rc = visor_prog_test_run(l.vm, &o);
			CHECK(rc == 0, "%s: vlan case %zu: %s", engine_names[e], i, err);
			CHECK(o.retval == cases[i].ret, "%s: vlan case %zu: retval %u", engine_names[e], i,
			      o.retval);
			CHECK(o.data_size_out == cases[i].wantl &&
				      !memcmp(out, cases[i].want, cases[i].wantl),
			      "%s: vlan case %zu: output frame (%u bytes)", engine_names[e], i,
			      o.data_size_out);
		}
		unload(&l);
	}
}

static void test_xdp_trim(void)
{
	/* A 42-byte IPv4/UDP frame padded to 60 bytes; the last byte is the
	 * tail move: -4, +8 (grown bytes are zero), and a frame without
	 * padding whose payload ends in 0x10 (+16, then cut back). */
	uint8_t f[3][128];
	size_t len[3];
	const int8_t delta[3] = {-4, 8, 16};
	for (int i = 0; i < 3; i++) {
		memset(f[i], 0, sizeof(f[i]));
		uint8_t payload[1] = {0x10};
		len[i] = pkt_udp4(f[i], 0xc0000202, 0xc6336401, 4000, 9, payload, i == 2 ? 1 : 0);
		if (i < 2) {
			len[i] = 60;
			f[i][59] = (uint8_t)delta[i];
		}
	}
	for (int e = 0; e < 2; e++) {
		for (int i = 0; i < 3; i++) {
			struct loaded l;
			if (!load(&l, ADJUST_OBJ, "xdp_trim", engines[e])) {
				unload(&l);
				continue;
			}
			uint8_t out[256];
			char err[256] = "";
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f[i],
				   .data_size_in = (uint32_t)len[i], .data_out = out,
				   .data_size_out = sizeof(out), .engine = engines[e], .errbuf = err,
				   .errbuf_len = sizeof(err));
			CHECK(visor_prog_test_run(l.vm, &o) == 0 && o.retval == VISOR_XDP_PASS,
			      "%s: trim %d: %s", engine_names[e], i, err);
			size_t ip_end = 14 + 28 + (i == 2);
			CHECK(result_at(&l, 0) == 0 && result_at(&l, 1) == (int64_t)len[i] + delta[i],
			      "%s: trim %d: tail by %d gave %lld, length %lld", engine_names[e], i,
			      delta[i], (long long)result_at(&l, 0), (long long)result_at(&l, 1));
			CHECK(result_at(&l, 3) == (int64_t)ip_end && o.data_size_out == ip_end &&
				      !memcmp(out, f[i], ip_end),
			      "%s: trim %d: frame cut to %u bytes, want %zu", engine_names[e], i,
			      o.data_size_out, ip_end);
			unload(&l);
		}
	}
}

static void test_xdp_meta(void)
{
	uint8_t f[128], in[132], out[256];
	size_t len = pkt_udp4(f, 0xc0000202, 0xc6336401, 4000, 53, "abc", 3);
	/* 4 bytes of metadata given with the frame (ctx_in data = 4). */
	memcpy(in, "\xaa\xbb\xcc\xdd", 4);
	memcpy(in + 4, f, len);
	for (int e = 0; e < 2; e++) {
		for (int with_meta = 0; with_meta < 2; with_meta++) {
			struct loaded l;
			if (!load(&l, ADJUST_OBJ, "xdp_meta", engines[e])) {
				unload(&l);
				continue;
			}
			uint32_t ml = with_meta ? 4 : 0;
			struct visor_xdp_md md = {.data = ml, .data_end = (uint32_t)len + ml}, mo = {0};
			char err[256] = "";
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = with_meta ? in : f,
				   .data_size_in = (uint32_t)(len + ml), .data_out = out,
				   .data_size_out = sizeof(out), .ctx_in = with_meta ? &md : NULL,
				   .ctx_size_in = with_meta ? sizeof(md) : 0,
				   .ctx_out = with_meta ? &mo : NULL,
				   .ctx_size_out = with_meta ? sizeof(mo) : 0, .engine = engines[e],
				   .errbuf = err, .errbuf_len = sizeof(err));
			CHECK(visor_prog_test_run(l.vm, &o) == 0 && o.retval == VISOR_XDP_PASS,
			      "%s: meta %d: %s (ret %u)", engine_names[e], with_meta, err, o.retval);
			CHECK(result_at(&l, 0) == ml && result_at(&l, 1) == 0x4d455441 &&
				      result_at(&l, 2) == (int64_t)len && result_at(&l, 3) == ml + 8,
			      "%s: meta %d: metadata read back wrong", engine_names[e], with_meta);
			/* data_out: the metadata (new 8 bytes, then what came in) and the frame. */
			uint8_t want[256];
			uint32_t tag = 0x4d455441, plen = (uint32_t)len;
			memcpy(want, &tag, 4);
			memcpy(want + 4, &plen, 4);
			memcpy(want + 8, in, ml);
			memcpy(want + 8 + ml, f, len);
			CHECK(o.data_size_out == len + ml + 8 && !memcmp(out, want, len + ml + 8),
			      "%s: meta %d: data_out (%u bytes)", engine_names[e], with_meta,
			      o.data_size_out);
			if (with_meta)
				CHECK(mo.data == 12 && mo.data_end == len + 12,
				      "%s: ctx_out data %u data_end %u", engine_names[e], mo.data,
				      mo.data_end);
			unload(&l);
		}
	}
}

/* What xdp_limits records for a 100-byte frame (the kernel's rules). */
static const int64_t limits_want[28] = {
	-EINVAL, 0, 0, -EINVAL, 0, 14, 0,           /* head: reserve, ETH_HLEN */
	-EINVAL, -EINVAL, 0, -EINVAL, 3520, 0,      /* tail: ETH_HLEN, frame end */
	-EINVAL, -EACCES, 0, 0, -EINVAL, 0, 0, -EACCES, 252, /* meta */
	-EINVAL, 0, 252, 0, 0, 100,                 /* head with metadata */
};

static void test_xdp_limits(void)
{
	uint8_t f[128], payload[58] = {0}, out[256];
	size_t len = pkt_udp4(f, 0xc0000202, 0xc6336401, 4000, 9, payload, sizeof(payload));
	CHECK(len == 100, "limits frame is %zu bytes", len);
	for (int e = 0; e < 2; e++) {
		struct loaded l;
		if (!load(&l, ADJUST_OBJ, "xdp_limits", engines[e])) {
			unload(&l);
			continue;
		}
		char err[256] = "";
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)len,
			   .data_out = out, .data_size_out = sizeof(out), .engine = engines[e],
			   .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(l.vm, &o) == 0, "%s: limits: %s", engine_names[e], err);
		for (uint32_t i = 0; i < 28; i++)
			CHECK(result_at(&l, i) == limits_want[i], "%s: limits[%u] = %lld, want %lld",
			      engine_names[e], i, (long long)result_at(&l, i),
			      (long long)limits_want[i]);
		/* Moving the head back over 252 bytes of metadata that covered the
		 * first 64 bytes of the frame shifted them by 28 (the kernel too). */
		uint8_t want[100];
		memcpy(want, f + 28, 36);
		memcpy(want + 36, f + 36, 64);
		CHECK(o.data_size_out == len && !memcmp(out, want, len), "%s: limits: output frame",
		      engine_names[e]);
		unload(&l);
	}
}

/* A pointer taken before adjust_head: the verifier refuses the program, as
 * the kernel's; in unsafe mode visor must fail the run, never read outside
 * the packet. */
static void test_xdp_stale_pointer(void)
{
	uint8_t f[128];
	size_t len = pkt_udp4(f, 0xc0000202, 0xc6336401, 4000, 9, "0123456789", 10);
	char verr[512] = "";
	struct visor_obj *obj = visor_obj_open_file(ADJUST_OBJ, NULL, verr, sizeof(verr));
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	CHECK(obj && visor_obj_maps_create(obj, &maps, &nmaps, verr, sizeof(verr)) == 0, "open: %s",
	      verr);
	struct visor_vm *vm = visor_vm_create();
	CHECK(maps && visor_obj_prog_load_vm(vm, visor_obj_find_prog(obj, "xdp_stale_pointer"), maps,
					     nmaps, verr, sizeof(verr)) == -EACCES &&
		      strstr(verr, "bpf_xdp_adjust_head") && strstr(verr, "xdp_adjust.bpf.c:"),
	      "stale pointer refused by the verifier: %s", verr);
	visor_vm_destroy(vm);
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
	for (int e = 0; e < 2; e++) {
		struct loaded l;
		if (!load_mode(&l, ADJUST_OBJ, "xdp_stale_pointer", engines[e], true)) {
			unload(&l);
			continue;
		}
		char err[256] = "";
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)len,
			   .engine = engines[e], .errbuf = err, .errbuf_len = sizeof(err));
		int rc = visor_prog_test_run(l.vm, &o);
		CHECK(rc == -EFAULT && strstr(err, "load of 1 bytes"),
		      "%s: stale pointer: rc %d: %s", engine_names[e], rc, err);
		unload(&l);
	}
}

static void xdp_against_kernel(void)
{
	uint8_t tagged[128], plain[128], trim[128], meta_in[132], limits[128];
	size_t tl = vlan_frame(tagged, true), pl = vlan_frame(plain, false);
	memset(trim, 0, sizeof(trim));
	pkt_udp4(trim, 0xc0000202, 0xc6336401, 4000, 9, NULL, 0);
	trim[59] = 0xf8;
	uint8_t payload[58] = {0};
	size_t ll = pkt_udp4(limits, 0xc0000202, 0xc6336401, 4000, 9, payload, sizeof(payload));
	memcpy(meta_in, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	size_t ml = 8 + pkt_udp4(meta_in + 8, 0xc0000202, 0xc6336401, 1, 2, "x", 1);
	struct visor_xdp_md md = {.data = 8, .data_end = (uint32_t)ml};

	const struct {
		const char *prog;
		struct objdiff_case c[4];
		size_t n;
	} sets[] = {
		{"xdp_vlan", {CASE("pop", tagged, tl), CASE("push", plain, pl),
			      CASE("push pop", plain, pl, .repeat = 2),
			      CASE("push pop push", plain, pl, .repeat = 3)}, 4},
		{"xdp_trim", {CASE("padded", trim, 60)}, 1},
		{"xdp_meta", {CASE("no meta", plain, pl),
			      CASE("meta in", meta_in, ml, .ctx = &md, .ctx_len = sizeof(md))}, 2},
		{"xdp_limits", {CASE("limits", limits, ll)}, 1},
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct objdiff d = {.path = ADJUST_OBJ, .prog = sets[i].prog};
		diff_with_kernel(&d, sets[i].c, sets[i].n);
	}
}

/* ---- tc: NAT ---------------------------------------------------------------- */

enum { NAT_UDP, NAT_TCP, NAT_UDP_NOCSUM, NAT_OTHER_PORT, NAT_N };

/* The frame to 192.0.2.1:80 (:81), with the address and / or port translated. */
static size_t nat_frame(uint8_t *f, int kind, bool addr, bool port)
{
	uint32_t dst = addr ? 0xc6336407 : 0xc0000201;
	uint16_t dport = kind == NAT_OTHER_PORT ? 81 : port ? 8080 : 80;
	size_t len = kind == NAT_TCP ? pkt_tcp4(f, 0xcb007105, dst, 40000, dport, 0x02)
				     : pkt_udp4(f, 0xcb007105, dst, 40000, dport, "hello!", 6);
	fix_checksums(f, len, kind == NAT_UDP_NOCSUM);
	return len;
}

static void test_tc_nat(void)
{
	const char *const progs[] = {"tc_nat", "tc_nat_diff"};
	for (int p = 0; p < 2; p++) {
		for (int e = 0; e < 2; e++) {
			struct loaded l;
			if (!load(&l, NAT_OBJ, progs[p], engines[e])) {
				unload(&l);
				continue;
			}
			for (int k = 0; k < NAT_N; k++) {
				uint8_t in[128], want[128], out[256];
				size_t len = nat_frame(in, k, false, false);
				/* tc_nat_diff translates the address only. */
				nat_frame(want, k, k != NAT_OTHER_PORT, k != NAT_OTHER_PORT && p == 0);
				struct visor_sk_buff ctx = {0};
				char err[256] = "";
				VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = in,
					   .data_size_in = (uint32_t)len, .data_out = out,
					   .data_size_out = sizeof(out), .ctx_out = &ctx,
					   .ctx_size_out = sizeof(ctx), .engine = engines[e],
					   .errbuf = err, .errbuf_len = sizeof(err));
				CHECK(visor_prog_test_run(l.vm, &o) == 0, "%s %s %d: %s", progs[p],
				      engine_names[e], k, err);
				bool redirected = p == 1 && k != NAT_OTHER_PORT;
				CHECK(o.retval == (redirected ? VISOR_TC_ACT_REDIRECT : VISOR_TC_ACT_OK),
				      "%s %s %d: retval %u", progs[p], engine_names[e], k, o.retval);
				CHECK(redirected ? o.redirect.kind == VISOR_REDIRECT_IFINDEX &&
							   o.redirect.ifindex == 1 && !o.redirect.flags
						 : o.redirect.kind == VISOR_REDIRECT_NONE,
				      "%s %s %d: redirect kind %u ifindex %u", progs[p], engine_names[e],
				      k, o.redirect.kind, o.redirect.ifindex);
				size_t at = 0;
				while (at < len && out[at] == want[at])
					at++;
				CHECK(o.data_size_out == len && at == len,
				      "%s %s %d: translated frame differs at byte %zu: %02x, want %02x",
				      progs[p], engine_names[e], k, at, out[at], want[at]);
			}
			uint64_t udp = 0, tcp = 0;
			uint32_t k17 = 17, k6 = 6;
			visor_map_lookup(map_named(&l, "nat_count"), &k17, &udp);
			visor_map_lookup(map_named(&l, "nat_count"), &k6, &tcp);
			CHECK(udp == 2 && tcp == 1, "%s %s: counted udp %llu tcp %llu", progs[p],
			      engine_names[e], (unsigned long long)udp, (unsigned long long)tcp);
			unload(&l);
		}
	}
}

/* What tc_helper_errors records (the kernel's checks, in its order). */
static const int64_t errors_want[21] = {
	-EINVAL, -EFAULT, 0, -EFAULT,                 /* store_bytes */
	-EFAULT, -EFAULT, -EFAULT, -EINVAL, -EINVAL, -EINVAL, /* l3 */
	-EINVAL, 0, 0, 0, 0,                          /* l4 */
	0, 0, -ENOMEM, -VISOR_ENOTSUPP,               /* pull_data, csum_update */
	VISOR_TC_ACT_REDIRECT, VISOR_TC_ACT_SHOT,     /* redirect */
};

static void test_tc_errors(void)
{
	uint8_t f[128], out[256];
	size_t len = nat_frame(f, NAT_UDP, false, false);
	for (int e = 0; e < 2; e++) {
		struct loaded l;
		if (!load(&l, NAT_OBJ, "tc_helper_errors", engines[e])) {
			unload(&l);
			continue;
		}
		char err[256] = "";
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)len,
			   .data_out = out, .data_size_out = sizeof(out), .engine = engines[e],
			   .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(l.vm, &o) == 0 && o.retval == VISOR_TC_ACT_OK,
		      "%s: errors: %s", engine_names[e], err);
		for (uint32_t i = 0; i < 21; i++)
			CHECK(result_at(&l, i) == errors_want[i], "%s: errors[%u] = %lld, want %lld",
			      engine_names[e], i, (long long)result_at(&l, i),
			      (long long)errors_want[i]);
		/* The last 4 bytes were stored; the UDP checksum ended as 0xffff
		 * (a zero result with MARK_MANGLED_0). */
		CHECK(!memcmp(out + len - 4, "\x44\x33\x22\x11", 4) && out[40] == 0xff &&
			      out[41] == 0xff && !memcmp(out, f, 40),
		      "%s: errors: output frame", engine_names[e]);
		unload(&l);
	}
}

static void tc_against_kernel(void)
{
	uint8_t f[NAT_N][128];
	struct objdiff_case c[NAT_N];
	const char *names[NAT_N] = {"udp", "tcp", "udp without checksum", "other port"};
	for (int k = 0; k < NAT_N; k++)
		c[k] = CASE(names[k], f[k], nat_frame(f[k], k, false, false));
	const char *const progs[] = {"tc_nat", "tc_nat_diff", "tc_helper_errors"};
	for (int p = 0; p < 3; p++) {
		struct objdiff d = {.path = NAT_OBJ, .prog = progs[p]};
		diff_with_kernel(&d, c, p == 2 ? 1 : NAT_N);
	}
}

/* ---- redirect ------------------------------------------------------------------ */

static void set_port(uint8_t *f, uint8_t port) { f[5] = port; }

static void test_redirect(void)
{
	uint8_t f[128];
	size_t len = pkt_udp4(f, 0xc0000202, 0xc6336401, 4000, 9, NULL, 0);
	uint32_t k0 = 0, k2 = 2, lo = 1;
	struct { uint32_t ifindex, prog; } hval = {1, 0};
	for (int e = 0; e < 2; e++) {
		const struct {
			const char *prog;
			uint8_t port;
			uint32_t ret, kind, target;
		} cases[] = {
			{"xdp_redirect_port", 0, VISOR_XDP_REDIRECT, VISOR_REDIRECT_MAP, 0},
			{"xdp_redirect_port", 2, VISOR_XDP_REDIRECT, VISOR_REDIRECT_MAP, 2},
			{"xdp_redirect_port", 5, VISOR_XDP_PASS, VISOR_REDIRECT_NONE, 0},
			{"xdp_redirect_hash", 2, VISOR_XDP_REDIRECT, VISOR_REDIRECT_MAP, 2},
			{"xdp_redirect_hash", 3, VISOR_XDP_DROP, VISOR_REDIRECT_NONE, 0},
			{"xdp_redirect_ifindex", 3, VISOR_XDP_REDIRECT, VISOR_REDIRECT_IFINDEX, 3},
			{"xdp_redirect_flags", 0, VISOR_XDP_PASS, VISOR_REDIRECT_NONE, 0},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct loaded l;
			if (!load(&l, REDIRECT_OBJ, cases[i].prog, engines[e])) {
				unload(&l);
				continue;
			}
			struct visor_map *ports = map_named(&l, "tx_ports"), *hash = map_named(&l, "tx_hash");
			CHECK(visor_map_update(ports, &k0, &lo, VISOR_ANY) == 0 &&
				      visor_map_update(ports, &k2, &lo, VISOR_ANY) == 0 &&
				      visor_map_update(hash, &k2, &hval, VISOR_ANY) == 0,
			      "devmap updates: %s", visor_map_errmsg(ports));
			set_port(f, cases[i].port);
			char err[256] = "";
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = f,
				   .data_size_in = (uint32_t)len, .engine = engines[e], .errbuf = err,
				   .errbuf_len = sizeof(err));
			CHECK(visor_prog_test_run(l.vm, &o) == 0, "%s: %s: %s", engine_names[e],
			      cases[i].prog, err);
			CHECK(o.retval == cases[i].ret && o.redirect.kind == cases[i].kind,
			      "%s: %s port %u: retval %u, redirect kind %u", engine_names[e],
			      cases[i].prog, cases[i].port, o.retval, o.redirect.kind);
			if (cases[i].kind == VISOR_REDIRECT_MAP)
				CHECK(o.redirect.key == cases[i].target &&
					      o.redirect.map == (cases[i].prog[13] == 'h' ? hash : ports),
				      "%s: %s: redirect key %u", engine_names[e], cases[i].prog,
				      o.redirect.key);
			if (cases[i].kind == VISOR_REDIRECT_IFINDEX)
				CHECK(o.redirect.ifindex == cases[i].target, "%s: ifindex %u",
				      engine_names[e], o.redirect.ifindex);
			if (!strcmp(cases[i].prog, "xdp_redirect_hash"))
				CHECK(result_at(&l, 0) == (cases[i].port == 2 ? 1 : -1),
				      "%s: devmap_hash value read by the program: %lld", engine_names[e],
				      (long long)result_at(&l, 0));
			if (!strcmp(cases[i].prog, "xdp_redirect_flags")) {
				const int64_t want[9] = {0, VISOR_XDP_ABORTED, VISOR_XDP_TX,
							 VISOR_XDP_ABORTED, VISOR_XDP_REDIRECT,
							 VISOR_XDP_REDIRECT, VISOR_XDP_ABORTED,
							 VISOR_XDP_REDIRECT, VISOR_XDP_REDIRECT};
				for (uint32_t r = 1; r < 9; r++)
					CHECK(result_at(&l, r) == want[r], "%s: flags[%u] = %lld",
					      engine_names[e], r, (long long)result_at(&l, r));
			}
			unload(&l);
		}
	}

	/* The same against the kernel, the devmaps filled the same way. */
	uint8_t pf[3][128];
	struct objdiff_case c[3];
	const uint8_t ports[3] = {0, 2, 3};
	for (int i = 0; i < 3; i++) {
		memcpy(pf[i], f, len);
		set_port(pf[i], ports[i]);
		c[i] = CASE("port", pf[i], len);
	}
	const struct objdiff_update up[] = {
		{"tx_ports", &k0, &lo}, {"tx_ports", &k2, &lo}, {"tx_hash", &k2, &hval},
	};
	const char *const progs[] = {"xdp_redirect_port", "xdp_redirect_hash",
				     "xdp_redirect_ifindex", "xdp_redirect_flags"};
	for (int p = 0; p < 4; p++) {
		struct objdiff d = {.path = REDIRECT_OBJ, .prog = progs[p], .updates = up,
				    .nupdates = 3};
		diff_with_kernel(&d, c, 3);
	}
}

/* ---- devmap user-space operations, visor and kernel ------------------------------ */

/* One engine's view of a map: visor's or the kernel's (fd). */
struct dm {
	struct visor_map *v;
	int fd;
};

static int dm_create(struct dm *m, bool kernel, uint32_t type, uint32_t ks, uint32_t vs,
		     uint32_t max, uint32_t flags)
{
	if (kernel) {
		LIBBPF_OPTS(bpf_map_create_opts, ko, .map_flags = flags);
		m->fd = bpf_map_create(type, "dm", ks, vs, max, &ko);
		return m->fd < 0 ? -errno : 0;
	}
	VISOR_OPTS(visor_map_create_opts, vo, .type = type, .key_size = ks, .value_size = vs,
		   .max_entries = max, .map_flags = flags);
	return visor_map_create(&vo, &m->v);
}

static void dm_close(struct dm *m, bool kernel)
{
	if (kernel && m->fd >= 0)
		close(m->fd);
	if (!kernel)
		visor_map_destroy(m->v);
}

static int dm_update(struct dm *m, bool kernel, uint32_t key, const void *val, uint64_t fl)
{
	if (kernel)
		return bpf_map_update_elem(m->fd, &key, val, fl) ? -errno : 0;
	return visor_map_update(m->v, &key, val, fl);
}

static int dm_lookup(struct dm *m, bool kernel, uint32_t key, void *val)
{
	if (kernel)
		return bpf_map_lookup_elem(m->fd, &key, val) ? -errno : 0;
	return visor_map_lookup(m->v, &key, val);
}

static int dm_delete(struct dm *m, bool kernel, uint32_t key)
{
	if (kernel)
		return bpf_map_delete_elem(m->fd, &key) ? -errno : 0;
	return visor_map_delete(m->v, &key);
}

static int dm_next(struct dm *m, bool kernel, const uint32_t *key, uint32_t *next)
{
	if (kernel)
		return bpf_map_get_next_key(m->fd, key, next) ? -errno : 0;
	return visor_map_get_next_key(m->v, key, next);
}

/* A script of operations; every result (return codes, values read, keys
 * walked) appends to a log that must be the same for visor and the kernel. */
static size_t devmap_script(bool kernel, int64_t *log, size_t cap)
{
	size_t n = 0;
#define LOG(x) (n < cap ? (void)(log[n++] = (int64_t)(x)) : (void)0)
	uint32_t bad = 1;
	char name[IF_NAMESIZE];
	while (if_indextoname(bad, name))
		bad++; /* the first ifindex with no device */
	int notprog = open("/dev/null", O_RDONLY);
	struct dm m = {0};
	/* Creation checks. */
	LOG(dm_create(&m, kernel, 14, 4, 6, 4, 0));
	LOG(dm_create(&m, kernel, 14, 8, 4, 4, 0));
	LOG(dm_create(&m, kernel, 14, 4, 4, 0, 0));
	LOG(dm_create(&m, kernel, 14, 4, 4, 4, VISOR_F_RDONLY_PROG));
	LOG(dm_create(&m, kernel, 25, 4, 4, 4, VISOR_F_NO_PREALLOC));
	/* DEVMAP, 8-byte values. */
	int rc = dm_create(&m, kernel, 14, 4, 8, 4, 0);
	LOG(rc);
	if (!rc) {
		struct { uint32_t ifindex; int32_t fd; } v, r;
		v = (typeof(v)){1, -1};
		LOG(dm_update(&m, kernel, 0, &v, 0));
		r = (typeof(r)){7, 7};
		LOG(dm_lookup(&m, kernel, 0, &r));
		LOG(r.ifindex), LOG(r.fd);
		v = (typeof(v)){bad, 0};
		LOG(dm_update(&m, kernel, 1, &v, 0));
		v = (typeof(v)){0, notprog};
		LOG(dm_update(&m, kernel, 1, &v, 0));
		v = (typeof(v)){1, notprog};
		LOG(dm_update(&m, kernel, 1, &v, 0));
		v = (typeof(v)){1, 0};
		LOG(dm_update(&m, kernel, 4, &v, 0));
		LOG(dm_update(&m, kernel, 1, &v, VISOR_NOEXIST));
		LOG(dm_update(&m, kernel, 1, &v, 3));
		LOG(dm_update(&m, kernel, 1, &v, VISOR_EXIST));
		LOG(dm_lookup(&m, kernel, 2, &r));
		LOG(dm_lookup(&m, kernel, 9, &r));
		v = (typeof(v)){0, 0};
		LOG(dm_update(&m, kernel, 0, &v, 0)); /* ifindex 0 empties the slot */
		LOG(dm_lookup(&m, kernel, 0, &r));
		LOG(dm_delete(&m, kernel, 1));
		LOG(dm_delete(&m, kernel, 1));
		LOG(dm_delete(&m, kernel, 4));
		uint32_t k, *prev = NULL, walked = 0;
		while (walked < 10 && (rc = dm_next(&m, kernel, prev, &k)) == 0)
			LOG(k), prev = &k, walked++;
		LOG(rc);
		dm_close(&m, kernel);
	}
	/* DEVMAP_HASH, 4-byte values: 8 buckets, newest first in each. */
	rc = dm_create(&m, kernel, 25, 4, 4, 5, 0);
	LOG(rc);
	if (!rc) {
		uint32_t one = 1, zero = 0, r = 0;
		const uint32_t keys[] = {1, 9, 17, 3, 2};
		for (int i = 0; i < 5; i++)
			LOG(dm_update(&m, kernel, keys[i], &one, 0));
		LOG(dm_update(&m, kernel, 4, &one, 0));            /* full */
		LOG(dm_update(&m, kernel, 9, &one, VISOR_EXIST));  /* replaced: bucket head */
		LOG(dm_update(&m, kernel, 9, &one, VISOR_NOEXIST));
		LOG(dm_update(&m, kernel, 9, &zero, 0));
		LOG(dm_update(&m, kernel, 9, &bad, 0));
		uint32_t k, *prev = NULL, walked = 0;
		while (walked < 10 && (rc = dm_next(&m, kernel, prev, &k)) == 0)
			LOG(k), prev = &k, walked++;
		LOG(rc);
		uint32_t missing = 100;
		LOG(dm_next(&m, kernel, &missing, &k)), LOG(k);
		LOG(dm_delete(&m, kernel, 17));
		LOG(dm_delete(&m, kernel, 17));
		LOG(dm_update(&m, kernel, 33, &one, VISOR_EXIST)); /* EXIST needs no key */
		LOG(dm_lookup(&m, kernel, 33, &r)), LOG(r);
		LOG(dm_lookup(&m, kernel, 17, &r));
		prev = NULL, walked = 0;
		while (walked < 10 && (rc = dm_next(&m, kernel, prev, &k)) == 0)
			LOG(k), prev = &k, walked++;
		LOG(rc);
		dm_close(&m, kernel);
	}
	close(notprog);
#undef LOG
	return n;
}

static void test_devmap_ops(void)
{
	int64_t vlog[128], klog[128];
	size_t vn = devmap_script(false, vlog, 128);
	/* Two results visor must give whatever the kernel says. */
	CHECK(vn > 20 && vlog[0] == -EINVAL && vlog[5] == 0, "devmap script: %zu results", vn);
	int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
	if (probe < 0) {
		printf("SKIP devmap kernel comparison: cannot create kernel maps (%s)\n",
		       strerror(errno));
		return;
	}
	close(probe);
	size_t kn = devmap_script(true, klog, 128);
	CHECK(vn == kn, "devmap script: visor %zu results, kernel %zu", vn, kn);
	for (size_t i = 0; i < vn && i < kn; i++)
		CHECK(vlog[i] == klog[i], "devmap script result %zu: visor %lld, kernel %lld", i,
		      (long long)vlog[i], (long long)klog[i]);
	/* The kernel makes devmaps read-only for programs. */
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_DEVMAP, .key_size = 4,
		   .value_size = 4, .max_entries = 2);
	CHECK(visor_map_create(&o, &m) == 0 && (visor_map_flags(m) & VISOR_F_RDONLY_PROG),
	      "devmap flags");
	int fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP, "f", 4, 4, 2, NULL);
	struct bpf_map_info info = {0};
	uint32_t il = sizeof(info);
	CHECK(fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &il) &&
		      info.map_flags == visor_map_flags(m),
	      "devmap flags: kernel 0x%x, visor 0x%x", info.map_flags, visor_map_flags(m));
	close(fd);
	visor_map_destroy(m);
}

int main(void)
{
	test_xdp_vlan();
	test_xdp_trim();
	test_xdp_meta();
	test_xdp_limits();
	test_xdp_stale_pointer();
	xdp_against_kernel();
	test_tc_nat();
	test_tc_errors();
	tc_against_kernel();
	test_redirect();
	test_devmap_ops();
	printf("test_runtime_packet: %d programs compared with the kernel\n", kernel_compared);
	return test_summary("test_runtime_packet");
}
