# bpf_tail_call with a hash map instead of a program array.
# type: xdp
# map: counts hash key=4 value=4 entries=4
# expect: reject "bpf_tail_call cannot be used on map 'counts' (a hash"
# kernel: reject "expected prog array map for tail call"
        lddw %r2, map_fd 0
        mov %r3, 1
        call 12
        mov %r0, 2
        exit
