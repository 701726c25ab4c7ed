# A spilled pointer with one byte overwritten, filled back and used only as
# a number (masked to 0..3 and returned).
# type: xdp
# expect: reject "fp-7"
# kernel: accept
# stricter: the 7 bytes left of the spilled pointer are pointer bits; visor does not let a program read them back as a number (an address leak), the privileged kernel does
        stxdw [%r10-8], %r1
        stb [%r10-8], 0
        ldxdw %r0, [%r10-8]
        and %r0, 3
        exit
