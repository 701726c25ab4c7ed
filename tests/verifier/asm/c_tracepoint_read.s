# Neighbour of c_tracepoint_write: reading the record is fine.
# type: tracepoint
# expect: accept
        ldxdw %r0, [%r1+8]
        mov %r0, 0
        exit
