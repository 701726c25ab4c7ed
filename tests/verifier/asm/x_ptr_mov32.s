# A 32-bit copy of a packet pointer (clang emits w3 = w2 for the u32 fields
# of xdp_md) used only as a number afterwards.
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        mov32 %r3, %r2
        mov %r0, %r3
        and %r0, 3
        exit
