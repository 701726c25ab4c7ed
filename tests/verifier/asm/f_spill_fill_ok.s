# A map value pointer spilled to the stack and filled back keeps its kind.
# type: xdp
# map: counts array key=4 value=8 entries=4
# expect: accept
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        stxdw [%r10-16], %r0
        ldxdw %r6, [%r10-16]
        stdw [%r6+0], 1
out:
        mov %r0, 2
        exit
