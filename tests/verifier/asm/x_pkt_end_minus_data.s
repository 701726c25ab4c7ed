# data_end - data, the packet length: both point into the same packet, the
# difference is a number, not an address. Compiled C does this for every
# "len = data_end - data".
# type: xdp
# expect: accept
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        sub %r3, %r2
        mov %r0, %r3
        and %r0, 3
        exit
