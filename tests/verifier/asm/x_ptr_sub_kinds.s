# Subtracting pointers of different kinds (packet - stack).
# type: xdp
# expect: reject "subtracting pointers of different kinds (pkt minus fp)"
# kernel: accept
# stricter: the kernel allows privileged programs to subtract pointers of any kinds; visor only of the same region
        ldxw %r2, [%r1+0]
        sub %r2, %r10
        mov %r0, 2
        exit
