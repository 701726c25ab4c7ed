# bpf_tail_call through a program array; falls through when the slot is empty.
# type: xdp
# map: jmp prog_array key=4 value=4 entries=4
# expect: accept
        lddw %r2, map_fd 0
        mov %r3, 1
        call 12
        mov %r0, 2
        exit
