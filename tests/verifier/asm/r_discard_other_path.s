# Neighbour of r_leak_one_path: the other path discards the record.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: accept
        ldxw %r6, [%r1+12]
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        mov %r1, %r0
        mov %r2, 0
        jeq %r6, 1, discard
        call 132
        ja out
discard:
        call 133
out:
        mov %r0, 2
        exit
