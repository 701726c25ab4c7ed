# bpf_xdp_adjust_head moves the packet: pointers taken before the call are
# stale, even though they were checked.
# type: xdp
# expect: reject "r7"
# kernel: reject "R7 invalid mem access 'scalar'"
        mov %r6, %r1
        ldxw %r7, [%r6+0]
        ldxw %r3, [%r6+4]
        mov %r4, %r7
        add %r4, 8
        mov %r0, 1
        jgt %r4, %r3, out
        mov %r1, %r6
        mov %r2, 4
        call 44
        ldxb %r0, [%r7+0]
out:
        exit
