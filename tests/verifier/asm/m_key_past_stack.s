# An 8-byte key that starts 4 bytes below the frame pointer: half of it lies
# above the stack.
# type: xdp
# map: flows hash key=8 value=8 entries=16
# expect: reject "reading 8 bytes at fp-4 is outside the 512-byte stack"
# kernel: reject "invalid read from stack R2 off=-4 size=8"
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd 0
        call 1
        mov %r0, 2
        exit
