# Neighbour of s_jump_into_lddw: a jump over the whole lddw is fine.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+12]
        mov %r0, 2
        jeq %r2, 0, +2
        lddw %r3, 0x100000001
        exit
