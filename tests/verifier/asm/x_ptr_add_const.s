# Neighbour of the pointer-arithmetic rejections: pointer + constant.
# type: xdp
# expect: accept
        mov %r2, %r10
        add %r2, -16
        stdw [%r2+0], 1
        mov %r0, 2
        exit
