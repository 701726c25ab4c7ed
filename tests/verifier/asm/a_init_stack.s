# Neighbour of a_uninit_stack: the slot is written first.
# type: xdp
# expect: accept
        stdw [%r10-8], 5
        ldxdw %r2, [%r10-8]
        mov %r0, 2
        exit
