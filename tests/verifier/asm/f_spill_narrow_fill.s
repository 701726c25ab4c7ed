# A spilled pointer filled back with a 4-byte load: half a pointer.
# type: xdp
# expect: reject "reading 4 bytes at fp-8 takes part of the ctx spilled at"
# kernel: reject "invalid size of register fill"
        stxdw [%r10-8], %r1
        ldxw %r2, [%r10-8]
        ldxw %r0, [%r2+0]
        exit
