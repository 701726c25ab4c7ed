/* Network namespaces for the kernel network tests: two namespaces made with
 * iproute2 ("visor-test-<pid>-<n>a/b") joined by a veth pair, documentation
 * addresses (192.0.2.1/24 on the inner end, 192.0.2.2/24 on the peer),
 * links up. Nothing is created in the caller's namespace, so interface names
 * are fixed ("vt0" in ns, "vt1" in peer_ns). Every pair made is removed by
 * netns_pair_destroy, and also at exit and on fatal signals. */
#ifndef VISOR_TEST_NETNS_H
#define VISOR_TEST_NETNS_H

#include <stddef.h>
#include <stdint.h>

struct netns_pair {
	char ns[64];       /* holds dev: the side programs attach to */
	char peer_ns[64];  /* holds peer: the side that sends */
	char dev[16];      /* "vt0" */
	char peer[16];     /* "vt1" */
	uint8_t dev_mac[6];
	int created;       /* namespaces made (for destroy) */
};

/* 0 when the tests can run (root, `ip` found, netns creatable), else
 * -errno and a one-line reason for a skip. */
int netns_available(char *reason, size_t len);
/* Makes the namespaces and the veth pair; 0 or -errno with the `ip` output. */
int netns_pair_create(struct netns_pair *p, char *err, size_t err_len);
/* Removes both namespaces (and so the veths); safe to call twice. */
void netns_pair_destroy(struct netns_pair *p);

/* Moves the calling thread into namespace ns; *saved receives an fd of the
 * namespace it was in (for netns_leave). 0 or -errno. */
int netns_enter(const char *ns, int *saved);
/* Back to the namespace netns_enter saved (closes it). */
int netns_leave(int saved);
/* Runs fn(ctx) in a forked child inside ns; returns fn's return value (the
 * child's exit status, 0..255) or -errno; 255 also when the child died. */
int netns_run(const char *ns, int (*fn)(void *ctx), void *ctx);

/* A raw AF_PACKET socket made inside ns, bound to ifname for EtherType
 * proto (host order; 0x0003 = ETH_P_ALL); it keeps that namespace wherever
 * it is used afterwards. Non-blocking. fd or -errno. */
int netns_packet_socket(const char *ns, const char *ifname, uint16_t proto);
/* Sends frame count times on fd, stopping early after timeout_ms; returns
 * the number sent or -errno. */
int netns_send_frames(int fd, const void *frame, size_t len, unsigned count, int timeout_ms);
/* Counts frames arriving on fd whose payload (after the 14-byte Ethernet
 * header) begins with marker (marker_len bytes), until want frames were
 * seen or timeout_ms passed without one; want 0 waits the whole timeout. */
unsigned netns_recv_count(int fd, const void *marker, size_t marker_len, unsigned want,
			  int timeout_ms);
/* An Ethernet frame to dst (NULL: broadcast) from a locally administered
 * source, of EtherType type (host order), payload marker then zeros up to
 * len (>= 60). */
void netns_frame(uint8_t *buf, size_t len, const uint8_t *dst, uint16_t type, const void *marker,
		 size_t marker_len);

#endif
