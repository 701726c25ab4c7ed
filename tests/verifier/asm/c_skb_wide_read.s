# An 8-byte read of the 4-byte field __sk_buff.len.
# type: sched_cls
# expect: reject "8-byte access to a 32-bit field of struct __sk_buff"
# kernel: reject "invalid bpf_context access off=0 size=8"
        ldxdw %r0, [%r1+0]
        mov %r0, 0
        exit
