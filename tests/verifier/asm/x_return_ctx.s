# Returning the context pointer leaks a kernel address.
# type: xdp
# expect: reject "the program returns a pointer (ctx): that would leak an"
# kernel: accept
# stricter: the kernel lets privileged programs return a pointer (allow_ptr_leaks); visor refuses pointer leaks
        mov %r0, %r1
        exit
