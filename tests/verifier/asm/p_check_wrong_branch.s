# The read is on the branch where the packet is too short.
# type: xdp
# expect: reject "reading 1 bytes at packet offset 0, but only 0 bytes are"
# kernel: reject "R2 offset is outside of the packet"
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 14
        mov %r0, 1
        jle %r4, %r3, out
        ldxb %r0, [%r2+0]
out:
        exit
