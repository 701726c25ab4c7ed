# Neighbour of s_unreachable: code reached only by a branch the checker can prove
# never taken is still reachable in the control-flow graph, hence fine.
# type: xdp
# expect: accept
        mov %r0, 2
        mov %r1, 1
        jeq %r1, 0, +1
        exit
        mov %r0, 1
        exit
