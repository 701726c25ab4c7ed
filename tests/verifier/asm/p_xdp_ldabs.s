# ... and not for XDP programs.
# type: xdp
# expect: reject "legacy packet loads (LD_ABS / LD_IND) are for socket"
# kernel: reject "BPF_LD_[ABS|IND] instructions not allowed for this program type"
        mov %r6, %r1
        ldabsb 12
        exit
