# Neighbour of a_uninit_reg: r2 written before it is read.
# type: xdp
# expect: accept
        mov %r2, 1
        mov %r0, %r2
        exit
