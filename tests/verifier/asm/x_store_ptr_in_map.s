# A stack address stored into a map value, where user space can read it.
# type: xdp
# map: counts array key=4 value=8 entries=4
# expect: reject "storing a pointer (fp) into a map value is not allowed"
# kernel: accept
# stricter: the kernel lets privileged programs store pointers into maps (allow_ptr_leaks); visor refuses pointer leaks
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        jeq %r0, 0, out
        stxdw [%r0+0], %r10
out:
        mov %r0, 2
        exit
