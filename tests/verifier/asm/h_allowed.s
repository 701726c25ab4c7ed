# Neighbour of h_not_allowed: the same call in an XDP program.
# type: xdp
# expect: accept
        mov %r2, 0
        call 44
        mov %r0, 2
        exit
