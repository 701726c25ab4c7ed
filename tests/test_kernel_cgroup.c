/* cgroup skb programs attached through visor's kernel API to a child cgroup
 * the test makes under the cgroup2 mount ("visor-test-<pid>"): a forked
 * child moves itself into it and, inside a network namespace pair
 * (tests/lib/netns.c, documentation addresses only), sends a bounded number
 * of UDP datagrams to two ports of the peer; the egress program counts
 * packets and bytes and drops the datagrams to one port. Checked: the
 * counts, what arrived at the peer, the send errors, that a process outside
 * the cgroup is not filtered, that nothing stays attached to the cgroup after
 * visor_kernel_obj_close (BPF_PROG_QUERY), and the attach errors. Needs root,
 * a cgroup2 mount, iproute2 and bpf(); skips with one line otherwise. The
 * cgroup directory and the namespaces are removed on every path. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <visor/kernel.h>

#include "netns.h"
#include "testutil.h"

#define PEER_ADDR "192.0.2.2" /* the peer end */
#define PORT_PASS 40001
#define PORT_DROP 40002
#define PAYLOAD 48
enum { STAT_PACKETS, STAT_BYTES, STAT_DROPPED, STAT_INGRESS }; /* the program's */

static struct netns_pair pair;
static char cgdir[512];
static bool cg_made;
static unsigned ndgrams;

static void cgroup_remove(void)
{
	if (!cg_made)
		return;
	/* A reaped child has left the cgroup; its removal may lag a moment. */
	for (int i = 0; i < 100 && rmdir(cgdir) && errno == EBUSY; i++)
		usleep(10000);
	cg_made = false;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return !statfs(path, &sf) && (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* The cgroup2 mount point (unified or hybrid layout, else the mount table). */
static bool find_cgroup2(char *buf, size_t len)
{
	if (is_cgroup2("/sys/fs/cgroup") || is_cgroup2("/sys/fs/cgroup/unified")) {
		snprintf(buf, len, "%s",
			 is_cgroup2("/sys/fs/cgroup") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified");
		return true;
	}
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], dir[512], type[64];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %511s %63s", dir, type) == 2 && !strcmp(type, "cgroup2")) {
			int n = snprintf(buf, len, "%s", dir);
			found = n > 0 && (size_t)n < len;
		}
	if (f)
		fclose(f);
	return found;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint64_t stat_of(struct visor_kernel_obj *obj, uint32_t key)
{
	struct visor_kernel_map *m = visor_kernel_obj_map(obj, "stats");
	uint64_t v = 0;
	if (!m || visor_kernel_map_lookup(m, &key, &v) < 0)
		return ~0ull;
	return v;
}

/* How many programs are attached to the cgroup in that direction, -1 on error. */
static int attached(enum bpf_attach_type type)
{
	int fd = open(cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint32_t ids[8], cnt = 8;
	int rc = bpf_prog_query(fd, type, 0, NULL, ids, &cnt);
	close(fd);
	return rc < 0 ? -1 : (int)cnt;
}

/* A UDP socket bound to PEER_ADDR:port inside the peer namespace. */
static int peer_socket(uint16_t port)
{
	int saved, rc = netns_enter(pair.peer_ns, &saved);
	if (rc < 0)
		return rc;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, PEER_ADDR, &a.sin_addr);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	rc = fd < 0 ? -errno : fd;
	netns_leave(saved);
	return rc;
}

/* Datagrams waiting on fd, until want arrived or timeout_ms passed without one. */
static unsigned drain(int fd, unsigned want, int timeout_ms)
{
	unsigned n = 0;
	char buf[256];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while ((!want || n < want) && poll(&p, 1, timeout_ms) == 1)
		while (recv(fd, buf, sizeof(buf), 0) == PAYLOAD)
			n++;
	return n;
}

struct send_result {
	unsigned pass_ok, drop_ok, drop_eperm, other_err;
	int other_errno;
};

struct sender {
	bool join_cgroup;
	unsigned count;
	int result_fd; /* a pipe's write end */
};

/* In a forked child inside pair.ns: joins the cgroup (before the socket is
 * made: a socket belongs to its creator's cgroup), sends count datagrams to
 * each port, paced, within 5 s; writes a send_result to result_fd. */
static int sender_main(void *ctx)
{
	struct sender *s = ctx;
	struct send_result r = {0};
	if (s->join_cgroup) {
		char path[600], pid[32];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cgdir);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		int n = snprintf(pid, sizeof(pid), "%d", getpid());
		if (fd < 0 || write(fd, pid, (size_t)n) != n)
			return 2;
		close(fd);
	}
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return 3;
	struct sockaddr_in to = {.sin_family = AF_INET};
	inet_pton(AF_INET, PEER_ADDR, &to.sin_addr);
	char msg[PAYLOAD];
	long long end = now_ms() + 5000;
	for (unsigned i = 0; i < s->count && now_ms() < end; i++) {
		memset(msg, 0, sizeof(msg));
		snprintf(msg, sizeof(msg), "visor-cgroup-%u", i);
		for (int k = 0; k < 2; k++) {
			to.sin_port = htons(k ? PORT_DROP : PORT_PASS);
			ssize_t w = sendto(sock, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to));
			if (w == (ssize_t)sizeof(msg))
				k ? r.drop_ok++ : r.pass_ok++;
			else if (k && errno == EPERM)
				r.drop_eperm++;
			else {
				r.other_err++;
				r.other_errno = errno;
			}
		}
		if (i % 16 == 15)
			usleep(1000); /* the first ones wait for ARP in a short queue */
	}
	close(sock);
	if (write(s->result_fd, &r, sizeof(r)) != sizeof(r))
		return 4;
	return 0;
}

static int run_sender(bool join, unsigned count, struct send_result *r)
{
	int p[2];
	if (pipe(p))
		return -errno;
	struct sender s = {.join_cgroup = join, .count = count, .result_fd = p[1]};
	int st = netns_run(pair.ns, sender_main, &s);
	close(p[1]);
	memset(r, 0, sizeof(*r));
	bool got = read(p[0], r, sizeof(*r)) == sizeof(*r);
	close(p[0]);
	return st == 0 && got ? 0 : (st ? st : -EIO);
}

static void test_errors(struct visor_kernel_obj *obj)
{
	char err[512] = "", note[512] = "";
	/* By section without a directory: nothing to attach to. */
	int rc = visor_kernel_attach(obj, "cg_egress", NULL, NULL, note, sizeof(note), err,
				     sizeof(err));
	CHECK(rc == -EINVAL, "no target: rc %d", rc);
	CHECK(strstr(err, "needs a cgroup v2 directory") != NULL, "no target: '%s'", err);
	/* attach_all skips both programs and says so. */
	rc = visor_kernel_attach_all(obj, note, sizeof(note), err, sizeof(err));
	CHECK(rc == 0, "attach_all: %d %s", rc, err);
	CHECK(strstr(note, "cg_egress") && strstr(note, "cg_ingress"), "attach_all note: '%s'",
	      note);
	CHECK(visor_kernel_obj_link_at(obj, 0) == NULL, "attach_all attached something");

	char missing[600];
	snprintf(missing, sizeof(missing), "%s-nope", cgdir);
	struct visor_kernel_attach_opts o = {
		.sz = sizeof(o), .kind = VISOR_KERNEL_ATTACH_CGROUP_SKB, .target = missing, .egress = true};
	rc = visor_kernel_attach(obj, "cg_egress", &o, NULL, NULL, 0, err, sizeof(err));
	CHECK(rc == -ENOENT, "missing dir: rc %d", rc);
	CHECK(strstr(err, "no cgroup directory") != NULL, "missing dir: '%s'", err);

	o.target = "/proc"; /* a directory, not a cgroup v2 one */
	rc = visor_kernel_attach(obj, "cg_egress", &o, NULL, NULL, 0, err, sizeof(err));
	CHECK(rc == -EINVAL, "not cgroup2: rc %d", rc);
	CHECK(strstr(err, "not a cgroup v2 directory") != NULL, "not cgroup2: '%s'", err);
	CHECK(visor_kernel_obj_link_at(obj, 0) == NULL, "a failed attach left a link");
}

static void test_cgroup_skb(void)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/tests/progs/kernel_cgroup_skb.bpf.o", VISOR_BINARY_DIR);
	struct visor_kernel_obj *obj = NULL;
	int rc = visor_kernel_obj_load(path, NULL, &obj, err, sizeof(err));
	CHECK(rc == 0 && obj, "load: %d %s", rc, err);
	if (rc)
		return;
	test_errors(obj);

	uint32_t zero = 0, drop = PORT_DROP;
	struct visor_kernel_map *cfg = visor_kernel_obj_map(obj, "config");
	CHECK(cfg && bpf_map_update_elem(visor_kernel_map_fd(cfg), &zero, &drop, BPF_ANY) == 0,
	      "config update");

	/* Egress by section, the directory from opts; ingress explicitly. */
	struct visor_kernel_link *le = NULL, *li = NULL;
	struct visor_kernel_attach_opts o = {.sz = sizeof(o), .target = cgdir};
	rc = visor_kernel_attach(obj, "cg_egress", &o, &le, NULL, 0, err, sizeof(err));
	CHECK(rc == 0 && le, "attach egress: %d %s", rc, err);
	struct visor_kernel_attach_opts oi = {
		.sz = sizeof(oi), .kind = VISOR_KERNEL_ATTACH_CGROUP_SKB, .target = cgdir};
	rc = visor_kernel_attach(obj, "cg_ingress", &oi, &li, NULL, 0, err, sizeof(err));
	CHECK(rc == 0 && li, "attach ingress: %d %s", rc, err);
	if (le)
		CHECK(!strncmp(visor_kernel_link_describe(le), "cgroup_skb egress on ", 21),
		      "describe: '%s'", visor_kernel_link_describe(le));
	CHECK(attached(BPF_CGROUP_INET_EGRESS) == 1, "egress programs: %d",
	      attached(BPF_CGROUP_INET_EGRESS));
	CHECK(attached(BPF_CGROUP_INET_INGRESS) == 1, "ingress programs: %d",
	      attached(BPF_CGROUP_INET_INGRESS));

	int rx_pass = peer_socket(PORT_PASS), rx_drop = peer_socket(PORT_DROP);
	CHECK(rx_pass >= 0 && rx_drop >= 0, "peer sockets: %d %d", rx_pass, rx_drop);
	if (le && rx_pass >= 0 && rx_drop >= 0) {
		struct send_result r;
		rc = run_sender(true, ndgrams, &r);
		CHECK(rc == 0, "sender in the cgroup: %d", rc);
		CHECK(r.pass_ok == ndgrams, "sent %u of %u to the allowed port", r.pass_ok, ndgrams);
		/* Egress returning 0 drops the packet and sendmsg fails with EPERM. */
		CHECK(r.drop_eperm == ndgrams && r.drop_ok == 0,
		      "dropped port: %u EPERM, %u sent of %u", r.drop_eperm, r.drop_ok, ndgrams);
		CHECK(r.other_err == 0, "%u other send errors (%s)", r.other_err,
		      strerror(r.other_errno));
		unsigned got_pass = drain(rx_pass, ndgrams, 2000);
		unsigned got_drop = drain(rx_drop, 0, 200);
		CHECK(got_pass == ndgrams, "allowed port: %u of %u arrived", got_pass, ndgrams);
		CHECK(got_drop == 0, "dropped port: %u arrived", got_drop);
		CHECK_EQ_U64(stat_of(obj, STAT_PACKETS), 2ull * ndgrams, "packets counted");
		CHECK_EQ_U64(stat_of(obj, STAT_BYTES), 2ull * ndgrams * (20 + 8 + PAYLOAD),
			     "bytes counted (IP + UDP + payload)");
		CHECK_EQ_U64(stat_of(obj, STAT_DROPPED), ndgrams, "dropped counted");

		/* A process outside the cgroup is neither counted nor filtered. */
		rc = run_sender(false, 4, &r);
		CHECK(rc == 0 && r.pass_ok == 4 && r.drop_ok == 4,
		      "sender outside: %d, %u/%u sent", rc, r.pass_ok, r.drop_ok);
		CHECK(drain(rx_drop, 4, 2000) == 4, "outside sender's datagrams to the dropped port");
		CHECK_EQ_U64(stat_of(obj, STAT_PACKETS), 2ull * ndgrams,
			     "packets counted after the outside sender");
	}
	if (rx_pass >= 0)
		close(rx_pass);
	if (rx_drop >= 0)
		close(rx_drop);

	visor_kernel_obj_close(obj);
	long long end = now_ms() + 2000;
	while ((attached(BPF_CGROUP_INET_EGRESS) || attached(BPF_CGROUP_INET_INGRESS)) &&
	       now_ms() < end)
		usleep(10000);
	CHECK(attached(BPF_CGROUP_INET_EGRESS) == 0 && attached(BPF_CGROUP_INET_INGRESS) == 0,
	      "left attached after close: egress %d ingress %d", attached(BPF_CGROUP_INET_EGRESS),
	      attached(BPF_CGROUP_INET_INGRESS));
}

int main(void)
{
	if (geteuid() != 0)
		return test_skip("test_kernel_cgroup", "needs root (cgroups, namespaces, bpf)");
	char mnt[256];
	if (!find_cgroup2(mnt, sizeof(mnt)))
		return test_skip("test_kernel_cgroup", "cgroup2 is not mounted");
	char reason[256];
	if (netns_available(reason, sizeof(reason)) < 0)
		return test_skip("test_kernel_cgroup", reason);
	if (bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL",
			  (struct bpf_insn[]){{.code = 0xb7, .dst_reg = 0, .imm = 0},
					      {.code = 0x95}},
			  2, NULL) < 0)
		return test_skip("test_kernel_cgroup", "bpf() cannot load programs here");
	snprintf(cgdir, sizeof(cgdir), "%s/visor-test-%d", mnt, (int)getpid());
	if (mkdir(cgdir, 0755)) {
		printf("SKIP test_kernel_cgroup: cannot make %s: %s\n", cgdir, strerror(errno));
		return 77;
	}
	cg_made = true;
	atexit(cgroup_remove);
	char err[512] = "";
	if (netns_pair_create(&pair, err, sizeof(err)) < 0) {
		cgroup_remove();
		printf("SKIP test_kernel_cgroup: cannot make network namespaces: %s\n", err);
		return 77;
	}
	ndgrams = (unsigned)(64 * test_scale());
	if (ndgrams < 8)
		ndgrams = 8;
	if (ndgrams > 1000)
		ndgrams = 1000;

	test_cgroup_skb();

	netns_pair_destroy(&pair);
	cgroup_remove();
	struct stat st;
	CHECK(stat(cgdir, &st) && errno == ENOENT, "cgroup %s still there", cgdir);
	return test_summary("test_kernel_cgroup");
}
