# Neighbour of h_size_unbounded: the size masked to 0..15.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: accept
        ldxw %r3, [%r1+12]
        and %r3, 15
        stdw [%r10-16], 0
        stdw [%r10-8], 0
        lddw %r1, map_fd 0
        mov %r2, %r10
        add %r2, -16
        mov %r4, 0
        call 130
        mov %r0, 2
        exit
