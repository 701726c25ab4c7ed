# Division by the constant 0 is malformed.
# type: xdp
# expect: reject
# kernel: reject "div by zero"
        mov %r0, 100
        div %r0, 0
        exit
