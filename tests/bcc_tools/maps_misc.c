/* The other table kinds: an LPM trie of prefixes, a per-CPU array, stack
 * traces from a perf event, a program array with a tail call and a queue. */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

struct lpm_key {
    u32 prefixlen;
    u32 addr;
};

BPF_LPM_TRIE(prefixes, struct lpm_key, u64, 128);
BPF_PERCPU_ARRAY(hits, u64, 4);
BPF_STACK_TRACE(stacks, 1024);
BPF_HASH(stack_counts, int, u64);
BPF_PROG_ARRAY(jump, 4);
BPF_QUEUE(pending, u32, 64);

int on_sample(struct bpf_perf_event_data *ctx)
{
    int id = stacks.get_stackid(ctx, BPF_F_USER_STACK);
    if (id >= 0)
        stack_counts.increment(id);
    return 0;
}

int classify(struct __sk_buff *skb)
{
    struct lpm_key k = {32, htonl(load_word(skb, ETH_HLEN + 16))};
    u64 *v = prefixes.lookup(&k);
    int slot = v ? 1 : 0;
    u64 *h = hits.lookup(&slot);
    if (h)
        (*h)++;
    u32 len = skb->len;
    pending.push(&len, 0);
    jump.call(skb, 0);
    return 0;
}

int drain(struct __sk_buff *skb)
{
    u32 len;
    if (pending.pop(&len) == 0) {
        int slot = 2;
        hits.increment(slot, len);
    }
    return -1;
}
