# A jump past the last instruction.
# type: xdp
# expect: reject "the jump goes to 7, outside the program (3 instructions)"
# kernel: reject "jump out of range from insn 1 to 7"
        mov %r0, 2
        ja +5
        exit
