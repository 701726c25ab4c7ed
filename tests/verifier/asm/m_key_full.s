# Neighbour of m_key_too_small: all 8 bytes written.
# type: xdp
# map: flows hash key=8 value=8 entries=16
# expect: accept
        stdw [%r10-8], 0
        mov %r2, %r10
        add %r2, -8
        lddw %r1, map_fd 0
        call 1
        mov %r0, 2
        exit
