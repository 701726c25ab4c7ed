# Neighbour of m_lookup_no_null_check: the NULL case branches away.
# type: xdp
# map: counts hash key=4 value=8 entries=16
# expect: accept
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        mov %r1, 1
        lock add [%r0+0], %r1
out:
        mov %r0, 2
        exit
