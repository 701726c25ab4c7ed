# A 4-byte read at offset 2 (inside the data field).
# type: xdp
# expect: reject "invalid access of struct xdp_md"
# kernel: reject "invalid bpf_context access off=2 size=4"
        ldxw %r0, [%r1+2]
        exit
