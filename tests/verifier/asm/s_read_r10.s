# Neighbour of s_write_r10: r10 may be read and copied; the copy is a stack pointer.
# type: xdp
# expect: accept
        mov %r1, %r10
        add %r1, -8
        stdw [%r1+0], 7
        ldxdw %r2, [%r10-8]
        mov %r0, 2
        exit
