# bpf_xdp_adjust_head (44) is an XDP helper, not a socket filter's.
# type: socket_filter
# expect: reject "socket filter programs may not call bpf_xdp_adjust_head"
# kernel: reject "program of this type cannot use helper bpf_xdp_adjust_head#44"
        mov %r2, 0
        call 44
        mov %r0, 0
        exit
