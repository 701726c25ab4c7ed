# The last instruction is not exit or a jump: execution would fall off the end.
# type: xdp
# expect: reject "execution can fall off the end of the main program: its"
# kernel: reject "last insn is not an exit or jmp"
        mov %r0, 2
        mov %r1, 1
