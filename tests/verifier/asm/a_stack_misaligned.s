# An 8-byte store at r10-7: within the stack, not aligned to its size.
# type: xdp
# expect: reject "misaligned stack access: 8 bytes at fp-7 (stack accesses"
# kernel: reject "misaligned stack access off 0+0+-7 size 8"
        stdw [%r10-7], 0
        mov %r0, 2
        exit
