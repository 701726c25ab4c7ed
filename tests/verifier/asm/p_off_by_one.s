# The check proves 14 bytes, the load reads the 15th (offset 14).
# type: xdp
# expect: reject "reading 1 bytes at packet offset 14, but only 14 bytes"
# kernel: reject "R2 offset is outside of the packet"
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 14
        mov %r0, 1
        jgt %r4, %r3, out
        ldxb %r0, [%r2+14]
out:
        exit
