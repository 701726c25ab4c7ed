# r2 is not set at entry (only r1, the context, and r10 are).
# type: xdp
# expect: reject "r2 is read before anything was written to it on this"
# kernel: reject "R2 !read_ok"
        mov %r0, %r2
        exit
