# n! by recursion through bpf-to-bpf calls: each call gets its own 512-byte
# frame, and the engine allows 8 frames, as the kernel does. r1 = n (<= 7).
# The verifier refuses recursion (as the kernel's does): run it unverified,
# with run-time checks, by `visor exec --unsafe`.
	call local fact
	exit
fact:
	stxdw [%r10-8], %r1   # keep n in this frame's stack
	mov %r0, 1
	jle %r1, 1, out
	sub %r1, 1
	call local fact       # r0 = (n-1)!
	ldxdw %r1, [%r10-8]
	mul %r0, %r1
out:
	exit
