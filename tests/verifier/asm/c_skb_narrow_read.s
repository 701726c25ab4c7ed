# Neighbour of c_skb_wide_read: a 1-byte read of the low byte of len.
# type: sched_cls
# expect: accept
        ldxb %r0, [%r1+0]
        mov %r0, 0
        exit
