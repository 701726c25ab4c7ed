# A pointer compared with 0 (not NULL: the branch is known).
# type: xdp
# expect: accept
        mov %r0, 2
        jne %r1, 0, +1
        mov %r0, 1
        exit
