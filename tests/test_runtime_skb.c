/* struct __sk_buff programs on the visor VM: the compiled tc classifiers
 * (tests/progs/tc.bpf.c) and socket filter (socket.bpf.c) run through the
 * object loader in the interpreter and the JIT, then the same objects in
 * the kernel with BPF_PROG_TEST_RUN on the same frames (tests/lib/objdiff.c;
 * root, one SKIP line otherwise): return codes, output frames, ctx_out
 * (mark, cb) and maps must match. Plus the load-time context rules of each
 * type and LD_ABS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define TC_OBJ VISOR_BINARY_DIR "/tests/progs/tc.bpf.o"
#define SOCK_OBJ VISOR_BINARY_DIR "/tests/progs/socket.bpf.o"
#define MAX_PKT 128
#define NPKT 9

struct pkt {
	const char *name;
	uint8_t data[MAX_PKT];
	uint32_t len;
};

/* Ethernet from 02:00:00:00:00:02 to dst. IPv4 (192.0.2.1 -> 198.51.100.7,
 * the tos given) carries a 20-byte TCP-shaped header whatever the protocol:
 * ports 12345 -> dport, data offset 5, the rest 0. Other EtherTypes:
 * zero-padded to 60 bytes. */
static uint32_t frame(uint8_t *p, const uint8_t dst[6], uint16_t proto, uint8_t l4, uint8_t tos,
		      uint16_t dport)
{
	const uint8_t hdr[20] = {0x30, 0x39, (uint8_t)(dport >> 8), (uint8_t)dport, [12] = 0x50};
	memset(p, 0, MAX_PKT);
	size_t n = pkt_eth_to(p, dst, proto);
	if (proto != 0x0800)
		return 60;
	n += pkt_ipv4(p + n, 0xc0000201 /* 192.0.2.1 */, 0xc6336407 /* 198.51.100.7 */, l4, hdr,
		      sizeof(hdr));
	p[14 + 1] = tos;
	pkt_ipv4_fix_checksum(p + 14);
	return (uint32_t)n;
}

static void make(struct pkt *v)
{
	static const uint8_t to[6] = {0x02, 0, 0, 0, 0, 1}, host[6] = {0},
			     bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mcast[6] = {0x01};
	int n = 0;
	v[n].name = "tcp/23", v[n].len = frame(v[n].data, to, 0x0800, 6, 0x10, 23), n++;
	v[n].name = "tcp/80", v[n].len = frame(v[n].data, to, 0x0800, 6, 0, 80), n++;
	v[n].name = "udp/53", v[n].len = frame(v[n].data, to, 0x0800, 17, 0x2e, 53), n++;
	v[n].name = "ipv6", v[n].len = frame(v[n].data, to, 0x86dd, 0, 0, 0), n++;
	v[n].name = "arp broadcast", v[n].len = frame(v[n].data, bcast, 0x0806, 0, 0, 0), n++;
	v[n].name = "multicast tcp", v[n].len = frame(v[n].data, mcast, 0x0800, 6, 0, 23), n++;
	v[n].name = "to host (zero mac)", v[n].len = frame(v[n].data, host, 0x0800, 1, 0, 0), n++;
	v[n].name = "802.3 length", v[n].len = frame(v[n].data, to, 0x0040, 0, 0, 0), n++;
	v[n].name = "bare ethernet (arp)", v[n].len = 14, frame(v[n].data, to, 0x0806, 0, 0, 0), n++;
}

struct res {
	uint32_t ret[NPKT], out_len[NPKT], mark[NPKT], cb0[NPKT];
	uint8_t out[NPKT][MAX_PKT];
	uint64_t map[8];
};

/* The first 8 u64 values of key 0..7 for arrays, key 0 for .bss. */
static void read_map(struct visor_map *m, struct res *r)
{
	uint32_t vs = visor_map_value_size(m);
	for (uint32_t k = 0; k < 8; k++) {
		uint64_t v[2] = {0};
		if (vs <= sizeof(v) && visor_map_lookup(m, &k, v) == 0)
			r->map[k] = v[0] + v[1];
	}
}

/* Runs prog of obj on every frame with ctx_in cb[0] = 7 + i, then reads
 * map 0 (first 8 u64 values of key 0..7 for arrays, key 0 for .bss). */
static void run_visor(const char *path, const char *prog_name, int engine, const struct pkt *pk,
		      struct res *r)
{
	char err[512] = "";
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(obj, "open %s: %s", path, err);
	if (!obj)
		return;
	struct visor_obj_prog *prog = visor_obj_find_prog(obj, prog_name);
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	struct visor_vm *vm = visor_vm_create();
	int rc = visor_obj_maps_create(obj, &maps, &nmaps, err, sizeof(err));
	if (!rc)
		rc = visor_obj_prog_load_vm(vm, prog, maps, nmaps, err, sizeof(err));
	CHECK(rc == 0, "%s: load: %s", prog_name, err);
	if (!rc && engine == VISOR_ENGINE_JIT)
		CHECK((rc = visor_vm_jit_compile(vm, 0)) == 0, "jit: %s", visor_vm_errmsg(vm));
	for (int i = 0; i < NPKT && !rc; i++) {
		struct visor_sk_buff in = {.cb = {7 + (uint32_t)i}}, out;
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pk[i].data,
			   .data_size_in = pk[i].len, .data_out = r->out[i],
			   .data_size_out = MAX_PKT, .ctx_in = &in, .ctx_size_in = sizeof(in),
			   .ctx_out = &out, .ctx_size_out = sizeof(out), .engine = engine,
			   .errbuf = err, .errbuf_len = sizeof(err));
		CHECK(visor_prog_test_run(vm, &o) == 0, "%s %s: %s", prog_name, pk[i].name, err);
		CHECK(o.ctx_size_out == sizeof(out), "ctx_size_out %u", o.ctx_size_out);
		r->ret[i] = o.retval;
		r->out_len[i] = o.data_size_out;
		r->mark[i] = out.mark;
		r->cb0[i] = out.cb[0];
	}
	if (!rc && nmaps)
		read_map(maps[0], r);
	visor_vm_destroy(vm);
	visor_obj_maps_destroy(maps, nmaps);
	visor_obj_close(obj);
}

static void same(const char *what, const struct pkt *pk, const struct res *a, const struct res *b,
		 bool maps)
{
	for (int i = 0; i < NPKT; i++) {
		CHECK(a->ret[i] == b->ret[i], "%s %s: retval %u vs %u", what, pk[i].name, a->ret[i],
		      b->ret[i]);
		CHECK(a->out_len[i] == b->out_len[i] &&
			      !memcmp(a->out[i], b->out[i], a->out_len[i] < MAX_PKT ? a->out_len[i] : MAX_PKT),
		      "%s %s: data out differs (%u vs %u bytes)", what, pk[i].name, a->out_len[i],
		      b->out_len[i]);
		CHECK(a->mark[i] == b->mark[i], "%s %s: mark 0x%x vs 0x%x", what, pk[i].name,
		      a->mark[i], b->mark[i]);
		CHECK(a->cb0[i] == b->cb0[i], "%s %s: cb[0] %u vs %u", what, pk[i].name, a->cb0[i],
		      b->cb0[i]);
	}
	for (int k = 0; maps && k < 8; k++)
		CHECK(a->map[k] == b->map[k], "%s: map key %d: %llu vs %llu", what, k,
		      (unsigned long long)a->map[k], (unsigned long long)b->map[k]);
}

struct named_map {
	const char *name;
	struct res *r;
};

static void objdiff_read_map(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct named_map *nm = arg;
	struct visor_map *m = objdiff_map(obj, maps, nm->name);
	CHECK(m != NULL, "objdiff: no map %s", nm->name);
	if (m)
		read_map(m, nm->r);
}

/* The kernel comparison: prog on the same frames and ctx_in on the
 * interpreter, the JIT and the kernel (objdiff: return codes, output frames,
 * all of ctx_out and every map must agree; one SKIP line without the
 * kernel). objdiff's interpreter results, read as run_visor reads them, must
 * equal run_visor's, so the kernel agrees with them too. */
static void run_objdiff(const char *path, const char *prog, const char *map, const struct pkt *pk,
			const struct res *visor)
{
	struct visor_sk_buff in[NPKT];
	struct objdiff_case c[NPKT];
	static struct objdiff_result o[NPKT];
	for (int i = 0; i < NPKT; i++) {
		in[i] = (struct visor_sk_buff){.cb = {7 + (uint32_t)i}};
		c[i] = (struct objdiff_case){.name = pk[i].name, .data = pk[i].data,
					     .data_len = pk[i].len, .ctx = &in[i],
					     .ctx_len = sizeof(in[i])};
	}
	struct res r = {0};
	struct named_map nm = {map, &r};
	struct objdiff d = {.path = path, .prog = prog, .check_maps = objdiff_read_map,
			    .check_arg = &nm};
	int engines = objdiff_check(&d, c, NPKT, o);
	CHECK(engines >= 2, "%s: objdiff compared %d engines", prog, engines);
	if (engines <= 0)
		return;
	for (int i = 0; i < NPKT; i++) {
		struct visor_sk_buff out = {0};
		CHECK(o[i].err == 0, "objdiff %s %s: err %d", prog, pk[i].name, o[i].err);
		CHECK(o[i].ctx_len == sizeof(out), "objdiff ctx_size_out %u", o[i].ctx_len);
		memcpy(&out, o[i].ctx, sizeof(out));
		r.ret[i] = o[i].retval;
		r.out_len[i] = o[i].data_len;
		memcpy(r.out[i], o[i].data, o[i].data_len < MAX_PKT ? o[i].data_len : MAX_PKT);
		r.mark[i] = out.mark;
		r.cb0[i] = out.cb[0];
	}
	same("objdiff vs visor", pk, &r, visor, true);
}

static void compare(const char *path, const char *prog, const char *map, const struct pkt *pk,
		    struct res *want)
{
	struct res interp = {0}, jit = {0};
	run_visor(path, prog, VISOR_ENGINE_INTERP, pk, &interp);
	if (want)
		same(prog, pk, &interp, want, true);
	if (visor_vm_jit_supported()) {
		run_visor(path, prog, VISOR_ENGINE_JIT, pk, &jit);
		same("jit vs interp", pk, &jit, &interp, true);
	}
	run_objdiff(path, prog, map, pk, &interp);
}

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

/* Loads a context program as the type: 0 or the load error. One kept to
 * run must pass the verifier too (the others only test the load's context
 * rules: some return a packet pointer, which the verifier refuses). */
static int load(uint32_t type, const struct visor_insn *p, size_t n, struct visor_vm **keep)
{
	struct visor_vm *vm = visor_vm_create();
	visor_vm_register_linux_helpers(vm);
	visor_vm_set_prog_type(vm, type);
	int rc = visor_vm_load(vm, p, n);
	if (rc && !keep)
		printf("  (refused: %s)\n", visor_vm_errmsg(vm));
	if (!rc && keep) {
		VISOR_OPTS(visor_verify_opts, vo);
		CHECK(visor_verify_vm(vm, &vo) == 0, "type %u: verifier: %s", type, vo.errmsg);
	}
	if (keep)
		*keep = vm;
	else
		visor_vm_destroy(vm);
	return rc;
}

static void test_rules(const struct pkt *pk)
{
	const uint32_t SF = VISOR_VM_PROG_SOCKET_FILTER, TC = VISOR_VM_PROG_SCHED_CLS;
	/* r0 = *(u32 *)(r1 + off); exit */
	struct visor_insn ld[] = {INSN(0x61, 0, 1, 76, 0), INSN(0x95, 0, 0, 0, 0)};
	CHECK(load(SF, ld, 2, NULL) == -EINVAL, "sf reads data");
	CHECK(load(TC, ld, 2, NULL) == 0, "tc reads data");
	ld[0].off = 72; /* tc_classid */
	CHECK(load(SF, ld, 2, NULL) == -EINVAL, "sf reads tc_classid");
	ld[0].off = 92; /* remote_ip4 */
	CHECK(load(TC, ld, 2, NULL) == -EINVAL, "tc reads remote_ip4");
	ld[0].off = 168; /* sk, 4 bytes */
	CHECK(load(TC, ld, 2, NULL) == -EINVAL, "tc reads half of sk");
	ld[0] = INSN(0x71, 0, 1, 17, 0); /* byte 1 of protocol */
	CHECK(load(SF, ld, 2, NULL) == 0, "narrow load");
	ld[0] = INSN(0x79, 0, 1, 8, 0); /* 8 bytes at mark */
	CHECK(load(TC, ld, 2, NULL) == -EINVAL, "wide load");
	/* *(u32 *)(r1 + off) = 5; r0 = 0; exit */
	struct visor_insn st[] = {INSN(0x62, 1, 0, 8, 5), INSN(0xb7, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0)};
	CHECK(load(SF, st, 3, NULL) == -EINVAL, "sf writes mark");
	CHECK(load(TC, st, 3, NULL) == 0, "tc writes mark");
	st[0].off = 0; /* len */
	CHECK(load(TC, st, 3, NULL) == -EINVAL, "tc writes len");
	st[0] = INSN(0x72, 1, 0, 50, 5); /* a byte of cb[0] */
	CHECK(load(SF, st, 3, NULL) == 0, "sf writes cb");
	st[0] = INSN(0xdb, 1, 2, 48, 1); /* atomic add to cb[0] */
	CHECK(load(TC, st, 3, NULL) == -EINVAL, "atomic on ctx");

	/* LD_ABS: a socket filter reads from the network header, tc from the
	 * Ethernet header. r6 = r1; r0 = ldb [9 or 23]; exit */
	struct visor_insn abs[] = {INSN(0xbf, 6, 1, 0, 0), INSN(0x30, 0, 0, 0, 9), INSN(0x95, 0, 0, 0, 0)};
	struct visor_vm *vm;
	uint32_t types[2] = {SF, TC};
	for (int t = 0; t < 2; t++) {
		abs[1].imm = t ? 23 : 9;
		CHECK(load(types[t], abs, 3, &vm) == 0, "ld_abs load: %s", visor_vm_errmsg(vm));
		for (int e = 0; e < 2; e++) {
			if (e && (!visor_vm_jit_supported() || visor_vm_jit_compile(vm, 0)))
				break;
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pk[0].data,
				   .data_size_in = pk[0].len,
				   .engine = e ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP);
			CHECK(visor_prog_test_run(vm, &o) == 0 && o.retval == 6,
			      "ld_abs type %u engine %d: %u %s", types[t], e, o.retval,
			      visor_vm_errmsg(vm));
		}
		visor_vm_destroy(vm);
	}
	/* ctx_in fields the kernel refuses, a short ctx_out, a bare
	 * Ethernet header (the kernel wants more). */
	ld[0] = INSN(0x61, 0, 1, 0, 0);
	CHECK(load(TC, ld, 2, &vm) == 0, "load");
	struct visor_sk_buff in = {.len = 1}, out;
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = pk[0].data, .data_size_in = pk[0].len,
		   .ctx_in = &in, .ctx_size_in = sizeof(in));
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL, "ctx_in len");
	in.len = 0;
	o.ctx_out = &out, o.ctx_size_out = 8;
	CHECK(visor_prog_test_run(vm, &o) == -ENOSPC && o.ctx_size_out == sizeof(out), "short ctx_out");
	o.ctx_out = NULL, o.data_size_in = 33; /* IPv4 without all of its header */
	CHECK(visor_prog_test_run(vm, &o) == -EINVAL, "short IPv4 frame");
	visor_vm_destroy(vm);
}

int main(void)
{
	struct pkt pk[NPKT];
	make(pk);
	test_rules(pk);
	/* tc_mark: mark = protocol << 8 | tos for IPv4; TCP to port 23 shot. */
	struct res want = {0};
	for (int i = 0; i < NPKT; i++) {
		bool v4 = pk[i].len >= 34 && pk[i].data[12] == 8 && pk[i].data[13] == 0;
		want.mark[i] = v4 ? (uint32_t)pk[i].data[23] << 8 | pk[i].data[15] : 0;
		want.ret[i] = v4 && pk[i].data[23] == 6 && pk[i].data[37] == 23 ? 2 : 0;
		want.out_len[i] = pk[i].len;
		memcpy(want.out[i], pk[i].data, pk[i].len);
		want.cb0[i] = 7 + (uint32_t)i;
	}
	compare(TC_OBJ, "tc_mark", "pkt_types", pk, &want);
	compare(TC_OBJ, "tc_ingress_count", "pkt_types", pk, NULL);
	compare(SOCK_OBJ, "socket_tcp_only", ".bss", pk, NULL);
	return test_summary("test_runtime_skb");
}
