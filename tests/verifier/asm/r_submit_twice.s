# The same record submitted twice.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r6"
# kernel: reject "R1 type=scalar expected=ringbuf_mem"
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        mov %r6, %r0
        mov %r1, %r6
        mov %r2, 0
        call 132
        mov %r1, %r6
        mov %r2, 0
        call 132
out:
        mov %r0, 2
        exit
