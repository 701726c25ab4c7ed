# The context pointer spilled and filled, then used for a context read.
# type: xdp
# expect: accept
        stxdw [%r10-8], %r1
        ldxdw %r2, [%r10-8]
        ldxw %r0, [%r2+12]
        and %r0, 3
        exit
