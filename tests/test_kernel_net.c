/* XDP, tc and socket filters attached through visor's kernel API
 * (visor_kernel_obj_load + visor_kernel_attach) to a veth end inside a
 * network namespace pair the test makes (tests/lib/netns.c): raw Ethernet
 * frames of two local-experimental EtherTypes are sent from the peer end;
 * the programs count them per EtherType in a map and drop one of the two by
 * a rule map. Checked: the counts, which frames reach packet sockets on the
 * program's side, that nothing is left on the interface after
 * visor_kernel_obj_close and after the loader is killed with SIGKILL, and
 * the missing-interface error. Needs root, iproute2 and bpf(); skips with
 * one line otherwise. Both namespaces are removed on every path. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "netns.h"
#include "testutil.h"

#define TYPE_PASS 0x88b5 /* IEEE 802 local experimental EtherTypes */
#define TYPE_DROP 0x88b6
#define TCX_INGRESS 46   /* enum bpf_attach_type, newer than linux-libc-dev */

static struct netns_pair pair;
static unsigned nframes;

static const char *prog_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/progs/%s.bpf.o", VISOR_BINARY_DIR, name);
	return buf;
}

static struct visor_kernel_obj *load(const char *name)
{
	char path[512], err[512] = "";
	struct visor_kernel_obj *obj = NULL;
	int rc = visor_kernel_obj_load(prog_path(name, path, sizeof(path)), NULL, &obj, err,
				       sizeof(err));
	CHECK(rc == 0 && obj, "load %s: %d %s", name, rc, err);
	return rc == 0 ? obj : NULL;
}

static void set_drop(struct visor_kernel_obj *obj, uint32_t type)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "drop_types");
	CHECK(m != NULL, "map drop_types");
	if (!m)
		return;
	uint8_t one = 1;
	CHECK(bpf_map_update_elem(visor_kernel_map_fd(m), &type, &one, BPF_ANY) == 0,
	      "drop_types update: %s", strerror(errno));
}

static uint64_t count_of(struct visor_kernel_obj *obj, uint32_t type)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "counts");
	uint64_t v = 0;
	if (!m || visor_kernel_map_lookup(m, &type, &v) < 0)
		return 0;
	return v;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* nframes frames of each EtherType from the peer, in small paced batches so
 * the veth never overflows; returns how many of each were sent. */
static unsigned send_both(const char *marker_pass, const char *marker_drop)
{
	int tx = netns_packet_socket(pair.peer_ns, pair.peer, 0);
	CHECK(tx >= 0, "tx socket: %s", strerror(-tx));
	if (tx < 0)
		return 0;
	uint8_t fp[64], fd[64];
	netns_frame(fp, sizeof(fp), pair.dev_mac, TYPE_PASS, marker_pass, strlen(marker_pass));
	netns_frame(fd, sizeof(fd), pair.dev_mac, TYPE_DROP, marker_drop, strlen(marker_drop));
	unsigned sent = 0;
	long long end = now_ms() + 5000;
	while (sent < nframes && now_ms() < end) {
		unsigned batch = nframes - sent < 16 ? nframes - sent : 16;
		int a = netns_send_frames(tx, fp, sizeof(fp), batch, 1000);
		int b = netns_send_frames(tx, fd, sizeof(fd), batch, 1000);
		CHECK(a == (int)batch && b == (int)batch, "sent %d/%d of %u", a, b, batch);
		if (a != (int)batch || b != (int)batch)
			break;
		sent += batch;
		usleep(1000);
	}
	close(tx);
	return sent;
}

/* Sends both kinds and checks: every frame counted by EtherType, passed
 * frames delivered to a packet socket on dev, dropped ones not. */
static void check_count_drop(struct visor_kernel_obj *obj, const char *what)
{
	int rx_pass = netns_packet_socket(pair.ns, pair.dev, TYPE_PASS);
	int rx_drop = netns_packet_socket(pair.ns, pair.dev, TYPE_DROP);
	CHECK(rx_pass >= 0 && rx_drop >= 0, "%s: rx sockets", what);
	if (rx_pass < 0 || rx_drop < 0)
		goto out;
	char mp[32], md[32];
	snprintf(mp, sizeof(mp), "visor-%s-pass", what);
	snprintf(md, sizeof(md), "visor-%s-drop", what);
	unsigned sent = send_both(mp, md);
	unsigned got_pass = netns_recv_count(rx_pass, mp, strlen(mp), sent, 2000);
	unsigned got_drop = netns_recv_count(rx_drop, md, strlen(md), 0, 200);
	CHECK(sent == nframes, "%s: sent %u of %u", what, sent, nframes);
	CHECK(got_pass == sent, "%s: passed frames received %u of %u", what, got_pass, sent);
	CHECK(got_drop == 0, "%s: dropped frames received %u (want 0)", what, got_drop);
	CHECK_EQ_U64(count_of(obj, TYPE_PASS), sent, "count of passed EtherType");
	CHECK_EQ_U64(count_of(obj, TYPE_DROP), sent, "count of dropped EtherType");
out:
	if (rx_pass >= 0)
		close(rx_pass);
	if (rx_drop >= 0)
		close(rx_drop);
}

static int xdp_mode(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = (int)if_nametoindex(pair.dev);
	if (bpf_xdp_query(ifindex, 0, &q) < 0)
		return -1;
	return q.attach_mode;
}

static void test_xdp(bool generic)
{
	const char *what = generic ? "xdp-generic" : "xdp";
	struct visor_kernel_obj *obj = load("kernel_net_xdp");
	if (!obj)
		return;
	set_drop(obj, TYPE_DROP);
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_XDP, .target = pair.dev, .generic = generic};
	struct visor_kernel_link *link = NULL;
	char note[256] = "", err[512] = "";
	int rc = visor_kernel_attach(obj, "xdp_count_drop", &o, &link, note, sizeof(note), err,
				     sizeof(err));
	CHECK(rc == 0 && link, "%s attach: %d %s", what, rc, err);
	if (rc == 0) {
		char want[64];
		snprintf(want, sizeof(want), "xdp on %s (%s)", pair.dev,
			 generic ? "generic" : "native");
		CHECK(!strcmp(visor_kernel_link_describe(link), want), "describe: '%s' want '%s'",
		      visor_kernel_link_describe(link), want);
		CHECK(xdp_mode() == (generic ? XDP_ATTACHED_SKB : XDP_ATTACHED_DRV),
		      "%s: attach mode %d", what, xdp_mode());
		check_count_drop(obj, what);
	}
	visor_kernel_obj_close(obj);
	CHECK(xdp_mode() == XDP_ATTACHED_NONE, "%s: left on %s after close (mode %d)", what,
	      pair.dev, xdp_mode());
}

/* lo has no native XDP: visor falls back to generic mode and says so. */
static void test_xdp_fallback(void)
{
	struct visor_kernel_obj *obj = load("kernel_net_xdp");
	if (!obj)
		return;
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_XDP, .target = "lo"};
	struct visor_kernel_link *link = NULL;
	char note[256] = "", err[512] = "";
	int rc = visor_kernel_attach(obj, "xdp_count_drop", &o, &link, note, sizeof(note), err,
				     sizeof(err));
	CHECK(rc == 0 && link, "xdp on lo: %d %s", rc, err);
	if (rc == 0) {
		CHECK(!strcmp(visor_kernel_link_describe(link), "xdp on lo (generic)"),
		      "describe: '%s'", visor_kernel_link_describe(link));
		CHECK(strstr(note, "generic") != NULL, "no note on the fallback: '%s'", note);
	}
	visor_kernel_obj_close(obj);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	CHECK(bpf_xdp_query((int)if_nametoindex("lo"), 0, &q) == 0 &&
		      q.attach_mode == XDP_ATTACHED_NONE,
	      "XDP left on lo (mode %d)", q.attach_mode);
}

static int tcx_count(void)
{
	uint32_t ids[8], cnt = 8, flags = 0;
	int ifindex = (int)if_nametoindex(pair.dev);
	if (bpf_prog_query(ifindex, (enum bpf_attach_type)TCX_INGRESS, 0, &flags, ids, &cnt) < 0)
		return -errno;
	return (int)cnt;
}

static void test_tc(void)
{
	struct visor_kernel_obj *obj = load("kernel_net_tc");
	if (!obj)
		return;
	set_drop(obj, TYPE_DROP);
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_TC, .target = pair.dev};
	struct visor_kernel_link *link = NULL;
	char note[256] = "", err[512] = "";
	int rc = visor_kernel_attach(obj, "tc_count_drop", &o, &link, note, sizeof(note), err,
				     sizeof(err));
	CHECK(rc == 0 && link, "tc attach: %d %s", rc, err);
	if (rc == 0) {
		char want[64];
		snprintf(want, sizeof(want), "tc ingress on %s (tcx)", pair.dev);
		CHECK(!strcmp(visor_kernel_link_describe(link), want), "describe: '%s' want '%s'",
		      visor_kernel_link_describe(link), want);
		CHECK(tcx_count() == 1, "tcx programs on %s: %d", pair.dev, tcx_count());
		check_count_drop(obj, "tc");
	}
	visor_kernel_obj_close(obj);
	CHECK(tcx_count() == 0, "tcx programs left on %s after close: %d", pair.dev, tcx_count());
}

/* The filter on a packet socket of the test's own (sock_fd): the socket
 * gets only the kept EtherType; and on a socket visor opens (target). */
static void test_socket(void)
{
	struct visor_kernel_obj *obj = load("kernel_net_sock");
	if (!obj)
		return;
	set_drop(obj, TYPE_DROP);
	int s = netns_packet_socket(pair.ns, pair.dev, ETH_P_ALL);
	CHECK(s >= 0, "packet socket: %s", strerror(-s));
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_SOCKET, .sock_fd = s};
	char note[256] = "", err[512] = "";
	int rc = s < 0 ? -1
		       : visor_kernel_attach(obj, "sock_count_drop", &o, NULL, note, sizeof(note),
					     err, sizeof(err));
	CHECK(rc == 0, "socket attach (sock_fd): %d %s", rc, err);
	if (rc == 0) {
		/* Frames queued before the filter went on are not the filter's. */
		uint8_t junk[2048];
		while (recv(s, junk, sizeof(junk), 0) > 0)
			;
		unsigned sent = send_both("visor-sock-pass", "visor-sock-drop");
		unsigned got_pass = netns_recv_count(s, "visor-sock-pass", 15, sent, 2000);
		unsigned got_drop = netns_recv_count(s, "visor-sock-drop", 15, 0, 200);
		CHECK(got_pass == sent, "socket: kept frames received %u of %u", got_pass, sent);
		CHECK(got_drop == 0, "socket: filtered frames received %u", got_drop);
		CHECK_EQ_U64(count_of(obj, TYPE_PASS), sent, "socket count of kept EtherType");
		CHECK_EQ_U64(count_of(obj, TYPE_DROP), sent, "socket count of filtered EtherType");
	}
	visor_kernel_obj_close(obj);
	if (s >= 0)
		close(s);

	obj = load("kernel_net_sock");
	if (!obj)
		return;
	struct visor_kernel_attach_opts t = {
		.sz = sizeof(t), .kind = VISOR_KERNEL_ATTACH_SOCKET, .target = pair.dev, .sock_fd = -1};
	struct visor_kernel_link *link = NULL;
	rc = visor_kernel_attach(obj, "sock_count_drop", &t, &link, note, sizeof(note), err,
				 sizeof(err));
	CHECK(rc == 0, "socket attach (target %s): %d %s", pair.dev, rc, err);
	if (rc == 0) {
		unsigned sent = send_both("visor-sock2-pass", "visor-sock2-drop");
		/* The socket is visor's: the counts show what reached it. */
		long long end = now_ms() + 2000;
		while (count_of(obj, TYPE_DROP) < sent && now_ms() < end)
			usleep(2000);
		CHECK_EQ_U64(count_of(obj, TYPE_PASS), sent, "visor's socket: count of EtherType 1");
		CHECK_EQ_U64(count_of(obj, TYPE_DROP), sent, "visor's socket: count of EtherType 2");
	}
	visor_kernel_obj_close(obj);
}

/* A loader killed with SIGKILL: its XDP link dies with it. */
static void test_sigkill(void)
{
	int p[2];
	if (pipe(p) < 0) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		char path[512], err[512];
		struct visor_kernel_obj *obj = NULL;
		if (visor_kernel_obj_load(prog_path("kernel_net_xdp", path, sizeof(path)), NULL,
					  &obj, err, sizeof(err)) < 0)
			_exit(1);
		struct visor_kernel_attach_opts o = {
			.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_XDP, .target = pair.dev};
		if (visor_kernel_attach(obj, "xdp_count_drop", &o, NULL, NULL, 0, err,
					sizeof(err)) < 0)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK(pid > 0, "fork: %s", strerror(errno));
	if (pid < 0) {
		close(p[0]);
		return;
	}
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	char c = 0;
	bool ready = poll(&pfd, 1, 10000) == 1 && read(p[0], &c, 1) == 1;
	close(p[0]);
	CHECK(ready, "child did not attach");
	if (ready)
		CHECK(xdp_mode() == XDP_ATTACHED_DRV, "child's XDP program not seen (mode %d)",
		      xdp_mode());
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	/* The link is released asynchronously after the last fd closes. */
	long long end = now_ms() + 3000;
	while (xdp_mode() != XDP_ATTACHED_NONE && now_ms() < end)
		usleep(10000);
	CHECK(xdp_mode() == XDP_ATTACHED_NONE, "XDP left on %s after SIGKILL (mode %d)",
	      pair.dev, xdp_mode());
}

static void test_errors(void)
{
	struct visor_kernel_obj *obj = load("kernel_net_xdp");
	if (obj) {
		struct visor_kernel_attach_opts o = {
			.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_XDP, .target = "nope0"};
		char err[512] = "";
		int rc = visor_kernel_attach(obj, "xdp_count_drop", &o, NULL, NULL, 0, err,
					     sizeof(err));
		CHECK(rc == -ENODEV || rc == -ENOENT, "xdp nope0: rc %d", rc);
		CHECK(strstr(err, "no interface 'nope0'") != NULL, "xdp nope0: '%s'", err);
		visor_kernel_obj_close(obj);
	}
	obj = load("kernel_net_tc");
	if (obj) {
		struct visor_kernel_attach_opts o = {
			.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_TC, .target = "nope0", .egress = true};
		char err[512] = "";
		int rc = visor_kernel_attach(obj, "tc_count_drop", &o, NULL, NULL, 0, err,
					     sizeof(err));
		CHECK(rc == -ENODEV || rc == -ENOENT, "tc nope0: rc %d", rc);
		CHECK(strstr(err, "no interface 'nope0'") != NULL, "tc nope0: '%s'", err);
		visor_kernel_obj_close(obj);
	}
}

int main(void)
{
	char reason[256];
	if (netns_available(reason, sizeof(reason)) < 0)
		return test_skip("test_kernel_net", reason);
	if (bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL",
			  (struct bpf_insn[]){{.code = 0xb7, .dst_reg = 0, .imm = 0},
					      {.code = 0x95}},
			  2, NULL) < 0)
		return test_skip("test_kernel_net", "bpf() cannot load programs here");
	char err[512] = "";
	if (netns_pair_create(&pair, err, sizeof(err)) < 0) {
		printf("SKIP test_kernel_net: cannot make network namespaces: %s\n", err);
		return 77;
	}
	nframes = (unsigned)(200 * test_scale());
	if (nframes < 20)
		nframes = 20;

	/* The whole test runs inside the namespace holding the program's end. */
	int saved = -1;
	int rc = netns_enter(pair.ns, &saved);
	CHECK(rc == 0, "enter %s: %s", pair.ns, strerror(-rc));
	if (rc == 0) {
		test_xdp(false);
		test_xdp(true);
		test_xdp_fallback();
		test_tc();
		test_socket();
		test_sigkill();
		test_errors();
		netns_leave(saved);
	}
	netns_pair_destroy(&pair);
	return test_summary("test_kernel_net");
}
