# Neighbour of p_var_offset_ok: the variable offset is added after the
# check, so the read at data + (0..15) is not proven.
# type: xdp
# expect: reject "reading 1 bytes at packet offset 0 past a variable"
# kernel: reject "R2 offset is outside of the packet"
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r0, 1
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, out
        ldxb %r5, [%r2+0]
        and %r5, 15
        add %r2, %r5
        ldxb %r0, [%r2+0]
out:
        exit
