# Socket filters have no direct packet access: __sk_buff.data is forbidden.
# type: socket_filter
# expect: reject "socket filter programs may not access this field: load"
# kernel: reject "invalid bpf_context access off=76 size=4"
        ldxw %r2, [%r1+76]
        mov %r0, 0
        exit
