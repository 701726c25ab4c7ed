# A pointer compared with an unknown number: allowed (the kernel allows it to
# privileged programs, and visor's programs are all trusted that much).
# type: xdp
# expect: accept
        ldxw %r2, [%r1+12]
        mov %r0, 2
        jgt %r1, %r2, +1
        mov %r0, 1
        exit
