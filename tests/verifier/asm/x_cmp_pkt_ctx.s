# A packet pointer compared with the context pointer.
# type: xdp
# expect: reject "comparing pointers of different kinds (pkt with ctx) is"
# kernel: accept
# stricter: the kernel allows privileged programs (allow_ptr_leaks) to compare any pointers; visor compares only pointers into the same memory
        ldxw %r2, [%r1+0]
        mov %r0, 1
        jgt %r2, %r1, +1
        mov %r0, 2
        exit
