/* The runtime end to end: the compiled XDP protocol counter
 * (tests/progs/xdp_parser.bpf.c) with its hash map created from the object's
 * definitions, run on hand-made packets in the interpreter and the JIT;
 * return codes and map contents checked, and compared with the kernel
 * (libbpf load + BPF_PROG_TEST_RUN, through tests/lib/objdiff.c) when it is
 * available. Plus the runtime API's refusals: lddw without maps, bad map
 * indexes, context writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define OBJ_PATH VISOR_BINARY_DIR "/tests/progs/xdp_parser.bpf.o"
#define MAX_PKT 128
#define MAX_PKTS 16
#define SRC4 0xc0000201u /* 192.0.2.1 */
#define DST4 0xc6336407u /* 198.51.100.7 */

struct counter {
	uint64_t packets, bytes;
};

struct pkt {
	const char *name;
	uint8_t data[MAX_PKT];
	size_t len;
	uint32_t want; /* XDP action */
	uint32_t key;  /* protocol counted */
};

static size_t make_packets(struct pkt *v)
{
	static const uint8_t icmp[8] = {8, 0, 0xf7, 0xff, 0, 1, 0, 1};
	static const uint8_t icmp6[8] = {128, 0, 0, 0, 0, 1, 0, 1};
	static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 1}, unknown[6] = {0};
	uint8_t a1[16], a2[16], tcp[20];
	pkt_addr6(a1, 1);
	pkt_addr6(a2, 2);
	size_t tcplen = pkt_tcp(tcp, 12345, 80, 0x02, NULL, 0); /* SYN */
	size_t n = 0, l;

	v[n] = (struct pkt){.name = "ipv4 udp/53", .want = 2, .key = 17};
	v[n].len = pkt_udp4(v[n].data, SRC4, DST4, 12345, 53, NULL, 0);
	n++;
	v[n] = (struct pkt){.name = "ipv4 udp/9 (discard)", .want = 1, .key = 17};
	v[n].len = pkt_udp4(v[n].data, SRC4, DST4, 12345, 9, NULL, 0);
	n++;
	v[n] = (struct pkt){.name = "ipv4 tcp", .want = 2, .key = 6};
	v[n].len = pkt_tcp4(v[n].data, SRC4, DST4, 12345, 80, 0x02);
	n++;
	v[n] = (struct pkt){.name = "ipv4 icmp", .want = 2, .key = 1};
	l = pkt_eth_hdr(v[n].data, 0x0800);
	v[n].len = l + pkt_ipv4(v[n].data + l, SRC4, DST4, 1, icmp, sizeof(icmp));
	n++;
	v[n] = (struct pkt){.name = "ipv6 udp/53", .want = 2, .key = 17};
	v[n].len = pkt_udp6(v[n].data, a1, a2, 12345, 53, NULL, 0);
	n++;
	v[n] = (struct pkt){.name = "ipv6 icmpv6", .want = 2, .key = 58};
	l = pkt_eth_hdr(v[n].data, 0x86dd);
	v[n].len = l + pkt_ipv6(v[n].data + l, a1, a2, 58, icmp6, sizeof(icmp6));
	n++;
	v[n] = (struct pkt){.name = "arp", .want = 2, .key = 255};
	l = pkt_eth_hdr(v[n].data, 0x0806);
	v[n].len = l + pkt_arp(v[n].data + l, 1, mac1, SRC4, unknown, DST4);
	n++;
	v[n] = (struct pkt){.name = "vlan ipv4 tcp", .want = 2, .key = 6};
	l = pkt_eth_hdr(v[n].data, 0x8100);
	l += pkt_vlan(v[n].data + l, 5, 0x0800);
	v[n].len = l + pkt_ipv4(v[n].data + l, SRC4, DST4, 6, tcp, tcplen);
	n++;
	v[n] = (struct pkt){.name = "truncated ipv4", .want = 1, .key = UINT32_MAX};
	v[n].len = pkt_eth_hdr(v[n].data, 0x0800) + 10;
	n++;
	return n;
}

struct result {
	struct counter counts[256];
	bool present[256];
};

/* Keys 0..255 of proto_counts. */
static void read_counts(struct visor_map *m, struct result *res)
{
	for (uint32_t k = 0; k < 256; k++) {
		struct counter c;
		res->present[k] = m && visor_map_lookup(m, &k, &c) == 0;
		if (res->present[k])
			res->counts[k] = c;
	}
}

static void run_visor(const struct visor_obj *obj, int engine, const struct pkt *pk, size_t np,
		      struct result *res)
{
	const char *ename = engine == VISOR_ENGINE_JIT ? "jit" : "interp";
	struct visor_obj_prog *prog = visor_obj_find_prog(obj, "xdp_count_protocols");
	CHECK(prog != NULL, "program not found");
	if (!prog)
		return;
	/* Maps made from the object's definitions, then the program loaded
	 * with them bound: the library calls tools use too. */
	struct visor_map **maps;
	size_t nmaps;
	char lerr[512] = "";
	int rc = visor_obj_maps_create(obj, &maps, &nmaps, lerr, sizeof(lerr));
	CHECK(rc == 0, "maps: %s", lerr);
	if (rc)
		return;
	struct visor_vm *vm = visor_vm_create();
	rc = visor_obj_prog_load_vm(vm, prog, maps, nmaps, lerr, sizeof(lerr));
	CHECK(rc == 0, "load: %s", lerr);
	if (!rc && engine == VISOR_ENGINE_JIT)
		CHECK(visor_vm_jit_compile(vm, 0) == 0, "jit: %s", visor_vm_errmsg(vm));

	for (size_t i = 0; i < np && !rc; i++) {
		char err[256] = "";
		uint8_t out[MAX_PKT];
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pk[i].data,
			   .data_size_in = (uint32_t)pk[i].len, .data_out = out,
			   .data_size_out = sizeof(out), .engine = engine, .errbuf = err,
			   .errbuf_len = sizeof(err));
		int r = visor_prog_test_run(vm, &o);
		CHECK(r == 0, "%s: %s: %s", ename, pk[i].name, err);
		CHECK(o.retval == pk[i].want, "%s: %s: returned %u, want %u", ename, pk[i].name,
		      o.retval, pk[i].want);
		CHECK(o.data_size_out == pk[i].len && !memcmp(out, pk[i].data, pk[i].len),
		      "%s: %s: packet changed", ename, pk[i].name);
	}
	/* A repeated run counts every repetition, as the kernel's. */
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pk[0].data,
		   .data_size_in = (uint32_t)pk[0].len, .repeat = 10, .engine = engine);
	CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == pk[0].want, "%s: repeat", ename);

	read_counts(maps[0], res);
	visor_vm_destroy(vm);
	visor_obj_maps_destroy(maps, nmaps);
}

/* What the packets must have counted: one per packet, ten more for pk[0]. */
static void check_expected(const char *who, const struct pkt *pk, size_t np,
			   const struct result *res)
{
	struct counter want[256] = {{0}};
	for (size_t i = 0; i < np; i++) {
		if (pk[i].key == UINT32_MAX)
			continue;
		uint32_t times = i == 0 ? 11 : 1;
		want[pk[i].key].packets += times;
		want[pk[i].key].bytes += times * pk[i].len;
	}
	for (int k = 0; k < 256; k++) {
		bool expect = want[k].packets != 0;
		CHECK(res->present[k] == expect, "%s: key %d present %d", who, k, res->present[k]);
		if (expect && res->present[k])
			CHECK(res->counts[k].packets == want[k].packets &&
				      res->counts[k].bytes == want[k].bytes,
			      "%s: key %d: %llu packets %llu bytes, want %llu %llu", who, k,
			      (unsigned long long)res->counts[k].packets,
			      (unsigned long long)res->counts[k].bytes,
			      (unsigned long long)want[k].packets, (unsigned long long)want[k].bytes);
	}
}

struct pkts {
	const struct pkt *pk;
	size_t np;
};

static void objdiff_counts(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct pkts *p = arg;
	struct result res = {0};
	struct visor_map *m = objdiff_map(obj, maps, "proto_counts");
	CHECK(m != NULL, "objdiff: no map proto_counts");
	read_counts(m, &res);
	check_expected("objdiff interp", p->pk, p->np, &res);
}

/* The kernel comparison: every packet, then pk[0] repeated 10 times, on the
 * interpreter, the JIT and the kernel (objdiff: return codes, output packets
 * and proto_counts must agree; one SKIP line without the kernel). The
 * interpreter's run is held to the same expected values as run_visor's. */
static void run_objdiff(const struct pkt *pk, size_t np)
{
	struct objdiff_case c[MAX_PKTS + 1];
	static struct objdiff_result r[MAX_PKTS + 1];
	for (size_t i = 0; i < np; i++)
		c[i] = (struct objdiff_case){.name = pk[i].name, .data = pk[i].data,
					     .data_len = (uint32_t)pk[i].len};
	c[np] = c[0];
	c[np].name = "ipv4 udp/53 x10";
	c[np].repeat = 10;
	struct pkts arg = {pk, np};
	struct objdiff d = {.path = OBJ_PATH, .prog = "xdp_count_protocols",
			    .check_maps = objdiff_counts, .check_arg = &arg};
	int engines = objdiff_check(&d, c, np + 1, r);
	CHECK(engines >= 2, "objdiff compared %d engines", engines);
	for (size_t i = 0; i <= np && engines > 0; i++) {
		const struct pkt *p = &pk[i < np ? i : 0];
		CHECK(r[i].err == 0 && r[i].retval == p->want,
		      "objdiff interp: %s: err %d returned %u, want %u", c[i].name, r[i].err,
		      r[i].retval, p->want);
		CHECK(r[i].data_len == p->len && !memcmp(r[i].data, p->data, p->len),
		      "objdiff interp: %s: packet changed", c[i].name);
	}
}

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

static void test_refusals(void)
{
	/* lddw r1, map 0; r0 = 0; exit */
	struct visor_insn lddw_map[] = {
		INSN(0x18, 1, VISOR_LDDW_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0),
		INSN(0xb7, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0),
	};
	struct visor_vm *vm = visor_vm_create();
	CHECK(visor_vm_load(vm, lddw_map, 4) == -EOPNOTSUPP && strstr(visor_vm_errmsg(vm), "needs maps"),
	      "no maps: %s", visor_vm_errmsg(vm));
	struct visor_map *m;
	VISOR_OPTS(visor_map_create_opts, co, .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
		   .value_size = 16, .max_entries = 1);
	CHECK(visor_map_create(&co, &m) == 0, "array");
	CHECK(visor_vm_set_maps(vm, &m, 1) == 0, "set_maps");
	lddw_map[0].imm = 3;
	CHECK(visor_vm_load(vm, lddw_map, 4) == -EINVAL && strstr(visor_vm_errmsg(vm), "1 maps"),
	      "bad index: %s", visor_vm_errmsg(vm));
	/* lddw r1, &value + 8; *(u64 *)(r1 + 0) = 7; r0 = *(u64 *)(r1 + 0); exit */
	struct visor_insn value[] = {
		INSN(0x18, 1, VISOR_LDDW_MAP_VALUE, 0, 0), INSN(0, 0, 0, 0, 8),
		INSN(0x7a, 1, 0, 0, 7), INSN(0x79, 0, 1, 0, 0), INSN(0x95, 0, 0, 0, 0),
	};
	uint64_t r0 = 0;
	CHECK(visor_vm_load(vm, value, 5) == 0, "map value: %s", visor_vm_errmsg(vm));
	VISOR_OPTS(visor_verify_opts, vo);
	CHECK(visor_verify_vm(vm, &vo) == 0, "map value: verifier: %s", vo.errmsg);
	CHECK(visor_vm_exec_mem(vm, NULL, 0, &r0) == 0 && r0 == 7, "map value run: %s",
	      visor_vm_errmsg(vm));
	uint32_t key = 0;
	uint64_t v[2];
	CHECK(visor_map_lookup(m, &key, v) == 0 && v[1] == 7, "value written");
	value[1].imm = 16;
	visor_vm_unload(vm);
	CHECK(visor_vm_load(vm, value, 5) == -EINVAL, "offset past the value");
	visor_vm_destroy(vm);
	visor_map_destroy(m);

	/* XDP: a store into the context is refused at load. */
	struct visor_insn st_ctx[] = {INSN(0x62, 1, 0, 12, 1), INSN(0xb7, 0, 0, 0, 2),
				      INSN(0x95, 0, 0, 0, 0)};
	vm = visor_vm_create();
	visor_vm_set_prog_type(vm, VISOR_VM_PROG_XDP);
	CHECK(visor_vm_load(vm, st_ctx, 3) == -EINVAL && strstr(visor_vm_errmsg(vm), "xdp_md"),
	      "ctx write: %s", visor_vm_errmsg(vm));
	/* r6 = r1 (ctx copy), spill and fill, then read data_end - data. */
	struct visor_insn len[] = {
		INSN(0xbf, 6, 1, 0, 0), INSN(0x7b, 10, 6, -8, 0), INSN(0x79, 7, 10, -8, 0),
		INSN(0x61, 2, 7, 4, 0), INSN(0x61, 3, 6, 0, 0), INSN(0xbf, 0, 2, 0, 0),
		INSN(0x1f, 0, 3, 0, 0), INSN(0x95, 0, 0, 0, 0),
	};
	CHECK(visor_vm_load(vm, len, 8) == 0, "ctx copies: %s", visor_vm_errmsg(vm));
	vo = (struct visor_verify_opts){.sz = sizeof(vo)};
	CHECK(visor_verify_vm(vm, &vo) == 0, "ctx copies: verifier: %s", vo.errmsg);
	uint8_t pkt[60] = {0};
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));
	CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 60, "len: %u %s", o.retval,
	      visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
}

int main(void)
{
	struct pkt pk[MAX_PKTS];
	size_t np = make_packets(pk);
	char err[256];
	struct visor_obj *obj = visor_obj_open_file(OBJ_PATH, NULL, err, sizeof(err));
	CHECK(obj != NULL, "open: %s", err);
	if (!obj)
		return test_summary("test_runtime_xdp");

	test_refusals();
	struct result interp = {0}, jit = {0};
	run_visor(obj, VISOR_ENGINE_INTERP, pk, np, &interp);
	check_expected("interp", pk, np, &interp);
	if (visor_vm_jit_supported()) {
		run_visor(obj, VISOR_ENGINE_JIT, pk, np, &jit);
		check_expected("jit", pk, np, &jit);
	}
	run_objdiff(pk, np);
	visor_obj_close(obj);
	return test_summary("test_runtime_xdp");
}
