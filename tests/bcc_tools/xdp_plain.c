/* The same as xdp_proto.c with the kernel's own structs and explicit
 * bounds checks, as most XDP code is written. */
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

BPF_ARRAY(drops, u64, 1);

int xdp_drop_port_plain(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    struct udphdr *udp = (void *)ip + ip->ihl * 4;
    if ((void *)(udp + 1) > data_end)
        return XDP_PASS;
    if (udp->dest == htons(9999)) {
        int zero = 0;
        u64 *d = drops.lookup(&zero);
        if (d)
            __sync_fetch_and_add(d, 1);
        return XDP_DROP;
    }
    return XDP_PASS;
}
