# bpf_ringbuf_output reads 16 bytes of stack that were never written.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r2 (argument 2 of bpf_ringbuf_output) (fp-16, 16 bytes)"
# kernel: accept
# stricter: the kernel lets privileged programs pass uninitialised stack to helpers; visor never does
        lddw %r1, map_fd 0
        mov %r2, %r10
        add %r2, -16
        mov %r3, 16
        mov %r4, 0
        call 130
        mov %r0, 2
        exit
