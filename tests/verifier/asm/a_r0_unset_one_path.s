# r0 is written on one path only.
# type: xdp
# expect: reject "the program exits without setting r0, its return value"
# kernel: reject "R0 !read_ok"
        ldxw %r2, [%r1+12]
        jeq %r2, 1, +1
        mov %r0, 2
        exit
