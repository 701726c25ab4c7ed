# Neighbour of f_spill_fill_ok: one byte of the spilled pointer overwritten;
# the filled value is no longer a pointer.
# type: xdp
# map: counts array key=4 value=8 entries=4
# expect: reject "fp-16"
# kernel: reject "R6 invalid mem access 'scalar'"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        stxdw [%r10-16], %r0
        stb [%r10-16], 0
        ldxdw %r6, [%r10-16]
        stdw [%r6+0], 1
out:
        mov %r0, 2
        exit
