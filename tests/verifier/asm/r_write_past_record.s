# An 8-byte record written at offset 8.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "writing 8 bytes at offset 8 is outside the ring buffer"
# kernel: reject "R0 min value is outside of the allowed memory range"
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        stdw [%r0+8], 1
        mov %r1, %r0
        mov %r2, 0
        call 132
out:
        mov %r0, 2
        exit
