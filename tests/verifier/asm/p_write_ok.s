# XDP programs may write the packet within the checked range.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 6
        mov %r0, 1
        jgt %r4, %r3, out
        sth [%r2+4], 0x1234
        mov %r0, 2
out:
        exit
