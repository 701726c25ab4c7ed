# r11 does not exist: the encoding has room for it, the machine does not.
# type: xdp
# expect: reject "invalid destination register r11"
# kernel: reject "R11 is invalid"
        mov %r11, 1
        mov %r0, 2
        exit
