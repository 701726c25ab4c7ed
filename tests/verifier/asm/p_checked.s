# Neighbour of p_off_by_one: the last byte the check proves (offset 13).
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 14
        mov %r0, 1
        jgt %r4, %r3, out
        ldxb %r0, [%r2+13]
out:
        exit
