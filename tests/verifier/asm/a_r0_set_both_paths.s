# Neighbour of a_r0_unset_one_path: r0 written on both paths.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+12]
        mov %r0, 1
        jeq %r2, 1, +1
        mov %r0, 2
        exit
