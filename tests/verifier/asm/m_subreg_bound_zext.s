# Neighbour of m_subreg_bound_64bit_use: after the 32-bit check the index is
# zero-extended (w2 = w2), so all 64 bits are bounded.
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
        jgt32 %r2, 7, out
        mov32 %r2, %r2
        add %r0, %r2
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
