# bpf_xdp_adjust_head wants the context in r1, gets a stack pointer.
# type: xdp
# expect: reject "r1 (argument 1 of bpf_xdp_adjust_head) must be the"
# kernel: reject "R1 type=fp expected=ctx"
        mov %r1, %r10
        add %r1, -8
        mov %r2, 0
        call 44
        mov %r0, 2
        exit
