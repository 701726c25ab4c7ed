# Neighbour of m_var_index_bounded without the mask: any 32-bit index.
# type: xdp
# map: table array key=4 value=64 entries=1
# expect: reject "the variable offset of r0 (map_value) is not bounded"
# kernel: reject "R0 unbounded memory access, make sure to bounds check any such access"
        ldxw %r6, [%r1+12]
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        add %r0, %r6
        ldxb %r1, [%r0+0]
out:
        mov %r0, 2
        exit
