# A jump from the main function into the body of another function.
# type: xdp
# expect: reject "the jump to insn 5 leaves the main program for the"
# kernel: reject "jump out of range from insn 1 to 5"
        mov %r1, 1
        jeq %r1, 2, inside
        call local f
        exit
f:
        mov %r0, %r1
inside:
        add %r0, 1
        exit
