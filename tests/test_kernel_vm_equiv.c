/* The same object on both backends gives the same maps (issue 6): the XDP
 * program of tests/progs/kernel_equiv_xdp.bpf.c (frames per EtherType in a
 * hash, IPv4 frames per protocol in an array, a log2 histogram of frame
 * lengths) is attached in the kernel to a veth end inside a test namespace
 * and gets a fixed list of frames (tests/lib/packets.h: UDP, TCP, ICMP over
 * IPv4, UDP over IPv6, ARP, 802.1Q, a local experimental EtherType; sizes
 * from 60 to 1400 bytes; frame i sent i+1 times) from the peer end; the
 * same object loaded on visor's engine (visor_obj_vm_load) runs on the same
 * frames as many times (visor_prog_test_run). Every map is then compared
 * key by key, both ways. The program counts only frames from the test
 * frames' source MAC, so what the kernel sends on its own on the veth does
 * not count. Needs root, iproute2 and bpf(); skips with one line otherwise.
 * Both namespaces are removed on every path. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>
#include <visor/maps.h>
#include <visor/object.h>
#include <visor/runtime.h>

#include "netns.h"
#include "packets.h"
#include "testutil.h"

#define MAX_FRAMES 16
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static const char *const map_names[] = {"by_ethertype", "by_ipproto", "len_hist"};

struct frame {
	uint8_t data[1514];
	size_t len;
	unsigned times;
};
static struct frame frames[MAX_FRAMES];
static size_t nframes;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static struct frame *next_frame(void)
{
	struct frame *f = &frames[nframes];
	f->times = (unsigned)nframes + 1;
	nframes++;
	return f;
}

/* Pads to the Ethernet minimum (60 bytes without FCS), as a NIC would. */
static void pad(struct frame *f)
{
	if (f->len < 60) {
		memset(f->data + f->len, 0, 60 - f->len);
		f->len = 60;
	}
}

static void build_frames(void)
{
	static uint8_t payload[1400];
	static const uint8_t sha[6] = {2, 0, 0, 0, 0, 2}, tha[6] = {0};
	uint8_t a6[16], b6[16], icmp[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};
	pkt_addr6(a6, 2);
	pkt_addr6(b6, 1);
	struct frame *f;
	static const size_t udp_sizes[] = {10, 100, 500, 1400};
	for (size_t i = 0; i < sizeof(udp_sizes) / sizeof(udp_sizes[0]); i++) {
		f = next_frame();
		f->len = pkt_udp4(f->data, IP4(192, 0, 2, 2), IP4(192, 0, 2, 1), 40000, 9,
				  payload, udp_sizes[i]);
		pad(f);
	}
	f = next_frame();
	f->len = pkt_tcp4(f->data, IP4(198, 51, 100, 7), IP4(192, 0, 2, 1), 40001, 80, 0x02);
	pad(f);
	f = next_frame();
	size_t n = pkt_eth_hdr(f->data, ETH_P_IP);
	f->len = n + pkt_ipv4(f->data + n, IP4(203, 0, 113, 9), IP4(192, 0, 2, 1), 1, icmp,
			      sizeof(icmp));
	pad(f);
	f = next_frame();
	f->len = pkt_udp6(f->data, a6, b6, 40002, 9, payload, 200);
	f = next_frame();
	n = pkt_eth_hdr(f->data, ETH_P_ARP);
	f->len = n + pkt_arp(f->data + n, 1, sha, IP4(192, 0, 2, 2), tha, IP4(192, 0, 2, 1));
	pad(f);
	f = next_frame();
	n = pkt_eth_hdr(f->data, ETH_P_8021Q);
	n += pkt_vlan(f->data + n, 7, ETH_P_IP);
	f->len = n + pkt_ipv4(f->data + n, IP4(192, 0, 2, 2), IP4(192, 0, 2, 1), 17, payload, 64);
	f = next_frame();
	n = pkt_eth_hdr(f->data, 0x88b5); /* IEEE 802 local experimental */
	memcpy(f->data + n, "visor-equiv", 11);
	f->len = n + 300;
}

static uint64_t total_counted(struct visor_kernel_obj *obj)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "by_ethertype");
	uint32_t key, prev;
	uint64_t v, sum = 0;
	int rc;
	for (rc = visor_kernel_map_get_next_key(m, NULL, &key); rc == 0;
	     rc = visor_kernel_map_get_next_key(m, &prev, &key)) {
		prev = key;
		if (visor_kernel_map_lookup(m, &key, &v) == 0)
			sum += v;
	}
	return sum;
}

/* Runs in the program's namespace: load, attach to dev, send every frame
 * its number of times from the peer, wait until all are counted. Returns
 * the object (attached) or NULL. */
static struct visor_kernel_obj *run_kernel(const struct netns_pair *pair, const char *path)
{
	char err[512] = "", note[256] = "";
	struct visor_kernel_obj *obj = NULL;
	int rc = visor_kernel_obj_load(path, NULL, &obj, err, sizeof(err));
	CHECK(rc == 0, "kernel load: %s", err);
	if (rc)
		return NULL;
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_XDP, .target = pair->dev};
	rc = visor_kernel_attach(obj, "xdp_equiv", &o, NULL, note, sizeof(note), err, sizeof(err));
	CHECK(rc == 0, "attach xdp to %s: %s", pair->dev, err);
	int tx = rc ? -1 : netns_packet_socket(pair->peer_ns, pair->peer, 0);
	CHECK(rc || tx >= 0, "tx socket: %s", strerror(-tx));
	if (rc || tx < 0) {
		visor_kernel_obj_close(obj);
		return NULL;
	}
	uint64_t want = 0;
	for (size_t i = 0; i < nframes; i++) {
		int sent = netns_send_frames(tx, frames[i].data, frames[i].len, frames[i].times, 2000);
		CHECK(sent == (int)frames[i].times, "frame %zu: sent %d of %u", i, sent,
		      frames[i].times);
		want += frames[i].times;
		usleep(1000); /* paced: the veth queue never overflows */
	}
	close(tx);
	long long end = now_ms() + 3000;
	while (total_counted(obj) < want && now_ms() < end)
		usleep(10000);
	CHECK_EQ_U64(total_counted(obj), want, "frames counted by the kernel's program");
	return obj;
}

/* Runs the same frames on visor's engine. */
static struct visor_obj_vm *run_vm(const char *path, struct visor_obj **objp)
{
	char err[512] = "";
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	CHECK(obj != NULL, "open %s: %s", path, err);
	if (!obj)
		return NULL;
	*objp = obj;
	struct visor_obj_vm *ovm = visor_obj_vm_load(obj, NULL, err, sizeof(err));
	CHECK(ovm != NULL, "vm load: %s", err);
	struct visor_vm *vm = ovm ? visor_obj_vm_prog(ovm, "xdp_equiv") : NULL;
	CHECK(!ovm || vm != NULL, "xdp_equiv not loaded on the engine");
	if (!vm)
		return ovm;
	for (size_t i = 0; i < nframes; i++)
		for (unsigned t = 0; t < frames[i].times; t++) {
			VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = frames[i].data,
				   .data_size_in = (uint32_t)frames[i].len, .repeat = 1,
				   .errbuf = err, .errbuf_len = sizeof(err));
			int rc = visor_prog_test_run(vm, &o);
			CHECK(rc == 0, "frame %zu on the engine: %s", i, err);
		}
	return ovm;
}

/* Every kernel element is in the VM map with the same value, and the VM
 * map has no more elements. Returns the element count. */
static size_t compare_map(struct visor_kernel_obj *kobj, struct visor_obj_vm *ovm,
			  const char *name)
{
	struct visor_kernel_map *km = visor_kernel_obj_map(kobj, name);
	struct visor_map *vm = visor_obj_vm_map(ovm, name);
	CHECK(km && vm, "map %s missing (kernel %p, vm %p)", name, (void *)km, (void *)vm);
	if (!km || !vm)
		return 0;
	uint32_t key, prev;
	uint64_t kv, vv;
	size_t kn = 0, vn = 0;
	int rc;
	for (rc = visor_kernel_map_get_next_key(km, NULL, &key); rc == 0;
	     rc = visor_kernel_map_get_next_key(km, &prev, &key)) {
		prev = key;
		CHECK(visor_kernel_map_lookup(km, &key, &kv) == 0, "%s: kernel lookup %u", name, key);
		int lr = visor_map_lookup(vm, &key, &vv);
		CHECK(lr == 0, "%s: key %u in the kernel (value %llu), not on the engine", name, key,
		      (unsigned long long)kv);
		if (lr == 0)
			CHECK(kv == vv, "%s[%u]: kernel %llu, engine %llu", name, key,
			      (unsigned long long)kv, (unsigned long long)vv);
		kn++;
	}
	CHECK(rc == -ENOENT, "%s: kernel get_next_key: %d", name, rc);
	for (rc = visor_map_get_next_key(vm, NULL, &key); rc == 0;
	     rc = visor_map_get_next_key(vm, &prev, &key)) {
		prev = key;
		vn++;
	}
	CHECK(kn == vn, "%s: %zu elements in the kernel, %zu on the engine", name, kn, vn);
	return kn;
}

int main(void)
{
	char reason[256], err[512] = "", path[512];
	if (netns_available(reason, sizeof(reason)) < 0)
		return test_skip("test_kernel_vm_equiv", reason);
	if (bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL",
			  (struct bpf_insn[]){{.code = 0xb7, .dst_reg = 0, .imm = 0},
					      {.code = 0x95}},
			  2, NULL) < 0)
		return test_skip("test_kernel_vm_equiv", "bpf() cannot load programs here");
	snprintf(path, sizeof(path), "%s/tests/progs/kernel_equiv_xdp.bpf.o", VISOR_BINARY_DIR);
	if (access(path, R_OK))
		return test_skip("test_kernel_vm_equiv", "kernel_equiv_xdp.bpf.o is not built");
	build_frames();

	struct netns_pair pair;
	if (netns_pair_create(&pair, err, sizeof(err)) < 0) {
		printf("SKIP test_kernel_vm_equiv: cannot make network namespaces: %s\n", err);
		return 77;
	}
	int saved = -1;
	struct visor_kernel_obj *kobj = NULL;
	int rc = netns_enter(pair.ns, &saved);
	CHECK(rc == 0, "enter %s: %s", pair.ns, strerror(-rc));
	if (rc == 0) {
		kobj = run_kernel(&pair, path);
		if (kobj)
			visor_kernel_obj_detach_all(kobj); /* maps hold still from here */
		netns_leave(saved);
	}
	struct visor_obj *obj = NULL;
	struct visor_obj_vm *ovm = kobj ? run_vm(path, &obj) : NULL;
	if (kobj && ovm) {
		size_t n[3];
		for (size_t i = 0; i < 3; i++)
			n[i] = compare_map(kobj, ovm, map_names[i]);
		/* Not vacuous: 5 EtherTypes (IPv4, IPv6, ARP, 802.1Q, 0x88b5), the
		 * whole 256-slot array, the 65-slot histogram. */
		CHECK(n[0] == 5, "by_ethertype: %zu elements, want 5", n[0]);
		CHECK(n[1] == 256 && n[2] == 65, "array sizes %zu, %zu", n[1], n[2]);
	}
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
	visor_kernel_obj_close(kobj);
	netns_pair_destroy(&pair);
	return test_summary("test_kernel_vm_equiv");
}
