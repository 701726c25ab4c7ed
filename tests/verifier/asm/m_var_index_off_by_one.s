# The index is masked to 0..63 but the read is at index + 1.
# type: xdp
# map: table array key=4 value=64 entries=1
# expect: reject "reading 1 bytes at offset 1..64 (a variable offset) may"
# kernel: reject "R0 max value is outside of the allowed memory range"
        ldxw %r6, [%r1+12]
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        and %r6, 63
        add %r0, %r6
        ldxb %r1, [%r0+1]
out:
        mov %r0, 2
        exit
