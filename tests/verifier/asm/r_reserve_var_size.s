# bpf_ringbuf_reserve's size must be a constant.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r2 (argument 2 of bpf_ringbuf_reserve) must be a"
# kernel: reject "R2 is not a known constant"
        ldxw %r2, [%r1+12]
        and %r2, 7
        add %r2, 8
        lddw %r1, map_fd 0
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        mov %r1, %r0
        mov %r2, 0
        call 132
out:
        mov %r0, 2
        exit
