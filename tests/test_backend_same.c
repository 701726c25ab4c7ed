/* One load call over both backends (issue 6): the same objects loaded with
 * visor_obj_load(VISOR_BACKEND_VM) and (VISOR_BACKEND_KERNEL) get the same
 * frames through visor_loaded_test_run, then their maps are read through
 * the same visor_map_get_next_key / visor_map_lookup calls and must match;
 * a visor_map_update on each side is seen by the next run; global data
 * (.bss, .data, .rodata of globals.bpf.o) reads the same on both. The
 * kernel half needs root and bpf(); it skips with one line otherwise. */
#include <errno.h>
#include <linux/if_ether.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <visor/kernel.h>
#include <visor/maps.h>
#include <visor/runtime.h>

#include "packets.h"
#include "testutil.h"

#define EQUIV_OBJ VISOR_BINARY_DIR "/tests/progs/kernel_equiv_xdp.bpf.o"
#define GLOBALS_OBJ VISOR_BINARY_DIR "/tests/progs/globals.bpf.o"
#define MAX_KEYS 64

/* What one backend gave. */
struct outcome {
	uint32_t retvals[8];
	size_t nret;
	uint32_t keys[MAX_KEYS];
	uint64_t values[MAX_KEYS];
	size_t nkeys;
	uint64_t after_update; /* by_ethertype[IPv4] after the update and one run */
	uint8_t bss[64], data[64], rodata[64], bss_after[64];
	uint32_t bss_size, data_size, rodata_size;
};

static size_t build_frames(uint8_t frames[][256], size_t *lens)
{
	uint8_t a6[16], b6[16];
	pkt_addr6(a6, 1);
	pkt_addr6(b6, 2);
	size_t n = 0;
	lens[n++] = pkt_udp4(frames[0], 0xc0000201, 0xc6336401, 1000, 53, "visor-udp", 9);
	lens[n++] = pkt_tcp4(frames[1], 0xc0000201, 0xcb007101, 1000, 80, 0x02);
	lens[n++] = pkt_udp6(frames[2], a6, b6, 1000, 53, "v6", 2);
	memcpy(frames[3], frames[0], lens[0]);
	lens[n++] = lens[0];
	for (size_t i = 0; i < n; i++)
		if (lens[i] < 60) { /* the Ethernet minimum, as on a wire */
			memset(frames[i] + lens[i], 0, 60 - lens[i]);
			lens[i] = 60;
		}
	return n;
}

static int run(struct visor_loaded *l, const char *prog, const uint8_t *frame, size_t len,
	       uint32_t *retval)
{
	uint8_t out[256];
	char eb[256] = "";
	VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		   .data_out = out, .data_size_out = sizeof(out), .errbuf = eb,
		   .errbuf_len = sizeof(eb));
	int rc = visor_loaded_test_run(l, prog, &o);
	CHECK(rc == 0, "test run of %s: %d %s", prog, rc, eb);
	CHECK(o.data_size_out == len, "%s: data_size_out %u, want %zu", prog, o.data_size_out,
	      len);
	CHECK(memcmp(out, frame, len) == 0, "%s: the frame came back changed", prog);
	*retval = o.retval;
	return rc;
}

static void read_global(struct visor_loaded *l, const char *name, uint8_t *buf, uint32_t *size)
{
	struct visor_map *m = visor_loaded_map(l, name);
	CHECK(m, "no map %s", name);
	if (!m)
		return;
	*size = visor_map_value_size(m);
	CHECK(*size <= 64, "%s: value_size %u", name, *size);
	uint32_t zero = 0;
	memset(buf, 0, 64);
	CHECK(visor_map_lookup(m, &zero, buf) == 0, "lookup %s: %s", name, visor_map_errmsg(m));
}

static void exercise(unsigned backend, struct outcome *oc)
{
	uint8_t frames[4][256];
	size_t lens[4];
	size_t n = build_frames(frames, lens);
	struct visor_loaded *l = NULL;
	char err[256] = "";

	memset(oc, 0, sizeof(*oc));
	CHECK(visor_obj_load(EQUIV_OBJ, backend, &l, err, sizeof(err)) == 0, "load %s: %s",
	      EQUIV_OBJ, err);
	if (!l)
		return;
	CHECK(visor_loaded_backend(l) == backend, "backend %u", visor_loaded_backend(l));
	for (size_t i = 0; i < n; i++)
		run(l, "xdp_equiv", frames[i], lens[i], &oc->retvals[oc->nret++]);

	/* Walk the hash with get_next_key, as any visor map. */
	struct visor_map *h = visor_loaded_map(l, "by_ethertype");
	CHECK(h && visor_map_key_size(h) == 4 && visor_map_value_size(h) == 8,
	      "by_ethertype missing or wrong sizes");
	uint32_t key, *prev = NULL;
	while (h && oc->nkeys < MAX_KEYS && visor_map_get_next_key(h, prev, &key) == 0) {
		oc->keys[oc->nkeys] = key;
		CHECK(visor_map_lookup(h, &key, &oc->values[oc->nkeys]) == 0, "lookup: %s",
		      visor_map_errmsg(h));
		prev = &oc->keys[oc->nkeys++];
	}
	/* Sorted by key: hash order is each backend's own. */
	for (size_t i = 1; i < oc->nkeys; i++)
		for (size_t j = i; j > 0 && oc->keys[j - 1] > oc->keys[j]; j--) {
			uint32_t k = oc->keys[j];
			uint64_t v = oc->values[j];
			oc->keys[j] = oc->keys[j - 1], oc->values[j] = oc->values[j - 1];
			oc->keys[j - 1] = k, oc->values[j - 1] = v;
		}

	/* An update from user space is what the next run sees. */
	uint32_t ip = ETH_P_IP, r;
	uint64_t v = 1000;
	uint32_t missing = 0x1234;
	CHECK(visor_map_lookup(h, &missing, &v) == -ENOENT, "missing key: want -ENOENT");
	v = 1000;
	CHECK(visor_map_update(h, &ip, &v, 0) == 0, "update: %s", visor_map_errmsg(h));
	CHECK(visor_map_update(h, &ip, &v, VISOR_NOEXIST) == -EEXIST, "NOEXIST: want -EEXIST");
	run(l, "xdp_equiv", frames[0], lens[0], &r);
	CHECK(visor_map_lookup(h, &ip, &oc->after_update) == 0, "lookup after update");
	CHECK_EQ_U64(oc->after_update, 1001, "by_ethertype[IPv4] after update + one run");
	CHECK(visor_loaded_map(l, "no_such_map") == NULL, "no_such_map found");
	visor_loaded_close(l);

	/* Global data. */
	l = NULL;
	CHECK(visor_obj_load(GLOBALS_OBJ, backend, &l, err, sizeof(err)) == 0, "load %s: %s",
	      GLOBALS_OBJ, err);
	if (!l)
		return;
	for (size_t i = 0; i < n; i++)
		run(l, "xdp_globals", frames[i], lens[i], &r);
	read_global(l, ".bss", oc->bss, &oc->bss_size);
	read_global(l, ".data", oc->data, &oc->data_size);
	read_global(l, ".rodata", oc->rodata, &oc->rodata_size);
	CHECK(visor_loaded_map(l, "globals.bss") == visor_loaded_map(l, ".bss"),
	      "globals.bss and .bss are not the same map");
	/* Zero .bss from user space; one more run starts from there. */
	struct visor_map *bss = visor_loaded_map(l, ".bss");
	uint8_t zeros[64] = {0};
	uint32_t zero = 0;
	CHECK(bss && visor_map_update(bss, &zero, zeros, 0) == 0, "update .bss");
	run(l, "xdp_globals", frames[1], lens[1], &r);
	uint32_t sz;
	read_global(l, ".bss", oc->bss_after, &sz);
	uint64_t packets = 0;
	for (uint32_t off = 0; off + 8 <= sz; off += 8) { /* packets is the only u64 == 1 */
		uint64_t x;
		memcpy(&x, oc->bss_after + off, 8);
		packets += x == 1;
	}
	CHECK(packets >= 1, ".bss after zeroing and one run holds no counter at 1");
	visor_loaded_close(l);
}

static void compare(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->nret == b->nret && !memcmp(a->retvals, b->retvals, sizeof(a->retvals)),
	      "return codes differ");
	CHECK(a->nkeys == b->nkeys, "by_ethertype: %zu keys on the VM, %zu in the kernel",
	      a->nkeys, b->nkeys);
	for (size_t i = 0; i < a->nkeys && i < b->nkeys; i++)
		CHECK(a->keys[i] == b->keys[i] && a->values[i] == b->values[i],
		      "by_ethertype entry %zu: VM 0x%x=%llu, kernel 0x%x=%llu", i, a->keys[i],
		      (unsigned long long)a->values[i], b->keys[i],
		      (unsigned long long)b->values[i]);
	CHECK(a->after_update == b->after_update, "after update");
	CHECK(a->bss_size == b->bss_size && !memcmp(a->bss, b->bss, sizeof(a->bss)),
	      ".bss differs");
	CHECK(a->data_size == b->data_size && !memcmp(a->data, b->data, sizeof(a->data)),
	      ".data differs");
	CHECK(a->rodata_size == b->rodata_size && !memcmp(a->rodata, b->rodata, sizeof(a->rodata)),
	      ".rodata differs");
	CHECK(!memcmp(a->bss_after, b->bss_after, sizeof(a->bss_after)),
	      ".bss after the update differs");
}

int main(void)
{
	static struct outcome vm, kern;
	struct visor_loaded *l = NULL;
	char err[256];

	CHECK(visor_obj_load(EQUIV_OBJ, VISOR_BACKEND_VM | VISOR_BACKEND_KERNEL, &l, err,
			     sizeof(err)) == -EINVAL && !l, "two backends: want -EINVAL");
	CHECK(visor_obj_load(EQUIV_OBJ, 0, &l, err, sizeof(err)) == -EINVAL, "no backend");

	exercise(VISOR_BACKEND_VM, &vm);
	CHECK(vm.nkeys == 2 && vm.keys[0] == ETH_P_IP && vm.values[0] == 3 &&
	      vm.keys[1] == ETH_P_IPV6 && vm.values[1] == 1,
	      "VM by_ethertype: %zu keys", vm.nkeys);
	CHECK(vm.retvals[0] == 1 /* XDP_DROP: UDP */ && vm.retvals[1] == 2 /* XDP_PASS */,
	      "VM return codes %u %u", vm.retvals[0], vm.retvals[1]);
	if (geteuid() != 0) {
		test_summary("test_backend_same (VM half)");
		return test_skip("test_backend_same", "kernel half needs root");
	}
	exercise(VISOR_BACKEND_KERNEL, &kern);
	compare(&vm, &kern);
	return test_summary("test_backend_same");
}
