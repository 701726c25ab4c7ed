# The record is submitted on one path and forgotten on the other.
# type: xdp
# map: events ringbuf key=0 value=0 entries=4096
# expect: reject "is neither submitted nor discarded"
# kernel: reject "BPF_EXIT instruction in main prog would lead to reference leak"
        ldxw %r6, [%r1+12]
        lddw %r1, map_fd 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        jeq %r6, 1, out
        mov %r1, %r0
        mov %r2, 0
        call 132
out:
        mov %r0, 2
        exit
