# Multiplying a pointer.
# type: xdp
# expect: reject "*= on a pointer (ctx) is not allowed: pointers may only"
# kernel: reject "R1 pointer arithmetic with *= operator prohibited"
        mul %r1, 2
        mov %r0, 2
        exit
