#!/bin/bash
# The JIT from the command line: exec --jit (and --harden), the
# conformance plugin with --jit, and visor jit --dump read back by objdump.
# Usage: test_jit.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

if [ "$(uname -m)" != x86_64 ]; then
	echo "SKIP test_jit: the JIT supports x86-64 only"; exit 77
fi

expect 0 "usage: visor jit" "" -- "$visor" jit --help
expect 0 "--harden" "" -- "$visor" exec --help

hdr="45 00 00 1c 00 01 00 00 40 11 8e 99 c0 00 02 01 c6 33 64 02"
# ipv4_checksum.s verifies for the 20 bytes given (exec verifies first).
expect 0 "r0 = 0x0 (0)" "" -- "$visor" exec --jit --mem "$hdr" "$src/examples/ipv4_checksum.s"
expect 0 "r0 = 0x8e99" "" -- "$visor" exec --jit --harden --mem "${hdr/8e 99/00 00}" "$src/examples/ipv4_checksum.s"
expect 0 "ns per run" "" -- "$visor" exec --jit --repeat 100 --mem "$hdr" "$src/examples/ipv4_checksum.s"
# A verified loop over the 16 bytes given, in the JIT without checks.
printf 'mov %%r0, 0\nmov %%r3, 0\nloop:\nmov %%r4, %%r1\nadd %%r4, %%r3\nldxb %%r5, [%%r4+0]\nadd %%r0, %%r5\nadd %%r3, 1\njlt %%r3, 16, loop\nexit\n' >"$tmp/sum16.s"
mem16="00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"
expect 0 "r0 = 0x78 (120)" "" -- "$visor" exec --jit --mem "$mem16" "$tmp/sum16.s"
expect 0 "r0 = 0x78 (120)" "" -- "$visor" exec --jit --harden --mem "$mem16" "$tmp/sum16.s"
expect 2 "" "--harden applies to the JIT" -- "$visor" exec --harden "$src/examples/ipv4_checksum.s"

# Same errors as the interpreter, same instruction (unsafe mode: the
# verifier refuses these programs).
printf 'mov %%r0, 1\nja -1\n' >"$tmp/loop.s"
expect 1 "" "insn 1: instruction budget of 1000 exhausted" -- "$visor" exec --unsafe --jit --budget 1000 "$tmp/loop.s"
printf 'mov %%r1, 16\nldxdw %%r0, [%%r1+0]\nexit\n' >"$tmp/fault.s"
expect 1 "" "insn 1: load of 8 bytes at 0x10 is outside the stack" -- "$visor" exec --unsafe --jit "$tmp/fault.s"
expect 1 "" "refused by the verifier: insn 1" -- "$visor" exec --jit "$tmp/fault.s"

# The conformance plugin protocol with --jit: r0 in hex on stdout.
prog="b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00"
expect 0 "2a" "" -- "$visor" conformance-plugin --jit --program "$prog"
expect 0 "2a" "" -- "$visor" conformance-plugin --jit --harden --program "$prog"
expect 0 "2a" "" -- "$visor" conformance-plugin --program "$prog"

# The dump is raw x86-64 that objdump reads: the prologue pushes, a ret.
expect 0 "entry without a budget" "" -- "$visor" jit --dump "$tmp/code.bin" "$src/examples/ipv4_checksum.s"
if command -v objdump >/dev/null; then
	objdump -D -b binary -mi386:x86-64 "$tmp/code.bin" >"$tmp/dis" 2>&1 &&
		grep -q "push   %r12" "$tmp/dis" && grep -q "ret" "$tmp/dis" && ok ||
		bad "objdump does not show the prologue in the dump"
fi
expect 0 "wrote" "" -- "$visor" jit --part plain --harden --dump "$tmp/p.bin" "$src/examples/ipv4_checksum.s"
[ -s "$tmp/p.bin" ] && [ "$(stat -c %s "$tmp/p.bin")" -lt "$(stat -c %s "$tmp/code.bin")" ] && ok ||
	bad "--part plain should write less than the whole image"
expect 2 "" "--part is all, plain or budget" -- "$visor" jit --part both "$src/examples/ipv4_checksum.s"
expect 1 "" "cannot write" -- "$visor" jit --dump "$tmp/no/such/dir/x.bin" "$src/examples/ipv4_checksum.s"

# --verified: the verifier first (r1 points to --mem-size bytes), then code
# without bounds checks, smaller than the checked code.
expect 0 "entry without a budget" "" -- "$visor" jit --dump "$tmp/c16.bin" "$tmp/sum16.s"
expect 0 "no bounds checks" "" -- "$visor" jit --verified --mem-size 16 --dump "$tmp/v16.bin" "$tmp/sum16.s"
[ -s "$tmp/v16.bin" ] && [ "$(stat -c %s "$tmp/v16.bin")" -lt "$(stat -c %s "$tmp/c16.bin")" ] && ok ||
	bad "--verified code should be smaller than the checked code"
expect 1 "" "refused by the verifier: insn 4 (r5 = *(u8 *)(r4 + 0))" -- "$visor" jit --verified --mem-size 15 "$tmp/sum16.s"
expect 1 "" "refused by the verifier: insn 1" -- "$visor" jit --verified "$tmp/fault.s"
printf 'ldxdw %%r0, [%%r1+16]\nexit\n' >"$tmp/oob.s"
expect 1 "" "outside the memory (20 bytes)" -- "$visor" jit --verified --mem-size 20 "$tmp/oob.s"
expect 0 "no bounds checks" "" -- "$visor" jit --verified --mem-size 24 "$tmp/oob.s"
expect 2 "" "--mem-size applies to --verified" -- "$visor" jit --mem-size 8 "$tmp/oob.s"
expect 2 "" "--mem-size needs a number of bytes" -- "$visor" jit --verified --mem-size x "$tmp/oob.s"

finish test_jit
