/* issue 7's third example, corrected: (*leaf)++ counts (as written,
 * *(leaf)++ advances the pointer), a pair seen first is inserted with 1,
 * and frames that are not IPv4 are left alone. */
#include <bcc/proto.h>
struct IPKey { u32 dip; u32 sip; };
BPF_TABLE("hash", struct IPKey, int, mytable, 1024);
int recv_packet(struct __sk_buff *skb) {
    struct IPKey key;
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    if (ethernet->type != 0x0800)
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
