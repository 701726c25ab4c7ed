/* Counts IPv4 packets per (destination, source) address pair: BCC's
 * socket-filter example, with the counter incremented through the pointer
 * ((*leaf)++, not *(leaf)++), a first packet inserting 1, and frames that
 * are not IPv4 left alone. Runs in the kernel (visor run --backend kernel,
 * as a socket filter) and on visor's engine (--backend vm --pcap FILE). */
#include <bcc/proto.h>

struct IPKey {
    u32 dip;
    u32 sip;
};
BPF_TABLE("hash", struct IPKey, int, mytable, 1024);

int recv_packet(struct __sk_buff *skb) {
    struct IPKey key;
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    if (ethernet->type != ETH_P_IP)
        return 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    key.dip = ip->dst;
    key.sip = ip->src;
    int *leaf = mytable.lookup(&key);
    if (leaf) {
        (*leaf)++;
    } else {
        int one = 1;
        mytable.insert(&key, &one);
    }
    return 0;
}
