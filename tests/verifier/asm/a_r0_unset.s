# exit with r0 never written.
# type: xdp
# expect: reject "the program exits without setting r0, its return value"
# kernel: reject "R0 !read_ok"
        exit
