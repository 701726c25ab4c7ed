# A number where a map is expected.
# type: xdp
# expect: reject "r1 (argument 1 of bpf_map_lookup_elem) must be a map"
# kernel: reject "R1 type=scalar expected=map_ptr"
        stw [%r10-4], 0
        mov %r1, 0
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r0, 2
        exit
