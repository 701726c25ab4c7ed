# A map value is valid memory for a key of another lookup.
# type: xdp
# map: counts array key=4 value=8 entries=4
# expect: accept
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        mov %r2, %r0
        lddw %r1, map_fd 0
        call 1
out:
        mov %r0, 2
        exit
