# A constant size of 17 for a 16-byte buffer.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "reading 17 bytes at fp-16 is outside the 512-byte stack"
# kernel: reject "invalid read from stack R2 off=-16 size=17"
        stdw [%r10-16], 0
        stdw [%r10-8], 0
        lddw %r1, map_fd 0
        mov %r2, %r10
        add %r2, -16
        mov %r3, 17
        mov %r4, 0
        call 130
        mov %r0, 2
        exit
