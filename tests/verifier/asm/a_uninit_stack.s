# A read of a stack slot never written.
# type: xdp
# expect: reject "reading 8 bytes at fp-8: the byte at fp-8 was never"
# kernel: accept
# stricter: the kernel lets privileged programs (CAP_PERFMON) read uninitialised stack; visor never does
        ldxdw %r2, [%r10-8]
        mov %r0, 2
        exit
