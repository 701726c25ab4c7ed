# A counting loop whose bound (2^31) is too large to explore: the
# instruction budget of one million runs out.
# type: xdp
# expect: reject "the program is too complex: 1000000 instructions were"
# kernel: reject "BPF program is too large"
        mov %r0, 2
        mov %r1, 0
loop:
        add %r1, 1
        jlt %r1, 0x7fffffff, loop
        exit
