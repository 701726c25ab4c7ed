# Neighbour of c_socket_write_mark: cb[0] is the socket filter's scratch space.
# type: socket_filter
# expect: accept
        stw [%r1+48], 1
        ldxw %r0, [%r1+48]
        exit
