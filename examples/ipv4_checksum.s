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
fold:                     # two folds of the carries leave 16 bits (the sum of
	mov %r4, %r0          # fewer than 65536 words is below 2^32); a fixed count,
	rsh %r4, 16           # not a loop until no carry is left, lets the verifier
	and %r0, 0xffff       # see that the program ends
	add %r0, %r4
	mov %r4, %r0
	rsh %r4, 16
	and %r0, 0xffff
	add %r0, %r4
	xor %r0, 0xffff
	exit
