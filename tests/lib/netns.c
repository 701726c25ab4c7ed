/* Network namespaces and a veth pair for the kernel network tests (see
 * netns.h). iproute2 does the setup; removal is a lazy unmount and unlink
 * of /run/netns/<name> (what `ip netns del` does), which is also safe in a
 * signal handler, so a test killed by SIGINT or a crash leaves nothing. */
#define _GNU_SOURCE
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every namespace this process made and has not removed yet. */
#define NETNS_MAX 16
static char netns_live[NETNS_MAX][64];
static int netns_hooks_installed;

static void netns_remove(const char *name)
{
	char path[128];
	int n = snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return; /* not a name this harness made */
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void netns_remove_all(void)
{
	for (int i = 0; i < NETNS_MAX; i++)
		if (netns_live[i][0]) {
			netns_remove(netns_live[i]);
			netns_live[i][0] = 0;
		}
}

static void netns_on_signal(int sig)
{
	netns_remove_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void netns_track(const char *name)
{
	if (!netns_hooks_installed) {
		netns_hooks_installed = 1;
		atexit(netns_remove_all);
		int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS, SIGFPE};
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], netns_on_signal);
	}
	for (int i = 0; i < NETNS_MAX; i++)
		if (!netns_live[i][0]) {
			snprintf(netns_live[i], sizeof(netns_live[i]), "%s", name);
			return;
		}
}

static void netns_untrack(const char *name)
{
	for (int i = 0; i < NETNS_MAX; i++)
		if (!strcmp(netns_live[i], name))
			netns_live[i][0] = 0;
}

/* Runs `ip ARGS` (names here never need quoting); its output goes to err
 * when it fails. 0 or -EIO. */
static int __attribute__((format(printf, 3, 4))) run_ip(char *err, size_t err_len,
						      const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(cmd, sizeof(cmd), "ip ");
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -errno;
	char out[256] = "";
	size_t got = fread(out, 1, sizeof(out) - 1, f);
	out[got] = 0;
	int st = pclose(f);
	if (st == 0)
		return 0;
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	if (err && err_len)
		snprintf(err, err_len, "%s: %s", cmd, out[0] ? out : "failed");
	return -EIO;
}

int netns_available(char *reason, size_t len)
{
	if (geteuid() != 0) {
		snprintf(reason, len, "needs root (network namespaces, XDP, tc)");
		return -EPERM;
	}
	if (system("command -v ip >/dev/null 2>&1") != 0) {
		snprintf(reason, len, "needs `ip` (iproute2)");
		return -ENOENT;
	}
	if (access("/proc/self/ns/net", F_OK) != 0) {
		snprintf(reason, len, "no network namespace support in this kernel");
		return -ENOSYS;
	}
	return 0;
}

int netns_pair_create(struct netns_pair *p, char *err, size_t err_len)
{
	static int counter;
	memset(p, 0, sizeof(*p));
	int n = counter++;
	snprintf(p->ns, sizeof(p->ns), "visor-test-%d-%da", (int)getpid(), n);
	snprintf(p->peer_ns, sizeof(p->peer_ns), "visor-test-%d-%db", (int)getpid(), n);
	snprintf(p->dev, sizeof(p->dev), "vt0");
	snprintf(p->peer, sizeof(p->peer), "vt1");

	int rc = run_ip(err, err_len, "netns add %s", p->ns);
	if (rc < 0)
		return rc;
	netns_track(p->ns);
	p->created = 1;
	rc = run_ip(err, err_len, "netns add %s", p->peer_ns);
	if (rc < 0)
		goto fail;
	netns_track(p->peer_ns);
	p->created = 2;
	/* Made inside the namespaces: the caller's namespace never sees them. */
	if ((rc = run_ip(err, err_len, "-n %s link add %s type veth peer name %s netns %s", p->ns,
			 p->dev, p->peer, p->peer_ns)) < 0 ||
	    (rc = run_ip(err, err_len, "-n %s addr add 192.0.2.1/24 dev %s", p->ns, p->dev)) < 0 ||
	    (rc = run_ip(err, err_len, "-n %s addr add 192.0.2.2/24 dev %s", p->peer_ns,
			 p->peer)) < 0 ||
	    (rc = run_ip(err, err_len, "-n %s link set %s up", p->ns, p->dev)) < 0 ||
	    (rc = run_ip(err, err_len, "-n %s link set %s up", p->peer_ns, p->peer)) < 0 ||
	    (rc = run_ip(err, err_len, "-n %s link set lo up", p->ns)) < 0)
		goto fail;

	/* dev's MAC, read inside the namespace. */
	int saved;
	if ((rc = netns_enter(p->ns, &saved)) < 0)
		goto fail;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->dev);
	if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(p->dev_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (s >= 0)
		close(s);
	netns_leave(saved);
	return 0;
fail:
	netns_pair_destroy(p);
	return rc;
}

void netns_pair_destroy(struct netns_pair *p)
{
	if (p->created >= 2) {
		netns_remove(p->peer_ns);
		netns_untrack(p->peer_ns);
	}
	if (p->created >= 1) {
		netns_remove(p->ns);
		netns_untrack(p->ns);
	}
	p->created = 0;
}

int netns_enter(const char *ns, int *saved)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		close(cur);
		return e;
	}
	int rc = setns(fd, CLONE_NEWNET);
	int e = -errno;
	close(fd);
	if (rc < 0) {
		close(cur);
		return e;
	}
	*saved = cur;
	return 0;
}

int netns_leave(int saved)
{
	int rc = setns(saved, CLONE_NEWNET) < 0 ? -errno : 0;
	close(saved);
	return rc;
}

int netns_run(const char *ns, int (*fn)(void *ctx), void *ctx)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int saved;
		if (netns_enter(ns, &saved) < 0)
			_exit(255);
		_exit(fn(ctx) & 0xff);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

int netns_packet_socket(const char *ns, const char *ifname, uint16_t proto)
{
	int saved;
	int rc = netns_enter(ns, &saved);
	if (rc < 0)
		return rc;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(proto));
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = (int)if_nametoindex(ifname),
	};
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = sll.sll_ifindex ? -errno : -ENODEV;
		close(fd);
		goto out;
	}
	rc = fd;
out:
	netns_leave(saved);
	return rc;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int netns_send_frames(int fd, const void *frame, size_t len, unsigned count, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	unsigned sent = 0;
	while (sent < count && now_ms() < end) {
		ssize_t n = send(fd, frame, len, 0);
		if (n == (ssize_t)len) {
			sent++;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			return -errno;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		poll(&pfd, 1, 10);
	}
	return (int)sent;
}

unsigned netns_recv_count(int fd, const void *marker, size_t marker_len, unsigned want,
			  int timeout_ms)
{
	unsigned seen = 0;
	uint8_t buf[2048];
	for (;;) {
		if (want && seen >= want)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if ((size_t)n >= ETH_HLEN + marker_len &&
			    !memcmp(buf + ETH_HLEN, marker, marker_len))
				seen++;
	}
	return seen;
}

void netns_frame(uint8_t *buf, size_t len, const uint8_t *dst, uint16_t type, const void *marker,
		 size_t marker_len)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t src[6] = {0x02, 0x00, 0x00, 0x76, 0x69, 0x73};
	memset(buf, 0, len);
	memcpy(buf, dst ? dst : bcast, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = (uint8_t)(type >> 8);
	buf[13] = (uint8_t)type;
	memcpy(buf + ETH_HLEN, marker, marker_len);
}
