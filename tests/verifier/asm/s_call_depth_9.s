# Nine frames (main and eight nested calls): one frame too deep.
# type: xdp
# expect: reject "the call chain reaching the function at insn 24 is 9"
# kernel: reject "the call stack of 9 frames is too deep"
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
        call local f8
        exit
f8:
        stdw [%r10-8], 1
        mov %r0, 2
        exit
