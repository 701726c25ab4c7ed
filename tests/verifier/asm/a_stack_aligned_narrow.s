# Neighbour of a_stack_misaligned: a 1-byte store at an odd offset is aligned.
# type: xdp
# expect: accept
        stb [%r10-7], 0
        ldxb %r2, [%r10-7]
        mov %r0, 2
        exit
