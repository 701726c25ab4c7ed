# The dereference is on the branch where the value is NULL.
# type: xdp
# map: counts hash key=4 value=8 entries=16
# expect: reject "r0 is a number (scalar 0x0), not a pointer: it cannot be"
# kernel: reject "R0 invalid mem access 'scalar'"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jne %r0, 0, out
        ldxdw %r1, [%r0+0]
out:
        mov %r0, 2
        exit
