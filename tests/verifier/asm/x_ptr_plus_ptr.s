# Adding two pointers.
# type: xdp
# expect: reject "+= between two pointers is not allowed (only subtracting"
# kernel: reject "R2 pointer += pointer prohibited"
        mov %r2, %r10
        add %r2, %r1
        mov %r0, 2
        exit
