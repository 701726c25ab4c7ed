# A variable index (ingress_ifindex & 63) into a 64-byte value.
# type: xdp
# map: table array key=4 value=64 entries=1
# expect: accept
        ldxw %r6, [%r1+12]
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        and %r6, 63
        add %r0, %r6
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
