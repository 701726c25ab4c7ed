# A write into the record after it was submitted.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r6"
# kernel: reject "R6 invalid mem access 'scalar'"
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        mov %r6, %r0
        mov %r1, %r6
        mov %r2, 0
        call 132
        stdw [%r6+0], 1
out:
        mov %r0, 2
        exit
