# The packet length as clang -mcpu=v3 computes it for an int: a 32-bit
# subtraction of the two packet pointers (the result is a number).
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        sub32 %r3, %r2
        mov %r0, %r3
        and %r0, 3
        exit
