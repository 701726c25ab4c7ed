# A store 520 bytes below the frame pointer: past the 512-byte stack.
# type: xdp
# expect: reject "writing 8 bytes at fp-520 is outside the 512-byte stack"
# kernel: reject "invalid write to stack R10 off=-520 size=8"
        stdw [%r10-520], 0
        mov %r0, 2
        exit
