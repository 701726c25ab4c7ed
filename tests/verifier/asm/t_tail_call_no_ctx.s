# bpf_tail_call's first argument must be the context.
# type: xdp
# map: jmp prog_array key=4 value=4 entries=4
# expect: reject "r1 (argument 1 of bpf_tail_call) must be the context"
# kernel: reject "R1 type=scalar expected=ctx"
        mov %r1, 0
        lddw %r2, map_fd 0
        mov %r3, 1
        call 12
        mov %r0, 2
        exit
