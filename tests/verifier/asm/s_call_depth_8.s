# Eight frames (main and seven nested calls): the deepest chain allowed.
# type: xdp
# expect: accept
main:
        stdw [%r10-8], 1
        call local f1
        exit
f1:
        stdw [%r10-8], 1
        call local f2
        exit
f2:
        stdw [%r10-8], 1
        call local f3
        exit
f3:
        stdw [%r10-8], 1
        call local f4
        exit
f4:
        stdw [%r10-8], 1
        call local f5
        exit
f5:
        stdw [%r10-8], 1
        call local f6
        exit
f6:
        stdw [%r10-8], 1
        call local f7
        exit
f7:
        stdw [%r10-8], 1
        mov %r0, 2
        exit
