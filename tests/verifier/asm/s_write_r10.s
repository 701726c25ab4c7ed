# r10, the frame pointer, is read-only.
# type: xdp
# expect: reject "r10 is the read-only frame pointer; this instruction"
# kernel: reject "frame pointer is read only"
        mov %r10, 0
        mov %r0, 2
        exit
