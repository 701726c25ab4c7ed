# A signed check (index s<= 63) leaves negative indexes possible.
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
        jsgt %r2, 63, out
        add %r0, %r2
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
