# A ring buffer record reserved, checked, written and submitted.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: accept
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        stdw [%r0+0], 1
        mov %r1, %r0
        mov %r2, 0
        call 132
out:
        mov %r0, 2
        exit
