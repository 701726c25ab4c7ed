# A helper call clobbers r1-r5: r1 is unreadable afterwards.
# type: xdp
# expect: reject "r1 is read before anything was written to it on this"
# kernel: reject "R1 !read_ok"
        call 7
        mov %r0, %r1
        exit
