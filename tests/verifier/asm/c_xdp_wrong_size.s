# ingress_ifindex read with a 2-byte load: xdp_md fields are read whole.
# type: xdp
# expect: reject
# kernel: reject "invalid bpf_context access off=12 size=2"
        ldxh %r0, [%r1+12]
        exit
