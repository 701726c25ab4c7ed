# The smallest valid program: r0 set, then exit.
# type: xdp
# expect: accept
        mov %r0, 2
        exit
