# Helper 100000 does not exist.
# type: xdp
# expect: reject "XDP programs may not call an unknown helper (helper"
# kernel: reject "invalid func unknown#100000"
        call 100000
        mov %r0, 2
        exit
