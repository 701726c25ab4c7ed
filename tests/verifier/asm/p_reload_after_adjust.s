# Neighbour of p_after_adjust_head: data and data_end re-read after the call.
# type: xdp
# expect: accept
        mov %r6, %r1
        mov %r1, %r6
        mov %r2, 4
        call 44
        ldxw %r7, [%r6+0]
        ldxw %r3, [%r6+4]
        mov %r4, %r7
        add %r4, 8
        mov %r0, 1
        jgt %r4, %r3, out
        ldxb %r0, [%r7+0]
out:
        exit
