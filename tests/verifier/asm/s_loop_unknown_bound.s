# A loop whose exit depends only on a value it never changes: if the
# ingress ifindex is not 5 it spins forever.
# type: xdp
# expect: reject "infinite loop: the program comes back to insn 2 in"
# kernel: reject "infinite loop detected"
        ldxw %r2, [%r1+12]
        mov %r0, 2
loop:
        add %r0, 0
        jne %r2, 5, loop
        exit
