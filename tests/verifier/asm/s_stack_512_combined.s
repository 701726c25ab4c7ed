# Two frames of 256 bytes each: a combined stack of exactly 512 bytes.
# type: xdp
# expect: accept
        stdw [%r10-256], 1
        call local f
        exit
f:
        stdw [%r10-256], 2
        mov %r0, 2
        exit
