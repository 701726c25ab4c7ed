/* struct __sk_buff programs on the visor VM: the compiled tc classifiers
 * (tests/progs/tc.bpf.c) and socket filter (socket.bpf.c) run through the
 * object loader in the interpreter and the JIT, then the same objects in
 * the kernel with BPF_PROG_TEST_RUN on the same frames (root; one SKIP line
 * otherwise): return codes, output frames, ctx_out (mark, cb) and maps must
 * match. Plus the load-time context rules of each type and LD_ABS. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "kernel_run.h"
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

static uint32_t frame(uint8_t *p, const uint8_t dst0, uint16_t proto, uint8_t l4, uint8_t tos,
		      uint16_t dport)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 2};
	memset(p, 0, MAX_PKT);
	memset(p, dst0 == 0xff ? 0xff : 0, 6);
	p[0] = dst0;
	if (dst0 == 0x02)
		p[5] = 1;
	memcpy(p + 6, src, 6);
	p[12] = proto >> 8, p[13] = proto & 0xff;
	if (proto != 0x0800)
		return 60;
	uint8_t ip[20] = {0x45, tos, 0, 40, 0, 1, 0x40, 0, 64, l4, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7};
	memcpy(p + 14, ip, 20);
	p[34] = 0x30, p[35] = 0x39, p[36] = dport >> 8, p[37] = dport & 0xff;
	p[46] = 0x50;
	return 54;
}

static void make(struct pkt *v)
{
	int n = 0;
	v[n].name = "tcp/23", v[n].len = frame(v[n].data, 0x02, 0x0800, 6, 0x10, 23), n++;
	v[n].name = "tcp/80", v[n].len = frame(v[n].data, 0x02, 0x0800, 6, 0, 80), n++;
	v[n].name = "udp/53", v[n].len = frame(v[n].data, 0x02, 0x0800, 17, 0x2e, 53), n++;
	v[n].name = "ipv6", v[n].len = frame(v[n].data, 0x02, 0x86dd, 0, 0, 0), n++;
	v[n].name = "arp broadcast", v[n].len = frame(v[n].data, 0xff, 0x0806, 0, 0, 0), n++;
	v[n].name = "multicast tcp", v[n].len = frame(v[n].data, 0x01, 0x0800, 6, 0, 23), n++;
	v[n].name = "to host (zero mac)", v[n].len = frame(v[n].data, 0x00, 0x0800, 1, 0, 0), n++;
	v[n].name = "802.3 length", v[n].len = frame(v[n].data, 0x02, 0x0040, 0, 0, 0), n++;
	v[n].name = "bare ethernet (arp)", v[n].len = 14, frame(v[n].data, 0x02, 0x0806, 0, 0, 0), n++;
}

struct res {
	uint32_t ret[NPKT], out_len[NPKT], mark[NPKT], cb0[NPKT];
	uint8_t out[NPKT][MAX_PKT];
	uint64_t map[8];
};

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
	if (!rc && nmaps) {
		uint32_t vs = visor_map_value_size(maps[0]);
		for (uint32_t k = 0; k < 8; k++) {
			uint64_t v[2] = {0};
			if (vs <= sizeof(v) && visor_map_lookup(maps[0], &k, v) == 0)
				r->map[k] = v[0] + v[1];
		}
	}
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

static void run_kernel(const char *path, const char *prog_name, const char *map_name,
		       const struct pkt *pk, struct res *r)
{
	struct bpf_object *bo = bpf_object__open_file(path, NULL);
	CHECK(bo != NULL, "libbpf open: %s", strerror(errno));
	if (!bo)
		return;
	int err = bpf_object__load(bo);
	CHECK(err == 0, "libbpf load: %d", err);
	struct bpf_program *p = bpf_object__find_program_by_name(bo, prog_name);
	struct bpf_map *m = bpf_object__find_map_by_name(bo, map_name);
	if (!err && p && m) {
		int fd = bpf_program__fd(p);
		for (int i = 0; i < NPKT; i++) {
			struct visor_sk_buff in = {.cb = {7 + (uint32_t)i}}, out = {0};
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk[i].data,
				    .data_size_in = pk[i].len, .data_out = r->out[i],
				    .data_size_out = MAX_PKT, .ctx_in = &in, .ctx_size_in = sizeof(in),
				    .ctx_out = &out, .ctx_size_out = sizeof(out));
			CHECK(bpf_prog_test_run_opts(fd, &o) == 0, "kernel %s %s: %s", prog_name,
			      pk[i].name, strerror(errno));
			r->ret[i] = o.retval;
			r->out_len[i] = o.data_size_out;
			r->mark[i] = out.mark;
			r->cb0[i] = out.cb[0];
		}
		uint32_t vs = bpf_map__value_size(m);
		for (uint32_t k = 0; k < 8; k++) {
			uint64_t v[2] = {0};
			if (vs <= sizeof(v) && bpf_map_lookup_elem(bpf_map__fd(m), &k, v) == 0)
				r->map[k] = v[0] + v[1];
		}
	}
	bpf_object__close(bo);
}

static void compare(const char *path, const char *prog, const char *map, const struct pkt *pk,
		    struct res *want)
{
	struct res interp = {0}, jit = {0}, kern = {0};
	run_visor(path, prog, VISOR_ENGINE_INTERP, pk, &interp);
	if (want)
		same(prog, pk, &interp, want, true);
	if (visor_vm_jit_supported()) {
		run_visor(path, prog, VISOR_ENGINE_JIT, pk, &jit);
		same("jit vs interp", pk, &jit, &interp, true);
	}
	char why[256];
	if (!kernel_available(why, sizeof(why))) {
		printf("SKIP kernel comparison of %s: %s\n", prog, why);
		return;
	}
	run_kernel(path, prog, map, pk, &kern);
	same("kernel vs visor", pk, &kern, &interp, true);
}

#define INSN(c, d, s, o, i) ((struct visor_insn){.code = (c), .dst = (d), .src = (s), .off = (o), .imm = (i)})

/* Loads a context program as the type: 0 or the load error. */
static int load(uint32_t type, const struct visor_insn *p, size_t n, struct visor_vm **keep)
{
	struct visor_vm *vm = visor_vm_create();
	visor_vm_register_linux_helpers(vm);
	visor_vm_set_prog_type(vm, type);
	int rc = visor_vm_load(vm, p, n);
	if (rc && !keep)
		printf("  (refused: %s)\n", visor_vm_errmsg(vm));
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
