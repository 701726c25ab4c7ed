/* XDP with bcc/proto.h: drop UDP to one port, count what passes by
 * protocol. */
#include <bcc/proto.h>
#include <linux/if_ether.h>

#define BLOCKED_PORT 9999

BPF_ARRAY(proto_count, u64, 256);
BPF_ARRAY(drops, u64, 1);

int xdp_drop_port(struct xdp_md *ctx)
{
    u8 *cursor = 0;
    struct ethernet_t *eth = cursor_advance(cursor, sizeof(*eth));
    if (eth->type != ETH_P_IP)
        return XDP_PASS;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    int proto = ip->nextp;
    proto_count.increment(proto);
    if (ip->nextp != IPPROTO_UDP || ip->hlen != 5)
        return XDP_PASS;
    struct udp_t *udp = cursor_advance(cursor, sizeof(*udp));
    if (udp->dport == BLOCKED_PORT) {
        drops.increment(0);
        return XDP_DROP;
    }
    return XDP_PASS;
}
