# Neighbour of c_socket_read_data: a socket filter reads skb->len.
# type: socket_filter
# expect: accept
        ldxw %r0, [%r1+0]
        exit
