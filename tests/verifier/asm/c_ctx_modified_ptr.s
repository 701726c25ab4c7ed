# Context accesses must use the context pointer at a constant offset from
# r1 itself: a moved copy (r1 + 12) is refused for the access.
# type: xdp
# expect: reject "r1 is the context moved by 12 bytes: access its fields"
# kernel: reject "dereference of modified ctx ptr R1 off=12 disallowed"
        add %r1, 12
        ldxw %r0, [%r1+0]
        exit
