# Atomic operations on the context are refused.
# type: sched_cls
# expect: reject "atomic access of struct __sk_buff"
# kernel: reject "BPF_ATOMIC stores into R1 ctx is not allowed"
        mov %r2, 1
        lock add32 [%r1+8], %r2
        mov %r0, 0
        exit
