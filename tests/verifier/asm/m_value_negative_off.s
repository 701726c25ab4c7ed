# A read just before the value.
# type: xdp
# map: counts array key=4 value=8 entries=4
# expect: reject "reading 1 bytes at offset -1 is outside the value of map"
# kernel: reject "R0 min value is outside of the allowed memory range"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        ldxb %r1, [%r0-1]
out:
        mov %r0, 2
        exit
