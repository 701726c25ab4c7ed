# The key is 8 bytes, only 4 of them are initialised on the stack.
# type: xdp
# map: flows hash key=8 value=8 entries=16
# expect: reject "r2 (the key of bpf_map_lookup_elem, 8 bytes of map"
# kernel: accept
# stricter: the kernel lets privileged programs pass uninitialised stack as a key; visor never does
        stw [%r10-8], 0
        mov %r2, %r10
        add %r2, -8
        lddw %r1, map_fd 0
        call 1
        mov %r0, 2
        exit
