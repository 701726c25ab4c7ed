# __sk_buff.len is read-only for tc programs.
# type: sched_cls
# expect: reject "store (tc programs may write only mark, priority"
# kernel: reject "invalid bpf_context access off=0 size=4"
        stw [%r1+0], 0
        mov %r0, 0
        exit
