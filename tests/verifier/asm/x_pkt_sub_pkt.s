# Neighbour of x_ptr_sub_kinds: two packet pointers subtracted give a number
# (the kernel allows it to privileged programs).
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        mov %r3, %r2
        add %r3, 4
        sub %r3, %r2
        mov %r0, 2
        exit
