# A number where bpf_map_lookup_elem wants a pointer to the key.
# type: xdp
# map: counts hash key=4 value=8 entries=16
# expect: reject "r2 (the key of bpf_map_lookup_elem, 4 bytes of map"
# kernel: reject "R2 type=scalar expected=fp"
        lddw %r1, map_fd 0
        mov %r2, 0
        call 1
        mov %r0, 2
        exit
