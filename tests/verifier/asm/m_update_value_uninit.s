# Neighbour of m_update_ok: the value's 8 bytes were never written.
# type: xdp
# map: counts hash key=4 value=8 entries=16
# expect: reject "r3 (the value of bpf_map_update_elem, 8 bytes of map"
# kernel: accept
# stricter: the kernel lets privileged programs pass uninitialised stack as a value; visor never does
        stw [%r10-4], 1
        lddw %r1, map_fd 0
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        mov %r0, 2
        exit
