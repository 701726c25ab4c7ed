# Frames of 256 and 288 bytes: each fits, together they exceed 512 bytes.
# type: xdp
# expect: reject "the combined stack of the call chain main (256 bytes) ->"
# kernel: reject "combined stack size of 2 calls is 544. Too large"
        stdw [%r10-256], 1
        call local f
        exit
f:
        stdw [%r10-288], 2
        mov %r0, 2
        exit
