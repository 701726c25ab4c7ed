# Division by a register that may be zero: defined in BPF (the result is 0).
# type: xdp
# expect: accept
        ldxw %r2, [%r1+12]
        mov %r0, 100
        div %r0, %r2
        mod %r0, %r2
        and %r0, 3
        exit
