# Instructions after the exit that no jump reaches.
# type: xdp
# expect: reject "instruction 2 can never run (unreachable code is"
# kernel: reject "unreachable insn 2"
        mov %r0, 2
        exit
        mov %r0, 1
        exit
