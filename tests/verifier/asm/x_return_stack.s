# Returning a stack pointer leaks an address.
# type: socket_filter
# expect: reject "the program returns a pointer (fp+0): that would leak an"
# kernel: accept
# stricter: the kernel lets privileged programs return a pointer (allow_ptr_leaks); visor refuses pointer leaks
        mov %r0, %r10
        exit
