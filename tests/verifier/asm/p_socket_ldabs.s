# Legacy packet loads (ldabs) are for socket filters...
# type: socket_filter
# expect: accept
        mov %r6, %r1
        ldabsb 12
        exit
