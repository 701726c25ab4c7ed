# Neighbour of m_signed_bound: the unsigned check (index <= 63) suffices.
# type: xdp
# map: table array key=4 value=64 entries=1
# expect: accept
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        ldxdw %r2, [%r0+0]
        jgt %r2, 63, out
        add %r0, %r2
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
