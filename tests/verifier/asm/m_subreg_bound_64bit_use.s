# A 64-bit value from a map bounded through its low 32 bits only (w2 <= 7),
# then used whole as an index: its high half is still unknown.
# type: xdp
# map: table array key=4 value=64 entries=1
# expect: reject "the variable offset of r0 (map_value) is not bounded"
# kernel: reject "math between map_value pointer and register with unbounded min value is not allowed"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        ldxdw %r2, [%r0+0]
        jgt32 %r2, 7, out
        add %r0, %r2
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
