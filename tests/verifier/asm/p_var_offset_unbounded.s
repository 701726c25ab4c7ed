# A 32-bit unknown (ingress_ifindex) added to the packet pointer: an offset
# larger than any packet, refused before any check can help.
# type: xdp
# expect: reject "the packet offset of r2 may reach 4503599626321920"
# kernel: reject "R2 offset is outside of the packet"
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        ldxw %r5, [%r1+12]
        lsh %r5, 20
        add %r2, %r5
        mov %r0, 1
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, out
        ldxb %r0, [%r2+0]
out:
        exit
