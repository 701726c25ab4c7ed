/* Kernel differential of the example objects (tests/progs/NAME.bpf.c) whose
 * programs visor's VM runs: each program on the interpreter, the JIT and
 * the kernel (libbpf + BPF_PROG_TEST_RUN) through tests/lib/objdiff.c, on
 * packets chosen from its source, with return values and map contents also
 * checked against values worked out here. Programs that visor or libbpf
 * 1.1 cannot load are skipped with the reason printed. A table of what was
 * compared ends the output. (tailcall, loop, spinlock, mapinmap and
 * tracepoint objects have their own tests.) */
#include <errno.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define MAX_CASES 24
#define FRAME_MAX 1536

#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* ---- Frames ------------------------------------------------------------- */

struct frames {
	uint8_t buf[MAX_CASES][FRAME_MAX];
	struct objdiff_case c[MAX_CASES];
	uint32_t want[MAX_CASES]; /* expected retval, per test */
	size_t n;
};

static uint8_t *next(struct frames *f)
{
	return f->buf[f->n];
}

static void push(struct frames *f, const char *name, size_t len, uint32_t want)
{
	f->c[f->n] = (struct objdiff_case){.name = name, .data = f->buf[f->n], .data_len = (uint32_t)len};
	f->want[f->n] = want;
	f->n++;
}

#define SRC4 0xc0000201u /* 192.0.2.1 */
#define DST4 0xc6336407u /* 198.51.100.7 */

static size_t frame_udp4(uint8_t *p, uint16_t dport)
{
	return pkt_udp4(p, SRC4, DST4, 12345, dport, "query", 5);
}

static size_t frame_tcp4_tos(uint8_t *p, uint16_t dport, uint8_t tos)
{
	size_t n = pkt_tcp4(p, SRC4, DST4, 40000, dport, 0x02);
	p[14 + 1] = tos;
	pkt_ipv4_fix_checksum(p + 14);
	return n;
}

static size_t frame_icmp4(uint8_t *p)
{
	static const uint8_t echo[8] = {8, 0, 0xf7, 0xfe, 0, 1, 0, 1};
	size_t n = pkt_eth_hdr(p, 0x0800);
	return n + pkt_ipv4(p + n, SRC4, DST4, 1, echo, sizeof(echo));
}

static size_t frame_udp6(uint8_t *p)
{
	uint8_t a[16], b[16];
	pkt_addr6(a, 1);
	pkt_addr6(b, 2);
	return pkt_udp6(p, a, b, 12345, 53, "query", 5);
}

static size_t frame_icmp6(uint8_t *p)
{
	static const uint8_t echo[8] = {128, 0, 0, 0, 0, 1, 0, 1};
	uint8_t a[16], b[16];
	pkt_addr6(a, 1);
	pkt_addr6(b, 2);
	size_t n = pkt_eth_hdr(p, 0x86dd);
	return n + pkt_ipv6(p + n, a, b, 58, echo, sizeof(echo));
}

static size_t frame_arp(uint8_t *p)
{
	static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 2, 192, 0, 2, 1,
					0, 0, 0, 0, 0, 0, 198, 51, 100, 7};
	size_t n = pkt_eth_hdr(p, 0x0806);
	memcpy(p + n, arp, sizeof(arp));
	return n + sizeof(arp);
}

/* 802.1Q tag (VLAN 5) around an IPv4 TCP segment. */
static size_t frame_vlan_tcp4(uint8_t *p)
{
	uint8_t inner[64];
	size_t l = pkt_tcp4(inner, SRC4, DST4, 40000, 443, 0x10);
	size_t n = pkt_eth_hdr(p, 0x8100);
	p[n] = 0, p[n + 1] = 5, p[n + 2] = 0x08, p[n + 3] = 0x00;
	memcpy(p + n + 4, inner + 14, l - 14);
	return n + 4 + l - 14;
}

/* EtherType IPv4 but only 10 bytes of IP header. */
static size_t frame_trunc4(uint8_t *p)
{
	size_t n = frame_udp4(p, 53);
	(void)n;
	return 14 + 10;
}

/* A UDP frame of exactly total bytes (>= 42). */
static size_t frame_sized(uint8_t *p, size_t total)
{
	static uint8_t zeros[FRAME_MAX];
	return pkt_udp4(p, SRC4, DST4, 12345, 7, zeros, total - 42);
}

static size_t frame_udp4_to(uint8_t *p, const uint8_t dst[6])
{
	size_t n = frame_udp4(p, 53);
	memcpy(p, dst, 6);
	return n;
}

/* ---- The agreement table ------------------------------------------------ */

struct row {
	const char *obj, *prog;
	size_t cases;
	int engines; /* -1: not run */
	char note[96];
};
static struct row rows[48];
static size_t nrows;

static void row_add(const char *obj, const char *prog, size_t cases, int engines, const char *note)
{
	if (nrows == sizeof(rows) / sizeof(rows[0]))
		return;
	rows[nrows] = (struct row){.obj = obj, .prog = prog, .cases = cases, .engines = engines};
	snprintf(rows[nrows].note, sizeof(rows[nrows].note), "%s", note ? note : "");
	nrows++;
}

static const char *engine_names(int e)
{
	return e == 3 ? "interp jit kernel" : e == 2 ? "interp jit" : e == 1 ? "interp" : "-";
}

static void print_table(void)
{
	printf("\n%-12s %-22s %5s  %s\n", "object", "program", "cases", "engines compared");
	for (size_t i = 0; i < nrows; i++)
		printf("%-12s %-22s %5zu  %s%s%s\n", rows[i].obj, rows[i].prog, rows[i].cases,
		       engine_names(rows[i].engines), rows[i].note[0] ? "  " : "", rows[i].note);
}

/* objdiff over f's frames, the retvals checked against f->want. */
static int diff(const char *obj, struct objdiff *d, struct frames *f, struct objdiff_result *r)
{
	static struct objdiff_result local[MAX_CASES];
	if (!r)
		r = local;
	memset(r, 0, sizeof(*r) * f->n);
	int e = objdiff_check(d, f->c, f->n, r);
	row_add(obj, d->prog, f->n, e, NULL);
	for (size_t i = 0; i < f->n && e > 0; i++)
		CHECK(r[i].err == 0 ? r[i].retval == f->want[i] : f->want[i] == UINT32_MAX,
		      "%s/%s case '%s': err %d retval %u, want %u", obj, d->prog, f->c[i].name,
		      r[i].err, r[i].retval, f->want[i]);
	return e;
}

/* Programs expected to be refused by the VM (a type without a context, CO-RE
 * against kernel types ...): the reason is printed; once the VM runs one,
 * it is compared like the others with the frames given. */
static bool visor_refuses(const char *obj_label, const char *path, const char *prog_name,
			  char *why, size_t len)
{
	struct visor_obj *obj = visor_obj_open_file(path, NULL, why, len);
	if (!obj)
		return true;
	struct visor_obj_prog *prog = visor_obj_find_prog(obj, prog_name);
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	int rc = prog ? visor_obj_maps_create(obj, &maps, &nmaps, why, len) : -ENOENT;
	if (!rc) {
		struct visor_vm *vm = visor_vm_create();
		rc = visor_obj_prog_load_vm(vm, prog, maps, nmaps, why, len);
		visor_vm_destroy(vm);
	}
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
	if (rc) {
		printf("SKIP %s/%s: the visor VM refuses it: %s\n", obj_label, prog_name, why);
		row_add(obj_label, prog_name, 0, -1, "skipped: visor refuses (see SKIP line)");
	}
	return rc != 0;
}

static uint64_t lookup_u64(struct visor_map *m, uint32_t key)
{
	uint64_t v = UINT64_MAX;
	CHECK(m && visor_map_lookup(m, &key, &v) == 0, "lookup of key %u", key);
	return v;
}

/* ---- xdp_parser --------------------------------------------------------- */

struct counter {
	uint64_t packets, bytes;
};

static void parser_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct frames *f = arg;
	struct visor_map *m = objdiff_map(obj, maps, "proto_counts");
	uint32_t tcp = 6, other = 255;
	struct counter c = {0};
	CHECK(m && visor_map_lookup(m, &tcp, &c) == 0 && c.packets == 3,
	      "xdp_parser: tcp counted %llu times, want 3", (unsigned long long)c.packets);
	CHECK(m && visor_map_lookup(m, &other, &c) == 0 && c.packets == 1 &&
		      c.bytes == f->c[7].data_len,
	      "xdp_parser: non-IP %llu packets %llu bytes", (unsigned long long)c.packets,
	      (unsigned long long)c.bytes);
}

static void test_xdp_parser(struct frames *f)
{
	f->n = 0;
	push(f, "udp4/53", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "udp4/9 discard", frame_udp4(next(f), 9), XDP_DROP);
	push(f, "tcp4/80", frame_tcp4_tos(next(f), 80, 0), XDP_PASS);
	push(f, "tcp4/23", frame_tcp4_tos(next(f), 23, 0), XDP_PASS);
	push(f, "icmp4", frame_icmp4(next(f)), XDP_PASS);
	push(f, "udp6/53", frame_udp6(next(f)), XDP_PASS);
	push(f, "icmp6", frame_icmp6(next(f)), XDP_PASS);
	push(f, "arp", frame_arp(next(f)), XDP_PASS);
	push(f, "vlan tcp4", frame_vlan_tcp4(next(f)), XDP_PASS);
	push(f, "truncated ipv4", frame_trunc4(next(f)), XDP_DROP);
	push(f, "eth only", pkt_eth_hdr(next(f), 0x0800), XDP_DROP);
	memcpy(next(f), f->buf[0], f->c[0].data_len);
	push(f, "udp4/53 x7", f->c[0].data_len, XDP_PASS);
	f->c[f->n - 1].repeat = 7;
	struct objdiff d = {.path = PROGS "xdp_parser.bpf.o", .prog = "xdp_count_protocols",
			    .check_maps = parser_maps, .check_arg = f};
	diff("xdp_parser", &d, f, NULL);
}

/* ---- lpm ------------------------------------------------------------------ */

struct lpm_key {
	uint32_t prefixlen;
	uint8_t addr[4];
};

static void lpm_stats(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const uint64_t *want = arg; /* hits, misses */
	struct visor_map *m = objdiff_map(obj, maps, "lpm_stats");
	CHECK(lookup_u64(m, 0) == want[0] && lookup_u64(m, 1) == want[1],
	      "lpm: hits %llu misses %llu, want %llu %llu", (unsigned long long)lookup_u64(m, 0),
	      (unsigned long long)lookup_u64(m, 1), (unsigned long long)want[0],
	      (unsigned long long)want[1]);
}

static void lpm_setup_table(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *m = objdiff_map(obj, maps, "prefixes");
	/* 10.1.2.3 falls in 10.1.2.0/24 (PASS), 10.1.9.9 in 10.1.0.0/16 (DROP). */
	struct lpm_key k1 = {32, {10, 1, 2, 3}}, k2 = {32, {10, 1, 9, 9}}, k3 = {32, {172, 16, 0, 1}};
	uint32_t v = 99;
	CHECK(m && visor_map_lookup(m, &k1, &v) == 0 && v == XDP_PASS, "lpm setup: 10.1.2.3 -> %u", v);
	CHECK(m && visor_map_lookup(m, &k2, &v) == 0 && v == XDP_DROP, "lpm setup: 10.1.9.9 -> %u", v);
	CHECK(m && visor_map_lookup(m, &k3, &v) == -ENOENT, "lpm setup: 172.16.0.1 matched");
}

static void test_lpm(struct frames *f)
{
	/* The table: documentation prefixes, nested. */
	static const struct lpm_key keys[] = {
		{24, {192, 0, 2, 0}}, {25, {192, 0, 2, 128}}, {24, {198, 51, 100, 0}},
		{32, {203, 0, 113, 7}},
	};
	static const uint32_t actions[] = {XDP_DROP, XDP_PASS, XDP_TX, XDP_ABORTED};
	struct objdiff_update up[4];
	for (size_t i = 0; i < 4; i++)
		up[i] = (struct objdiff_update){.map = "prefixes", .key = &keys[i], .value = &actions[i]};
	static const struct {
		const char *name;
		uint32_t src;
		uint32_t want;
	} hosts[] = {
		{"192.0.2.1 in /24", 0xc0000201, XDP_DROP},
		{"192.0.2.200 in /25", 0xc00002c8, XDP_PASS},
		{"198.51.100.9 in /24", 0xc6336409, XDP_TX},
		{"203.0.113.7 /32", 0xcb007107, XDP_ABORTED},
		{"203.0.113.8 miss", 0xcb007108, XDP_PASS},
		{"192.0.3.1 miss", 0xc0000301, XDP_PASS},
	};
	f->n = 0;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		push(f, hosts[i].name, pkt_udp4(next(f), hosts[i].src, DST4, 1, 2, NULL, 0),
		     hosts[i].want);
	push(f, "udp6 (not looked up)", frame_udp6(next(f)), XDP_PASS);
	push(f, "truncated ipv4", frame_trunc4(next(f)), XDP_PASS);
	static const uint64_t want_stats[2] = {4, 2};
	struct objdiff d = {.path = PROGS "lpm.bpf.o", .prog = "xdp_lpm_filter", .updates = up,
			    .nupdates = 4, .check_maps = lpm_stats, .check_arg = (void *)want_stats};
	diff("lpm", &d, f, NULL);

	f->n = 0;
	push(f, "setup", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "setup again", frame_udp4(next(f), 53), XDP_PASS);
	struct objdiff s = {.path = PROGS "lpm.bpf.o", .prog = "xdp_lpm_setup",
			    .check_maps = lpm_setup_table};
	diff("lpm", &s, f, NULL);
}

/* ---- ringbuf ------------------------------------------------------------ */

static void ringbuf_bss(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const uint32_t *runs = arg;
	struct visor_map *bss = objdiff_map(obj, maps, ".bss");
	uint8_t v[16] = {0};
	uint32_t key = 0, seq;
	uint64_t dropped;
	CHECK(bss && visor_map_lookup(bss, &key, v) == 0, "ringbuf: .bss");
	memcpy(&seq, v, 4);
	memcpy(&dropped, v + 8, 8);
	CHECK(seq == *runs && dropped == 0, "ringbuf: seq %u dropped %llu, want %u 0", seq,
	      (unsigned long long)dropped, *runs);
}

static void test_ringbuf(struct frames *f)
{
	f->n = 0;
	push(f, "udp4", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "tcp4", frame_tcp4_tos(next(f), 80, 0), XDP_PASS);
	push(f, "udp6", frame_udp6(next(f)), XDP_PASS);
	push(f, "arp (4th: seq record)", frame_arp(next(f)), XDP_PASS);
	push(f, "eth only", pkt_eth_hdr(next(f), 0x0800), XDP_PASS);
	push(f, "icmp4 x6", frame_icmp4(next(f)), XDP_PASS);
	f->c[f->n - 1].repeat = 6;
	push(f, "vlan", frame_vlan_tcp4(next(f)), XDP_PASS);
	static uint32_t runs = 5 + 6 + 1;
	struct objdiff d = {.path = PROGS "ringbuf.bpf.o", .prog = "xdp_ringbuf_events",
			    .check_maps = ringbuf_bss, .check_arg = &runs};
	diff("ringbuf", &d, f, NULL);
}

/* ---- globals ------------------------------------------------------------ */

struct globals_rodata {
	uint32_t mult;
	uint8_t enabled, pad[3];
	uint32_t weights[4];
};

struct globals_want {
	struct globals_rodata cfg;
	const struct frames *f;
};

static void globals_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct globals_want *w = arg;
	uint64_t packets = 0, total = 100, matches = 0, mismatches = 0;
	uint32_t rotor = 7, last = 0;
	for (size_t i = 0; i < w->f->n && w->cfg.enabled; i++) {
		uint32_t len = w->f->c[i].data_len, times = w->f->c[i].repeat ? w->f->c[i].repeat : 1;
		for (uint32_t t = 0; t < times; t++) {
			packets++;
			total += len;
			rotor = rotor * 1103515245u + 12345u;
			last = w->cfg.weights[len & 3] * w->cfg.mult + (rotor >> 16);
			if (len >= 8) {
				if (!memcmp(w->f->c[i].data, "visor", 6))
					matches++;
				else
					mismatches++;
			}
		}
	}
	uint32_t key = 0;
	uint8_t data[16] = {0}, bss[24] = {0}, stats[16] = {0};
	CHECK(visor_map_lookup(objdiff_map(obj, maps, ".data"), &key, data) == 0 &&
		      visor_map_lookup(objdiff_map(obj, maps, ".bss"), &key, bss) == 0 &&
		      visor_map_lookup(objdiff_map(obj, maps, ".data.stats"), &key, stats) == 0,
	      "globals: data maps");
	uint64_t got_total, got_packets, got_matches, got_mismatches;
	uint32_t got_rotor, got_last;
	memcpy(&got_total, data, 8);
	memcpy(&got_rotor, data + 8, 4);
	memcpy(&got_packets, bss, 8);
	memcpy(&got_last, bss + 8, 4);
	memcpy(&got_matches, stats, 8);
	memcpy(&got_mismatches, stats + 8, 8);
	CHECK(got_packets == packets && got_total == total && got_rotor == rotor &&
		      got_last == last && got_matches == matches && got_mismatches == mismatches,
	      "globals (enabled %u mult %u): packets %llu/%llu total %llu/%llu rotor %u/%u last %u/%u matches %llu/%llu mismatches %llu/%llu",
	      w->cfg.enabled, w->cfg.mult, (unsigned long long)got_packets,
	      (unsigned long long)packets, (unsigned long long)got_total, (unsigned long long)total,
	      got_rotor, rotor, got_last, last, (unsigned long long)got_matches,
	      (unsigned long long)matches, (unsigned long long)got_mismatches,
	      (unsigned long long)mismatches);
}

static void test_globals(struct frames *f)
{
	static const uint8_t visor_mac[6] = {'v', 'i', 's', 'o', 'r', 0};
	f->n = 0;
	push(f, "dst \"visor\"", frame_udp4_to(next(f), visor_mac), XDP_PASS);
	push(f, "udp4", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "tcp4 x3", frame_tcp4_tos(next(f), 80, 0), XDP_PASS);
	f->c[f->n - 1].repeat = 3;
	push(f, "icmp6", frame_icmp6(next(f)), XDP_PASS);
	push(f, "eth only (len 14)", pkt_eth_hdr(next(f), 0x0800), XDP_PASS);
	push(f, "dst \"visor\" again", frame_udp4_to(next(f), visor_mac), XDP_PASS);

	static struct globals_want defaults = {.cfg = {3, 1, {0}, {1, 2, 3, 5}}};
	defaults.f = f;
	struct objdiff d = {.path = PROGS "globals.bpf.o", .prog = "xdp_globals",
			    .check_maps = globals_maps, .check_arg = &defaults};
	diff("globals", &d, f, NULL);

	/* .rodata set before the load (the kernel freezes it): other weights,
	 * then the program disabled. */
	static const uint32_t zero = 0;
	static struct globals_want tuned = {.cfg = {7, 1, {0}, {11, 13, 17, 19}}};
	tuned.f = f;
	struct objdiff_update up = {.map = ".rodata", .key = &zero, .value = &tuned.cfg};
	d.updates = &up;
	d.nupdates = 1;
	d.check_arg = &tuned;
	diff("globals", &d, f, NULL);
	rows[nrows - 1].prog = "xdp_globals (.rodata)";
	static struct globals_want off = {.cfg = {3, 0, {0}, {1, 2, 3, 5}}};
	off.f = f;
	up.value = &off.cfg;
	d.check_arg = &off;
	diff("globals", &d, f, NULL);
	rows[nrows - 1].prog = "xdp_globals (disabled)";
}

/* ---- percpu ------------------------------------------------------------- */

static void percpu_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *m = objdiff_map(obj, maps, "size_classes");
	uint32_t ncpus = visor_map_nr_cpus(m);
	CHECK(ncpus == (uint32_t)libbpf_num_possible_cpus(), "percpu: %u CPUs, kernel %d", ncpus,
	      libbpf_num_possible_cpus());
	uint64_t v[VISOR_MAP_MAX_CPUS];
	static const uint64_t want[3] = {6, 1, 2}; /* small: 1 + 4 + 1, 500, 1200 x2 */
	for (uint32_t k = 0; k < 3; k++) {
		CHECK(visor_map_lookup(m, &k, v) == 0 && v[0] == want[k],
		      "percpu: class %u on CPU 0: %llu, want %llu", k, (unsigned long long)v[0],
		      (unsigned long long)want[k]);
		for (uint32_t c = 1; c < ncpus; c++)
			CHECK(v[c] == 0, "percpu: class %u counted on CPU %u", k, c);
	}
}

static void test_percpu(struct frames *f)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	f->n = 0;
	push(f, "udp4 (small)", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "tcp4 x4 (small)", frame_tcp4_tos(next(f), 80, 0), XDP_PASS);
	f->c[f->n - 1].repeat = 4;
	push(f, "500 bytes", frame_sized(next(f), 500), XDP_PASS);
	push(f, "1200 bytes x2", frame_sized(next(f), 1200), XDP_PASS);
	f->c[f->n - 1].repeat = 2;
	push(f, "broadcast (small)", frame_udp4_to(next(f), bcast), XDP_PASS);
	struct objdiff d = {.path = PROGS "percpu.bpf.o", .prog = "xdp_percpu",
			    .check_maps = percpu_maps};
	diff("percpu", &d, f, NULL);
}

/* ---- subprogs ----------------------------------------------------------- */

static uint32_t level3(uint32_t x) { return x * 7 + 3; }
static uint32_t level2(uint32_t x) { return level3(x) ^ (x << 2); }
static uint32_t level1(uint32_t x) { return level2(x) + level3(x + 1); }

static void subprogs_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const uint32_t *want = arg; /* last_xdp, last_tc */
	uint32_t key = 0, bss[2] = {0};
	CHECK(visor_map_lookup(objdiff_map(obj, maps, ".bss"), &key, bss) == 0, "subprogs: .bss");
	CHECK(bss[0] == want[0] && bss[1] == want[1], "subprogs: last_xdp %u last_tc %u, want %u %u",
	      bss[0], bss[1], want[0], want[1]);
}

static void test_subprogs(struct frames *f)
{
	f->n = 0;
	push(f, "udp4", frame_udp4(next(f), 53), XDP_PASS);
	push(f, "1200 bytes", frame_sized(next(f), 1200), XDP_PASS);
	uint32_t len = f->c[1].data_len;
	static uint32_t want[2];
	want[0] = (level1(len) * 31) ^ len;
	want[1] = 0;
	struct objdiff d = {.path = PROGS "subprogs.bpf.o", .prog = "xdp_subprogs",
			    .check_maps = subprogs_maps, .check_arg = want};
	diff("subprogs", &d, f, NULL);
	for (size_t i = 0; i < f->n; i++)
		f->want[i] = TC_ACT_OK;
	want[0] = 0;
	want[1] = level2(len); /* tc: skb->len is the whole frame */
	d.prog = "tc_subprogs";
	diff("subprogs", &d, f, NULL);
}

/* ---- multi -------------------------------------------------------------- */

struct multi_want {
	uint32_t slot;
	uint64_t count;
};

static void multi_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct multi_want *w = arg;
	struct visor_map *m = objdiff_map(obj, maps, "hits");
	for (uint32_t k = 0; k < 8; k++) {
		uint64_t want = k == w->slot ? w->count : 0;
		CHECK(lookup_u64(m, k) == want, "multi: hits[%u] = %llu, want %llu", k,
		      (unsigned long long)lookup_u64(m, k), (unsigned long long)want);
	}
}

static void test_multi(struct frames *f)
{
	static const struct {
		const char *prog;
		uint32_t slot, even, odd; /* hits slot, retval on even / odd lengths */
	} progs[] = {
		{"xdp_pass_all", 0, XDP_PASS, XDP_PASS}, {"xdp_drop_all", 1, XDP_DROP, XDP_DROP},
		{"xdp_drop_odd", 2, XDP_PASS, XDP_DROP}, {"xdp_frags_pass", 3, XDP_PASS, XDP_PASS},
		{"xdp_manual", 4, XDP_ABORTED, XDP_ABORTED}, {"tc_ok", 5, TC_ACT_OK, TC_ACT_OK},
		{"tc_shot", 6, TC_ACT_SHOT, TC_ACT_SHOT},
	};
	for (size_t p = 0; p < sizeof(progs) / sizeof(progs[0]); p++) {
		f->n = 0;
		push(f, "60 bytes", frame_sized(next(f), 60), progs[p].even);
		push(f, "61 bytes x3", frame_sized(next(f), 61), progs[p].odd);
		f->c[f->n - 1].repeat = 3;
		push(f, "tcp4", frame_tcp4_tos(next(f), 80, 0),
		     f->c[2].data_len & 1 ? progs[p].odd : progs[p].even);
		struct multi_want w = {progs[p].slot, 5};
		struct objdiff d = {.path = PROGS "multi.bpf.o", .prog = progs[p].prog,
				    .check_maps = multi_maps, .check_arg = &w};
		diff("multi", &d, f, NULL);
	}
	/* A syscall program: compared once the VM has a syscall context. */
	char why[512];
	if (!visor_refuses("multi", PROGS "multi.bpf.o", "sys_reset_hits", why, sizeof(why))) {
		static const uint32_t k2 = 2;
		static const uint64_t nine = 9;
		struct objdiff_update up = {.map = "hits", .key = &k2, .value = &nine};
		struct objdiff_case c = {.name = "reset"};
		struct multi_want w = {2, 0};
		struct objdiff d = {.path = PROGS "multi.bpf.o", .prog = "sys_reset_hits",
				    .updates = &up, .nupdates = 1, .check_maps = multi_maps,
				    .check_arg = &w};
		int e = objdiff_check(&d, &c, 1, NULL);
		row_add("multi", "sys_reset_hits", 1, e, NULL);
	}
}

/* ---- socket ------------------------------------------------------------- */

static void socket_maps(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const uint64_t *want = arg; /* kept, dropped */
	uint32_t key = 0;
	uint64_t bss[2] = {0};
	CHECK(visor_map_lookup(objdiff_map(obj, maps, ".bss"), &key, bss) == 0 &&
		      bss[0] == want[0] && bss[1] == want[1],
	      "socket: kept %llu dropped %llu, want %llu %llu", (unsigned long long)bss[0],
	      (unsigned long long)bss[1], (unsigned long long)want[0], (unsigned long long)want[1]);
}

static void test_socket(struct frames *f)
{
	f->n = 0;
	push(f, "tcp4", frame_tcp4_tos(next(f), 80, 0), 0);
	f->want[0] = f->c[0].data_len - 14; /* socket filters see the frame from the IP header */
	push(f, "udp4", frame_udp4(next(f), 53), 0);
	push(f, "icmp4", frame_icmp4(next(f)), 0);
	push(f, "udp6", frame_udp6(next(f)), 0);
	push(f, "arp", frame_arp(next(f)), 0);
	push(f, "tcp4 1200 bytes x2", 0, 0);
	f->c[5].data_len = (uint32_t)frame_sized(f->buf[5], 1200);
	f->buf[5][14 + 9] = 6; /* protocol TCP (the program reads only that byte) */
	pkt_ipv4_fix_checksum(f->buf[5] + 14);
	f->c[5].repeat = 2;
	f->want[5] = 1200 - 14;
	push(f, "truncated ipv4 (refused)", frame_trunc4(next(f)), UINT32_MAX);
	static const uint64_t want[2] = {3, 4};
	struct objdiff d = {.path = PROGS "socket.bpf.o", .prog = "socket_tcp_only",
			    .check_maps = socket_maps, .check_arg = (void *)want};
	diff("socket", &d, f, NULL);
}

/* ---- tc ----------------------------------------------------------------- */

static void tc_pkt_types(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	(void)arg;
	struct visor_map *m = objdiff_map(obj, maps, "pkt_types");
	/* PACKET_HOST 0 (the loopback's all-zero address), MULTICAST 2 (also
	 * ff:ff:ff:ff:ff:ff: the loopback device has no broadcast address, so
	 * eth_type_trans never says BROADCAST there), OTHERHOST 3 (2 + 3). */
	static const uint64_t want[8] = {1, 0, 3, 5};
	for (uint32_t k = 0; k < 8; k++)
		CHECK(lookup_u64(m, k) == want[k], "tc: pkt_type %u counted %llu, want %llu", k,
		      (unsigned long long)lookup_u64(m, k), (unsigned long long)want[k]);
}

static void test_tc(struct frames *f)
{
	f->n = 0;
	push(f, "tcp4/80 tos 0x10", frame_tcp4_tos(next(f), 80, 0x10), TC_ACT_OK);
	push(f, "tcp4/23 (dropped)", frame_tcp4_tos(next(f), 23, 0), TC_ACT_SHOT);
	push(f, "udp4", frame_udp4(next(f), 53), TC_ACT_OK);
	push(f, "icmp4", frame_icmp4(next(f)), TC_ACT_OK);
	push(f, "udp6", frame_udp6(next(f)), TC_ACT_OK);
	push(f, "arp", frame_arp(next(f)), TC_ACT_OK);
	push(f, "vlan", frame_vlan_tcp4(next(f)), TC_ACT_OK);
	push(f, "truncated ipv4 (refused)", frame_trunc4(next(f)), UINT32_MAX);
	struct objdiff_result r[MAX_CASES];
	struct objdiff d = {.path = PROGS "tc.bpf.o", .prog = "tc_mark"};
	if (diff("tc", &d, f, r) > 0) {
		uint32_t mark0, mark2;
		memcpy(&mark0, r[0].ctx + 8, 4); /* __sk_buff.mark */
		memcpy(&mark2, r[2].ctx + 8, 4);
		CHECK(mark0 == (6u << 8 | 0x10) && mark2 == 17u << 8,
		      "tc_mark: marks 0x%x 0x%x, want 0x610 0x1100", mark0, mark2);
	}

	static const uint8_t host[6] = {0}, bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			     mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	f->n = 0;
	push(f, "to host", frame_udp4_to(next(f), host), TC_ACT_OK);
	push(f, "broadcast", frame_udp4_to(next(f), bcast), TC_ACT_OK);
	push(f, "multicast", frame_udp4_to(next(f), mcast), TC_ACT_OK);
	push(f, "multicast ipv6", frame_udp6(next(f)), TC_ACT_OK);
	memcpy(f->buf[3], (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1}, 6);
	push(f, "other host", frame_udp4(next(f), 53), TC_ACT_OK);
	push(f, "other host arp x3", frame_arp(next(f)), TC_ACT_OK);
	f->c[f->n - 1].repeat = 3;
	push(f, "other host tcp", frame_tcp4_tos(next(f), 80, 0), TC_ACT_OK);
	struct objdiff c = {.path = PROGS "tc.bpf.o", .prog = "tc_ingress_count",
			    .check_maps = tc_pkt_types};
	diff("tc", &c, f, NULL);
}

/* ---- core, legacy: what cannot be compared, and why ---------------------- */

static void test_core(struct frames *f)
{
	static const char *const progs[] = {"core_task", "core_kfunc", "core_kconfig", "core_ksym",
					    "core_skb_ok"};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char why[512];
		if (visor_refuses("core", PROGS "core.bpf.o", progs[i], why, sizeof(why)))
			continue;
		/* CO-RE against UAPI types only: the kernel loads it too. */
		f->n = 0;
		push(f, "udp4", frame_udp4(next(f), 53), TC_ACT_OK);
		push(f, "tcp4", frame_tcp4_tos(next(f), 80, 0), TC_ACT_OK);
		struct objdiff d = {.path = PROGS "core.bpf.o", .prog = progs[i]};
		diff("core", &d, f, NULL);
	}
}

static void test_legacy(void)
{
	libbpf_print_fn_t old = libbpf_set_print(NULL);
	struct bpf_object *bo = bpf_object__open_file(PROGS "legacy.bpf.o", NULL);
	int err = bo ? 0 : -errno;
	libbpf_set_print(old);
	if (bo) {
		/* A libbpf that reads legacy maps: not this one (1.x dropped them). */
		bpf_object__close(bo);
		printf("legacy.bpf.o opens in this libbpf: add a comparison for it\n");
		row_add("legacy", "*", 0, -1, "opens in libbpf: not compared yet");
		return;
	}
	printf("SKIP legacy/*: libbpf %s cannot open it (SEC(\"maps\") legacy map definitions): %s\n",
	       libbpf_version_string(), strerror(-err));
	row_add("legacy", "*", 0, -1, "skipped: libbpf 1.x refuses SEC(\"maps\")");
}

int main(void)
{
	static struct frames f;
	test_xdp_parser(&f);
	test_lpm(&f);
	test_ringbuf(&f);
	test_globals(&f);
	test_percpu(&f);
	test_subprogs(&f);
	test_multi(&f);
	test_socket(&f);
	test_tc(&f);
	test_core(&f);
	test_legacy();
	print_table();
	return test_summary("runtime_objects");
}
