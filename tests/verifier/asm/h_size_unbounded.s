# bpf_ringbuf_output's size is any 32-bit number: not provably within the
# 16-byte stack buffer.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r3, the size argument of bpf_ringbuf_output, is not"
# kernel: reject "R3 unbounded memory access"
        ldxw %r3, [%r1+12]
        stdw [%r10-16], 0
        stdw [%r10-8], 0
        lddw %r1, map_fd 0
        mov %r2, %r10
        add %r2, -16
        mov %r4, 0
        call 130
        mov %r0, 2
        exit
