# A jump to the second slot of a lddw (its high 32 bits are not an instruction).
# type: xdp
# expect: reject "the jump lands in the middle of the lddw at insn 3"
# kernel: reject "jump into the middle of ldimm64 insn"
        ldxw %r2, [%r1+12]
        mov %r0, 2
        jeq %r2, 0, +1
        lddw %r3, 0x100000001
        exit
