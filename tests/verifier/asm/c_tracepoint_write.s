# A tracepoint's record is read-only.
# type: tracepoint
# expect: reject "store (the context is read-only) of the tracepoint"
# kernel: reject "invalid bpf_context access off=8 size=8"
        stdw [%r1+8], 0
        mov %r0, 0
        exit
