# Internet checksum (RFC 1071) of the buffer at r1, r2 bytes long: the sum of
# its big-endian 16-bit words in ones' complement, complemented. Run over an
# IPv4 header whose checksum field is correct, it returns 0.
	mov %r0, 0            # running sum
	mov %r3, %r2
	rsh %r3, 1            # number of whole 16-bit words
loop:
	jeq %r3, 0, tail
	ldxh %r4, [%r1+0]
	be16 %r4              # words are big-endian on the wire
	add %r0, %r4
	add %r1, 2
	sub %r3, 1
	ja loop
tail:
	jset %r2, 1, odd
	ja fold
odd:
	ldxb %r4, [%r1+0]     # a trailing byte is the high half of a word
	lsh %r4, 8
	add %r0, %r4
fold:
	mov %r4, %r0
	rsh %r4, 16
	jeq %r4, 0, done
	and %r0, 0xffff
	add %r0, %r4
	ja fold
done:
	xor %r0, 0xffff
	exit
