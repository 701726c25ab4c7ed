# An 8-byte store at r10-4 runs 4 bytes past the top of the stack.
# type: xdp
# expect: reject "misaligned stack access: 8 bytes at fp-4 (stack accesses"
# kernel: reject "misaligned stack access off 0+0+-4 size 8"
        stw [%r10-4], 0
        stdw [%r10-4], 0
        mov %r0, 2
        exit
