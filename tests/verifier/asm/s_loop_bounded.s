# Neighbour of s_loop_budget: the same loop with a bound of 100.
# type: xdp
# expect: accept
        mov %r0, 2
        mov %r1, 0
loop:
        add %r1, 1
        jlt %r1, 100, loop
        exit
