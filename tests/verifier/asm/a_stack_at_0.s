# A store at the frame pointer itself: the stack lies below it.
# type: xdp
# expect: reject "writing 8 bytes at fp+0 is outside the 512-byte stack"
# kernel: reject "invalid write to stack R10 off=0 size=8"
        stdw [%r10+0], 0
        mov %r0, 2
        exit
