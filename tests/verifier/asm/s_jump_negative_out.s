# A jump before the first instruction.
# type: xdp
# expect: reject "the jump goes to -1, outside the program (3"
# kernel: reject "jump out of range from insn 1 to -1"
        mov %r0, 2
        ja -3
        exit
