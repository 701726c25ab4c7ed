# Neighbour of x_cmp_pkt_ctx: packet pointer against data_end, the bounds check.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r0, 1
        jgt %r2, %r3, +1
        mov %r0, 2
        exit
