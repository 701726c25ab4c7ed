# The value bpf_map_lookup_elem returns may be NULL: dereferenced unchecked.
# type: xdp
# map: counts hash key=4 value=8 entries=16
# expect: reject "r0 may be NULL here: check the result of"
# kernel: reject "R0 invalid mem access 'map_value_or_null'"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        ldxdw %r1, [%r0+0]
        mov %r0, 2
        exit
