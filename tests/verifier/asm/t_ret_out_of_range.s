# Return codes: XDP actions are 0..4 (any value is accepted by the kernel).
# type: xdp
# expect: accept
        mov %r0, 100
        exit
