# A lddw whose second slot is missing (the program ends after its first).
# type: xdp
# expect: reject "lddw is missing its second slot"
# kernel: reject "last insn is not an exit or jmp"
        mov %r0, 2
        exit
        .raw 0x0000000000000118
