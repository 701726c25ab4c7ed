# Neighbour of s_fall_through: ending on a backward-free unconditional jump to an exit.
# type: xdp
# expect: accept
        ja +1
        exit
        mov %r0, 2
        ja -3
