# Neighbour of the c_xdp_* rejections: a 4-byte read of ingress_ifindex.
# type: xdp
# expect: accept
        ldxw %r0, [%r1+12]
        and %r0, 3
        exit
