# 32-bit arithmetic on a pointer.
# type: xdp
# expect: reject "32-bit arithmetic on a pointer (fp) is not allowed"
# kernel: reject "R2 32-bit pointer arithmetic prohibited"
        mov %r2, %r10
        add32 %r2, -8
        mov %r0, 2
        exit
