# bpf_ringbuf_reserve may fail: the record is written without a NULL check.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "r0 may be NULL here: check the result of"
# kernel: reject "R0 invalid mem access 'ringbuf_mem_or_null'"
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        stdw [%r0+0], 1
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r0, 2
        exit
