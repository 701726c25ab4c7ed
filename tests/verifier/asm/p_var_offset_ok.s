# A variable offset (first byte & 15) added to the packet pointer, then the
# sum checked against data_end before the read.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r0, 1
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, out
        ldxb %r5, [%r2+0]
        and %r5, 15
        add %r2, %r5
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, out
        ldxb %r0, [%r2+0]
out:
        exit
