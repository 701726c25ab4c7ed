# Neighbour of c_skb_write_len: tc programs may write skb->mark.
# type: sched_cls
# expect: accept
        stw [%r1+8], 7
        mov %r0, 0
        exit
