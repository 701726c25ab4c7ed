# A bpf-to-bpf call: the callee returns a value, the caller passes it on.
# type: xdp
# expect: accept
        mov %r1, 1
        call local double
        exit
double:
        mov %r0, %r1
        add %r0, %r1
        exit
