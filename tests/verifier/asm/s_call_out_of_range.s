# A local call whose target lies past the end of the program.
# type: xdp
# expect: reject "the call's target 12 is outside the program (3"
# kernel: reject "call to invalid destination"
        mov %r0, 2
        call local +10
        exit
