# Opcode 0xff names no instruction.
# type: xdp
# expect: reject "unknown ALU operation 0xf0"
# kernel: reject "unknown opcode ff"
        mov %r0, 2
        .raw 0x00000000000000ff
        exit
