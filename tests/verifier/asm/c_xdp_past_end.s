# Offset 24 is past the last field of struct xdp_md (24 bytes).
# type: xdp
# expect: reject "invalid access of struct xdp_md"
# kernel: reject "invalid bpf_context access off=24 size=4"
        ldxw %r0, [%r1+24]
        exit
