# Neighbour of a_stack_below_512: the lowest 8 bytes of the stack.
# type: xdp
# expect: accept
        stdw [%r10-512], 0
        mov %r0, 2
        exit
