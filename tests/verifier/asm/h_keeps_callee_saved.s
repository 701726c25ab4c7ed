# Neighbour of h_clobbers_args: r6-r9 survive a helper call.
# type: xdp
# expect: accept
        mov %r6, 2
        call 7
        mov %r0, %r6
        exit
