# Programs may not write to struct xdp_md.
# type: xdp
# expect: reject "write or atomic access (the context is read-only) of"
# kernel: reject "invalid bpf_context access off=12 size=4"
        stw [%r1+12], 0
        mov %r0, 2
        exit
