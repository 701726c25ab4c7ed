# A bitwise operation on a pointer.
# type: xdp
# expect: reject "&= on a pointer (fp) is not allowed: pointers may only"
# kernel: reject "R2 bitwise operator &= on pointer prohibited"
        mov %r2, %r10
        and %r2, -8
        mov %r0, 2
        exit
