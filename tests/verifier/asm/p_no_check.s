# A packet byte read without comparing against data_end.
# type: xdp
# expect: reject "reading 1 bytes at packet offset 0, but only 0 bytes are"
# kernel: reject "R2 offset is outside of the packet"
        ldxw %r2, [%r1+0]
        ldxb %r0, [%r2+0]
        exit
