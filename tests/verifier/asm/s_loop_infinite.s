# A jump to itself: runs forever.
# type: xdp
# expect: reject "infinite loop: the program comes back to insn 1 in"
# kernel: reject "infinite loop detected"
        mov %r0, 2
        ja -1
