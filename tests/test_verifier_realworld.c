/* The verifier on real-world objects: the four showcase programs of
 * tests/progs/rw_*.bpf.c (a multi-protocol XDP parser with IPv6 extension
 * headers, a tc walker of TCP SYN options, an openat() tracer with a ring
 * buffer, an XDP tail-call pipeline) and the larger objects of the other
 * tests. Every program must be accepted by visor_verify (on the loader's
 * relocated instructions) and by visor_verify_vm (on the program loaded in
 * its VM); the verified programs are then JIT-compiled without bounds
 * checks (VISOR_JIT_VERIFIED, where the host has the JIT) and run on test
 * frames with their results checked, and the packet programs' return values
 * compared with the kernel's on the same frames. The kernel loads the same
 * objects through libbpf with the stats log (log_level 4) and must accept
 * them too; a table compares the two verifiers: instructions processed and
 * time. The kernel half is skipped with one line when bpf() cannot be used. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/verifier.h>
#include <visor/visor.h>

#include "kernel_run.h"
#include "packets.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define MAX_ROWS 64
#define KLOG_SIZE (64u << 10)

/* The showcase objects, then larger objects of the other tests. Objects
 * refused as a whole on purpose (snprintf_refused, spinlock_misuse) are not
 * here; programs refused on purpose in an object are listed below. */
static const char *const objects[] = {
	"rw_ipv6_parser", "rw_tcp_options", "rw_ringbuf_events", "rw_tailcall_chain",
	"xdp_parser",     "tc_nat",         "xdp_adjust",        "ringbuf",
	"tailcall",       "subprogs",       "loop",              "socket",
	"foreach",        "multi",          "redirect",
};

/* Unsafe on purpose: both verifiers must refuse them. */
static const char *const refused[][2] = {
	{"xdp_adjust", "xdp_stale_pointer"}, /* reads through a pointer adjust_head made stale */
};

static bool must_refuse(const char *obj, const char *prog)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!strcmp(refused[i][0], obj) && !strcmp(refused[i][1], prog))
			return true;
	return false;
}

struct row {
	char obj[32];
	char prog[48];
	size_t insns;
	int visor_rc;
	uint64_t visor_processed;
	uint64_t visor_ns;
	bool kernel_done;
	int kernel_rc;
	uint64_t kernel_processed;
	uint64_t kernel_us;
};

static struct row rows[MAX_ROWS];
static size_t nrows;

static struct row *row_find(const char *obj, const char *prog)
{
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].obj, obj) && !strcmp(rows[i].prog, prog))
			return &rows[i];
	if (nrows == MAX_ROWS)
		return NULL;
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->obj, sizeof(r->obj), "%s", obj);
	snprintf(r->prog, sizeof(r->prog), "%s", prog);
	return r;
}

static int line_of(void *ctx, size_t insn, const char **file, unsigned *line, const char **text)
{
	return visor_obj_prog_line(ctx, insn, file, line, text);
}

/* ---- visor: visor_verify on the loader's instructions ------------------- */

static void verify_object(const char *name)
{
	char path[512], err[512] = "", log[8192];
	struct visor_map **maps = NULL;
	size_t nmaps = 0;

	snprintf(path, sizeof(path), PROGS "%s.bpf.o", name);
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(obj, "%s: %s", path, err);
	if (!obj)
		return;
	int rc = visor_obj_maps_create(obj, &maps, &nmaps, err, sizeof(err));
	CHECK(rc == 0, "%s: maps: %s", name, err);
	for (size_t i = 0; !rc && i < visor_obj_prog_count(obj); i++) {
		struct visor_obj_prog *p = visor_obj_prog_at(obj, i);
		char why[256];
		if (visor_obj_prog_unsupported(p, why, sizeof(why)))
			continue; /* CO-RE, kfuncs: not for the visor engine */
		struct row *r = row_find(name, visor_obj_prog_name(p));
		if (!r)
			break;
		VISOR_OPTS(visor_verify_opts, o, .prog_type = visor_obj_prog_type(p), .maps = maps,
			   .nmaps = nmaps, .log_level = 1, .log_buf = log, .log_size = sizeof(log),
			   .line_of = line_of, .line_ctx = p);
		r->insns = visor_obj_prog_insn_count(p);
		r->visor_rc = visor_verify(visor_obj_prog_insns(p), r->insns, &o);
		r->visor_processed = o.insns_processed;
		r->visor_ns = o.verify_ns;
		if (must_refuse(name, r->prog)) {
			CHECK(r->visor_rc == -EACCES, "visor accepts %s/%s, unsafe on purpose (%d)",
			      name, r->prog, r->visor_rc);
			continue;
		}
		CHECK(r->visor_rc == 0, "visor refuses %s/%s (%d) at insn %lld: %s\n%s", name,
		      r->prog, r->visor_rc, (long long)o.err_insn, o.errmsg, log);
		CHECK(r->visor_rc != 0 || o.insns_processed >= 1, "%s/%s: nothing processed", name,
		      r->prog);
	}
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
}

/* ---- visor: the whole object on the engine, verified, then run ---------- */

/* What the visor runs did, in order, to replay in the kernel: map updates
 * and packet runs with visor's return value. */
enum { EV_UPDATE, EV_RUN };
struct replay_ev {
	int kind;
	char obj[32];
	char name[32]; /* map or program */
	uint8_t key[16], value[32];
	uint8_t data[256];
	size_t len;
	uint32_t visor_ret;
};
#define MAX_REPLAY 32
static struct replay_ev replay[MAX_REPLAY];
static size_t nreplay;
static const char *current_obj = "";
static unsigned jitted_progs; /* verified, compiled without bounds checks */

static struct replay_ev *replay_add(int kind, const char *name)
{
	if (nreplay == MAX_REPLAY)
		return NULL;
	struct replay_ev *e = &replay[nreplay++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->obj, sizeof(e->obj), "%s", current_obj);
	snprintf(e->name, sizeof(e->name), "%s", name);
	return e;
}

/* visor_map_update on the object's map (the same value on every CPU of a
 * per-CPU map), recorded for the kernel replay. */
static bool setup_map(struct visor_obj_vm *ovm, const char *map, const void *key, const void *value)
{
	struct visor_map *m = visor_obj_vm_map(ovm, map);
	if (!m || visor_map_key_size(m) > 16 || visor_map_value_size(m) > 32)
		return false;
	size_t vs = visor_map_value_size(m), stride = (vs + 7) & ~(size_t)7;
	uint32_t ncpus = visor_map_nr_cpus(m);
	struct replay_ev *e = replay_add(EV_UPDATE, map);
	if (e) {
		memcpy(e->key, key, visor_map_key_size(m));
		memcpy(e->value, value, vs);
	}
	uint8_t *all = calloc(ncpus, stride);
	if (!all)
		return false;
	for (uint32_t c = 0; c < ncpus; c++)
		memcpy(all + c * stride, value, vs);
	bool ok = visor_map_update(m, key, all, 0) == 0;
	free(all);
	return ok;
}

static struct visor_obj_vm *load_object(const char *name)
{
	current_obj = name;
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), PROGS "%s.bpf.o", name);
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(obj, "%s: %s", path, err);
	if (!obj)
		return NULL;
	VISOR_OPTS(visor_obj_vm_opts, vo, .require_all = true);
	struct visor_obj_vm *ovm = visor_obj_vm_load(obj, &vo, err, sizeof(err));
	CHECK(ovm, "%s: vm load: %s", name, err);
	/* visor_verify_vm on every program: the JIT and test runs need it */
	for (size_t i = 0; ovm && i < visor_obj_prog_count(obj); i++) {
		const char *pn = visor_obj_prog_name(visor_obj_prog_at(obj, i));
		struct visor_vm *vm = visor_obj_vm_prog(ovm, pn);
		CHECK(vm, "%s/%s: not loaded", name, pn);
		if (!vm)
			continue;
		const struct row *r = row_find(name, pn);
		if (r && r->visor_rc)
			continue; /* refused by visor_verify already: one failure, not two */
		VISOR_OPTS(visor_verify_opts, o);
		int rc = visor_verify_vm(vm, &o);
		CHECK(rc == 0, "visor_verify_vm refuses %s/%s (%d): %s", name, pn, rc, o.errmsg);
		/* verified: the runs below use the JIT's code without bounds checks */
		if (rc == 0 && visor_vm_jit_supported()) {
			rc = visor_vm_jit_compile(vm, VISOR_JIT_VERIFIED);
			CHECK(rc == 0, "%s/%s: jit: %s", name, pn, visor_vm_errmsg(vm));
			jitted_progs += rc == 0;
		}
	}
	visor_obj_close(obj);
	return ovm;
}

static uint32_t run_pkt(struct visor_obj_vm *ovm, const char *prog, const void *pkt, size_t len)
{
	uint8_t out[512];
	char err[256] = "";
	struct visor_vm *vm = visor_obj_vm_prog(ovm, prog);
	if (!vm)
		return UINT32_MAX;
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		   .data_out = out, .data_size_out = sizeof(out), .engine = VISOR_ENGINE_AUTO,
		   .errbuf = err, .errbuf_len = sizeof(err));
	int rc = visor_prog_test_run(vm, &o);
	CHECK(rc == 0, "%s: test run: %d %s", prog, rc, err);
	struct replay_ev *e = len <= sizeof(e->data) ? replay_add(EV_RUN, prog) : NULL;
	if (e) {
		memcpy(e->data, pkt, len);
		e->len = len;
		e->visor_ret = rc ? UINT32_MAX : o.retval;
	}
	return rc ? UINT32_MAX : o.retval;
}

/* The value of CPU 0 of a per-CPU map, or of a plain map. */
static bool lookup_cpu0(struct visor_obj_vm *ovm, const char *map, const void *key, void *value)
{
	struct visor_map *m = visor_obj_vm_map(ovm, map);
	if (!m)
		return false;
	size_t vs = visor_map_value_size(m), all = ((vs + 7) & ~(size_t)7) * visor_map_nr_cpus(m);
	uint8_t *buf = calloc(1, all);
	bool ok = buf && visor_map_lookup(m, key, buf) == 0;
	if (ok)
		memcpy(value, buf, vs);
	free(buf);
	return ok;
}

static uint64_t bss_u64(struct visor_obj_vm *ovm, size_t off)
{
	uint8_t v[256] = {0};
	uint32_t zero = 0;
	uint64_t x = 0;
	if (lookup_cpu0(ovm, ".bss", &zero, v))
		memcpy(&x, v + off, sizeof(x));
	return x;
}

static size_t put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* rw_ipv6_parser: keys as the program builds them */
struct flow_class {
	uint16_t ethertype;
	uint8_t l4proto, vlan_depth, ext_headers, fragment;
	uint16_t pad;
};
struct flow_counter {
	uint64_t packets, bytes;
};

static void check_class(struct visor_obj_vm *ovm, struct flow_class k, uint64_t packets,
			uint64_t bytes, const char *what)
{
	struct flow_counter c = {0};
	bool found = lookup_cpu0(ovm, "class_counts", &k, &c);
	CHECK(found, "%s: no class_counts entry", what);
	CHECK_EQ_U64(c.packets, packets, what);
	CHECK_EQ_U64(c.bytes, bytes, what);
}

static uint64_t drops_for(struct visor_obj_vm *ovm, uint32_t reason)
{
	uint64_t n = 0;
	lookup_cpu0(ovm, "drop_reasons", &reason, &n);
	return n;
}

static void run_ipv6_parser(void)
{
	struct visor_obj_vm *ovm = load_object("rw_ipv6_parser");
	uint8_t pkt[512], l4[256], a[16], b[16];
	size_t n, l;
	if (!ovm)
		return;
	pkt_addr6(a, 1);
	pkt_addr6(b, 2);

	/* VLAN 5, IPv6, hop-by-hop (8 bytes), first fragment, UDP to 53 */
	n = pkt_eth_hdr(pkt, 0x8100);
	n += pkt_vlan(pkt + n, 5, 0x86dd);
	l = 0;
	uint8_t hbh[8] = {44, 0, 1, 4, 0, 0, 0, 0}, frag[8] = {17, 0, 0, 0, 0, 0, 0, 1};
	memcpy(l4, hbh, 8);
	memcpy(l4 + 8, frag, 8);
	l = 16 + pkt_udp(l4 + 16, 12345, 53, "payload!", 8);
	n += pkt_ipv6(pkt + n, a, b, 0 /* hop-by-hop */, l4, l);
	CHECK_EQ_U64(run_pkt(ovm, "xdp_rw_parser", pkt, n), 2 /* XDP_PASS */, "ipv6 udp");
	check_class(ovm, (struct flow_class){0x86dd, 17, 1, 2, 0, 0}, 1, n, "ipv6 ext udp class");

	/* 802.1ad + 802.1Q, IPv4 with 4 bytes of options (IHL 6), TCP to 22:
	 * dropped by a rule */
	uint8_t rk[4] = {6, 0, 22, 0};
	uint32_t drop = 1;
	CHECK(setup_map(ovm, "rules", rk, &drop), "rule insert");
	n = pkt_eth_hdr(pkt, 0x88a8);
	n += pkt_vlan(pkt + n, 100, 0x8100);
	n += pkt_vlan(pkt + n, 200, 0x0800);
	size_t tl = pkt_tcp(l4, 40000, 22, 0x02, NULL, 0);
	size_t ip = n;
	n += pkt_ipv4(pkt + n, 0xc0000201, 0xc0000202, 6, NULL, 0);
	memset(pkt + n, 1, 4); /* four NOP options */
	n += 4;
	memcpy(pkt + n, l4, tl);
	n += tl;
	pkt[ip] = 0x46;
	put_be16(pkt + ip + 2, (uint16_t)(24 + tl));
	pkt_ipv4_fix_checksum(pkt + ip);
	CHECK_EQ_U64(run_pkt(ovm, "xdp_rw_parser", pkt, n), 1 /* XDP_DROP */, "ipv4 ihl 6 tcp 22");
	check_class(ovm, (struct flow_class){0x0800, 6, 2, 0, 0, 0}, 1, n, "qinq ipv4 tcp class");
	CHECK_EQ_U64(drops_for(ovm, 9 /* ERR_RULE_DROP */), 1, "rule drops");

	/* seven extension headers: one more than the parser walks */
	n = pkt_eth_hdr(pkt, 0x86dd);
	for (int i = 0; i < 7; i++) {
		l4[i * 8] = 60; /* destination options, next: destination options */
		memset(l4 + i * 8 + 1, 0, 7);
	}
	n += pkt_ipv6(pkt + n, a, b, 60, l4, 7 * 8);
	CHECK_EQ_U64(run_pkt(ovm, "xdp_rw_parser", pkt, n), 0 /* XDP_ABORTED */, "7 ext headers");
	CHECK_EQ_U64(drops_for(ovm, 7 /* ERR_TOO_MANY_EXT */), 1, "too many ext");

	/* an extension header cut short by the end of the frame */
	n = pkt_eth_hdr(pkt, 0x86dd);
	l4[0] = 60;
	l4[1] = 0;
	n += pkt_ipv6(pkt + n, a, b, 0, l4, 1);
	CHECK_EQ_U64(run_pkt(ovm, "xdp_rw_parser", pkt, n), 0, "short ext header");
	CHECK_EQ_U64(drops_for(ovm, 6 /* ERR_SHORT_EXT */), 1, "short ext");

	visor_obj_vm_destroy(ovm);
}

/* rw_tcp_options */
struct syn_options {
	uint16_t mss;
	uint8_t wscale, have_wscale, sack_permitted, have_timestamp, options_seen, malformed;
	uint32_t tsval;
};

static size_t syn_frame(uint8_t *pkt, uint16_t sport, const uint8_t *opts, size_t olen)
{
	uint8_t tcp[64];
	size_t tl = pkt_tcp(tcp, sport, 80, 0x02, NULL, 0);
	memcpy(tcp + tl, opts, olen);
	tcp[12] = (uint8_t)(((tl + olen) / 4) << 4);
	size_t n = pkt_eth_hdr(pkt, 0x0800);
	return n + pkt_ipv4(pkt + n, 0xc0000201, 0xc0000202, 6, tcp, tl + olen);
}

static bool syn_lookup(struct visor_obj_vm *ovm, uint16_t sport, struct syn_options *o)
{
	uint8_t key[12] = {192, 0, 2, 1, 192, 0, 2, 2};
	put_be16(key + 8, sport);
	put_be16(key + 10, 80);
	memset(o, 0, sizeof(*o));
	return lookup_cpu0(ovm, "syn_opts", key, o);
}

static void run_tcp_options(void)
{
	struct visor_obj_vm *ovm = load_object("rw_tcp_options");
	uint8_t pkt[256];
	struct syn_options o;
	if (!ovm)
		return;
	/* MSS 1460, SACK permitted, timestamps (tsval 0x1234), NOP, wscale 7 */
	static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34,
				       0, 0, 0, 0, 1,    3, 3, 7};
	uint8_t padded[24] = {0};
	memcpy(padded, opts, sizeof(opts));
	size_t n = syn_frame(pkt, 1000, padded, sizeof(padded));
	CHECK_EQ_U64(run_pkt(ovm, "tc_syn_options", pkt, n), 0 /* TC_ACT_OK */, "syn");
	CHECK(syn_lookup(ovm, 1000, &o), "no entry for the SYN");
	CHECK_EQ_U64(o.mss, 1460, "mss");
	CHECK_EQ_U64(o.wscale, 7, "wscale");
	CHECK_EQ_U64(o.have_wscale, 1, "have wscale");
	CHECK_EQ_U64(o.sack_permitted, 1, "sack permitted");
	CHECK_EQ_U64(o.have_timestamp, 1, "timestamp");
	CHECK_EQ_U64(o.tsval, 0x1234, "tsval");
	CHECK_EQ_U64(o.malformed, 0, "well formed");
	CHECK_EQ_U64(o.options_seen, 6, "options seen (5 + EOL)");

	/* an option of length 1 stops the walk */
	static const uint8_t bad[] = {1, 1, 2, 1, 0, 0, 0, 0};
	n = syn_frame(pkt, 1001, bad, sizeof(bad));
	CHECK_EQ_U64(run_pkt(ovm, "tc_syn_options", pkt, n), 0, "malformed syn");
	CHECK(syn_lookup(ovm, 1001, &o), "no entry for the malformed SYN");
	CHECK_EQ_U64(o.malformed, 1, "malformed");
	CHECK_EQ_U64(o.mss, 0, "no mss");

	/* not a SYN: not recorded */
	uint8_t tcp[20];
	size_t tl = pkt_tcp(tcp, 1002, 80, 0x10 /* ACK */, NULL, 0);
	n = pkt_eth_hdr(pkt, 0x0800);
	n += pkt_ipv4(pkt + n, 0xc0000201, 0xc0000202, 6, tcp, tl);
	CHECK_EQ_U64(run_pkt(ovm, "tc_syn_options", pkt, n), 0, "ack");
	CHECK(!syn_lookup(ovm, 1002, &o), "an ACK was recorded");
	uint64_t syns = 0;
	uint32_t zero = 0;
	lookup_cpu0(ovm, "syn_stats", &zero, &syns);
	CHECK_EQ_U64(syns, 2, "SYNs counted");
	visor_obj_vm_destroy(ovm);
}

/* rw_ringbuf_events */
struct openat_ctx {
	uint64_t common;
	int32_t nr;
	uint32_t pad;
	uint64_t dfd;
	uint64_t filename;
	uint64_t flags, mode;
};

struct open_event {
	uint32_t kind, pid, tgid, uid;
	uint64_t ts_enter_ns, ts_copied_ns;
	int32_t dfd;
	uint32_t flags;
	int32_t name_len;
	char comm[16];
	char filename[256];
};

struct consumed {
	int opens, stats, failed;
	struct open_event last;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct consumed *c = ctx;
	uint32_t kind;
	memcpy(&kind, data, sizeof(kind));
	if (kind == 1 && size >= sizeof(c->last)) {
		c->opens++;
		memcpy(&c->last, data, sizeof(c->last));
	} else if (kind == 2) {
		c->stats++;
	} else if (kind == 3) {
		c->failed++;
	}
	return 0;
}

static void run_openat(struct visor_obj_vm *ovm, const char *name)
{
	struct openat_ctx c = {.nr = 257, .dfd = (uint64_t)-100, .filename = (uintptr_t)name,
			       .flags = 0x80000};
	char err[256] = "";
	struct visor_vm *vm = visor_obj_vm_prog(ovm, "trace_openat");
	if (!vm)
		return;
	VISOR_OPTS(visor_prog_test_run_opts, o, .ctx_in = &c, .ctx_size_in = sizeof(c),
		   .engine = VISOR_ENGINE_AUTO, .errbuf = err, .errbuf_len = sizeof(err));
	int rc = visor_prog_test_run(vm, &o);
	CHECK(rc == 0 && o.retval == 0, "trace_openat: %d %s", rc, err);
}

static void run_ringbuf_events(void)
{
	struct visor_obj_vm *ovm = load_object("rw_ringbuf_events");
	struct consumed got = {0};
	if (!ovm)
		return;
	struct visor_map *rb = visor_obj_vm_map(ovm, "events");
	CHECK(rb, "no events ring buffer");
	if (!rb) {
		visor_obj_vm_destroy(ovm);
		return;
	}
	/* 1 submitted, 2 discarded by prefix, 1 failed copy (NULL name), 4
	 * more submitted: the 8th call also sends statistics */
	run_openat(ovm, "/etc/hostname");
	run_openat(ovm, "/proc/self/status");
	run_openat(ovm, "/sys/kernel/mm");
	run_openat(ovm, NULL);
	visor_ringbuf_consume(rb, on_event, &got);
	CHECK_EQ_U64(got.opens, 1, "open events after 4 calls");
	CHECK_EQ_U64(got.failed, 1, "copy failures");
	CHECK(!strcmp(got.last.filename, "/etc/hostname"), "filename '%s'", got.last.filename);
	CHECK_EQ_U64(got.last.name_len, sizeof("/etc/hostname"), "name_len");
	CHECK_EQ_U64((uint32_t)got.last.dfd, (uint32_t)-100, "dfd");
	CHECK_EQ_U64(got.last.flags, 0x80000, "flags");
	CHECK(got.last.ts_copied_ns >= got.last.ts_enter_ns && got.last.ts_enter_ns,
	      "timestamps %llu %llu", (unsigned long long)got.last.ts_enter_ns,
	      (unsigned long long)got.last.ts_copied_ns);
	CHECK(got.last.comm[0], "empty comm");
	for (int i = 0; i < 4; i++)
		run_openat(ovm, "/var/log/syslog");
	visor_ringbuf_consume(rb, on_event, &got);
	CHECK_EQ_U64(got.opens, 5, "open events after 8 calls");
	CHECK_EQ_U64(got.stats, 1, "statistics records");
	/* .bss: calls, submitted, discarded, reserve_failed */
	CHECK_EQ_U64(bss_u64(ovm, 0), 8, "calls");
	CHECK_EQ_U64(bss_u64(ovm, 8), 5, "submitted");
	CHECK_EQ_U64(bss_u64(ovm, 16), 3, "discarded");
	visor_obj_vm_destroy(ovm);
}

/* rw_tailcall_chain */
struct scratch {
	uint32_t seen;
	uint16_t ethertype, l3_off, l4_off;
	uint8_t l4proto, pad;
	uint16_t sport, dport;
	uint32_t pkt_len;
};

static void run_tailcall_chain(void)
{
	struct visor_obj_vm *ovm = load_object("rw_tailcall_chain");
	uint8_t pkt[256], a[16], b[16];
	struct scratch s;
	uint32_t zero = 0;
	size_t n;
	if (!ovm)
		return;
	pkt_addr6(a, 1);
	pkt_addr6(b, 2);
	uint8_t pk[4] = {17, 0, 53, 0};
	uint32_t drop = 1;
	CHECK(setup_map(ovm, "policy", pk, &drop), "policy insert");

	n = pkt_udp6(pkt, a, b, 5353, 53, "q", 1);
	CHECK_EQ_U64(run_pkt(ovm, "rw_entry", pkt, n), 1 /* XDP_DROP */, "udp6 to 53");
	CHECK(lookup_cpu0(ovm, "scratch_map", &zero, &s), "scratch");
	CHECK_EQ_U64(s.seen, 7, "all stages ran");
	CHECK_EQ_U64(s.dport, 53, "dport");
	CHECK_EQ_U64(s.l4_off, 54, "l4 offset");

	n = pkt_tcp4(pkt, 0xc0000201, 0xc0000202, 40000, 443, 0x02);
	CHECK_EQ_U64(run_pkt(ovm, "rw_entry", pkt, n), 2 /* XDP_PASS */, "tcp4 to 443");
	CHECK(lookup_cpu0(ovm, "scratch_map", &zero, &s), "scratch");
	CHECK_EQ_U64(s.seen, 7, "all stages ran");
	CHECK_EQ_U64(s.sport, 40000, "sport");

	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	n = pkt_eth_to(pkt, bcast, 0x0806);
	n += pkt_arp(pkt + n, 1, a, 0xc0000201, bcast, 0xc0000202);
	CHECK_EQ_U64(run_pkt(ovm, "rw_entry", pkt, n), 2, "arp");
	CHECK(lookup_cpu0(ovm, "scratch_map", &zero, &s), "scratch");
	CHECK_EQ_U64(s.seen, 1, "entry only");

	/* a stage run on its own sees a scratch record that is not its own */
	memset(&s, 0, sizeof(s));
	CHECK(setup_map(ovm, "scratch_map", &zero, &s), "scratch reset");
	CHECK_EQ_U64(run_pkt(ovm, "rw_stage_verdict", pkt, n), 0 /* XDP_ABORTED */, "lone stage");
	uint64_t bad = 0;
	uint32_t key = 3; /* CNT_BAD_SCRATCH */
	lookup_cpu0(ovm, "chain_counts", &key, &bad);
	CHECK_EQ_U64(bad, 1, "bad scratch counted");
	visor_obj_vm_destroy(ovm);
}

/* ---- the kernel: libbpf load with the stats log ------------------------- */

static bool expect_refusal; /* libbpf's warnings are then the expected outcome */

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && !expect_refusal ? vfprintf(stderr, fmt, ap) : 0;
}

static uint64_t log_number(const char *log, const char *prefix)
{
	const char *p = log ? strstr(log, prefix) : NULL;
	return p ? strtoull(p + strlen(prefix), NULL, 10) : 0;
}

/* Loads the object with the stats log on its programs; only: load that
 * program alone (the others' autoload off), else all but the ones refused
 * on purpose. Returns libbpf's result. */
static int kernel_load(const char *name, const char *only)
{
	char path[512];
	static char logs[16][KLOG_SIZE];
	snprintf(path, sizeof(path), PROGS "%s.bpf.o", name);
	struct bpf_object *bo = bpf_object__open_file(path, NULL);
	CHECK(bo, "libbpf open %s: %d", path, -errno);
	if (!bo)
		return -EINVAL;
	struct bpf_program *bp;
	size_t i = 0;
	bpf_object__for_each_program(bp, bo)
	{
		const char *pn = bpf_program__name(bp);
		if (i == 16)
			break;
		logs[i][0] = 0;
		bpf_program__set_log_level(bp, 4); /* BPF_LOG_STATS */
		bpf_program__set_log_buf(bp, logs[i], KLOG_SIZE);
		if (only)
			bpf_program__set_autoload(bp, !strcmp(pn, only));
		else if (must_refuse(name, pn))
			bpf_program__set_autoload(bp, false);
		i++;
	}
	int rc = bpf_object__load(bo);
	i = 0;
	bpf_object__for_each_program(bp, bo)
	{
		if (i == 16)
			break;
		struct row *r = bpf_program__autoload(bp) ? row_find(name, bpf_program__name(bp)) : NULL;
		if (r) {
			r->kernel_done = true;
			r->kernel_rc = rc ? rc : bpf_program__fd(bp) < 0 ? -EINVAL : 0;
			r->kernel_processed = log_number(logs[i], "processed ");
			r->kernel_us = log_number(logs[i], "verification time ");
			if (!r->insns)
				r->insns = bpf_program__insn_cnt(bp);
		}
		i++;
	}
	bpf_object__close(bo);
	return rc;
}

static void kernel_object(const char *name)
{
	int rc = kernel_load(name, NULL);
	CHECK(rc == 0, "the kernel refuses %s: %d", name, rc);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(refused[i][0], name))
			continue;
		expect_refusal = true;
		rc = kernel_load(name, refused[i][1]);
		expect_refusal = false;
		CHECK(rc == -EACCES, "the kernel loads %s/%s, unsafe on purpose (%d)", name,
		      refused[i][1], rc);
	}
}

/* Replays one object's recorded map updates and runs in the kernel
 * (BPF_PROG_TEST_RUN): the return values must be visor's. */
static void kernel_replay(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), PROGS "%s.bpf.o", name);
	struct bpf_object *bo = bpf_object__open_file(path, NULL);
	int rc = bo ? bpf_object__load(bo) : -errno;
	CHECK(rc == 0, "replay: libbpf load %s: %d", name, rc);
	int ncpus = libbpf_num_possible_cpus();
	for (size_t i = 0; !rc && i < nreplay; i++) {
		struct replay_ev *e = &replay[i];
		if (strcmp(e->obj, name))
			continue;
		if (e->kind == EV_UPDATE) {
			struct bpf_map *m = bpf_object__find_map_by_name(bo, e->name);
			uint8_t values[32 * 256] = {0};
			uint32_t vs = m ? bpf_map__value_size(m) : 0;
			enum bpf_map_type t = m ? bpf_map__type(m) : 0;
			bool percpu = t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH;
			int copies = percpu ? (ncpus > 256 ? 256 : ncpus) : 1;
			for (int c = 0; c < copies; c++)
				memcpy(values + c * ((vs + 7) & ~7u), e->value, vs);
			CHECK(m && bpf_map_update_elem(bpf_map__fd(m), e->key, values, 0) == 0,
			      "replay: update %s/%s", name, e->name);
			continue;
		}
		struct bpf_program *bp = bpf_object__find_program_by_name(bo, e->name);
		uint8_t out[512];
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = e->data, .data_size_in = (uint32_t)e->len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		int r = bp ? bpf_prog_test_run_opts(bpf_program__fd(bp), &t) : -ENOENT;
		CHECK(r == 0, "replay: kernel test run %s/%s: %d", name, e->name, r);
		if (r == 0)
			CHECK(t.retval == e->visor_ret,
			      "%s/%s run %zu: kernel returns %u, visor %u", name, e->name, i,
			      t.retval, e->visor_ret);
	}
	bpf_object__close(bo);
}

static const char *verdict(int rc)
{
	return rc == 0 ? "ok" : rc == -EACCES ? "unsafe" : rc == -E2BIG ? "complex" : "error";
}

static void print_table(bool kernel)
{
	printf("%-18s %-22s %6s | %-7s %9s %10s | %-7s %9s %10s\n", "object", "program", "insns",
	       "visor", "processed", "time us", "kernel", "processed", "time us");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		printf("%-18s %-22s %6zu | %-7s %9llu %10.1f | ", r->obj, r->prog, r->insns,
		       verdict(r->visor_rc), (unsigned long long)r->visor_processed,
		       r->visor_ns / 1000.0);
		if (kernel && r->kernel_done)
			printf("%-7s %9llu %10llu\n", verdict(r->kernel_rc),
			       (unsigned long long)r->kernel_processed,
			       (unsigned long long)r->kernel_us);
		else
			printf("%-7s\n", "-");
	}
}

int main(void)
{
	char why[256];
	size_t nobj = sizeof(objects) / sizeof(objects[0]);

	for (size_t i = 0; i < nobj; i++)
		verify_object(objects[i]);
	run_ipv6_parser();
	run_tcp_options();
	run_ringbuf_events();
	run_tailcall_chain();

	bool kernel = kernel_available(why, sizeof(why));
	if (kernel) {
		libbpf_set_print(quiet_libbpf);
		for (size_t i = 0; i < nobj; i++)
			kernel_object(objects[i]);
		/* the packet programs (not the tracepoint: no test run for it) */
		kernel_replay("rw_ipv6_parser");
		kernel_replay("rw_tcp_options");
		kernel_replay("rw_tailcall_chain");
	}
	print_table(kernel);
	printf("programs run in the JIT without bounds checks after verification: %u\n",
	       jitted_progs);
	if (!kernel)
		printf("kernel column skipped: %s\n", why);
	return test_summary("test_verifier_realworld");
}
