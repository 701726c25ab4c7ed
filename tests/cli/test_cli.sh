#!/bin/bash
# Drives build/visor the way a user would: help texts, exit codes, one-line
# errors, and the bpf_conformance plugin protocol.
# Usage: test_cli.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

expect 0 "usage: visor" "" -- "$visor" --help
expect 2 "" "unknown command 'frobnicate'" -- "$visor" frobnicate
for cmd in asm disasm exec conformance-plugin; do
	expect 0 "usage: visor $cmd" "" -- "$visor" "$cmd" --help
done

# Assemble, disassemble, re-assemble: same bytes.
expect 0 "" "" -- "$visor" asm -o "$tmp/csum.bin" "$src/examples/ipv4_checksum.s"
"$visor" disasm "$tmp/csum.bin" >"$tmp/csum.s" && "$visor" asm -o "$tmp/csum2.bin" "$tmp/csum.s" &&
	cmp -s "$tmp/csum.bin" "$tmp/csum2.bin" && ok || bad "disasm | asm round trip of ipv4_checksum"
expect 0 "if r3 == 0x0 goto" "" -- "$visor" disasm --syntax=kernel "$tmp/csum.bin"

hdr="45 00 00 1c 00 01 00 00 40 11 8e 99 c0 00 02 01 c6 33 64 02"
# ipv4_checksum.s verifies for the 20 bytes given (exec verifies first).
expect 0 "r0 = 0x0 (0)" "" -- "$visor" exec --mem "$hdr" "$tmp/csum.bin"
expect 0 "r0 = 0x8e99" "" -- "$visor" exec --mem "${hdr/8e 99/00 00}" "$src/examples/ipv4_checksum.s"
expect 0 "ns per run" "" -- "$visor" exec --repeat 100 --mem "$hdr" "$tmp/csum.bin"
# A loop over the 16 bytes given, verified: their sum.
printf 'mov %%r0, 0\nmov %%r3, 0\nloop:\nmov %%r4, %%r1\nadd %%r4, %%r3\nldxb %%r5, [%%r4+0]\nadd %%r0, %%r5\nadd %%r3, 1\njlt %%r3, 16, loop\nexit\n' >"$tmp/sum16.s"
expect 0 "r0 = 0x78 (120)" "" -- "$visor" exec --mem "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f" "$tmp/sum16.s"
expect 1 "" "refused by the verifier: insn 4 (r5 = *(u8 *)(r4 + 0))" -- "$visor" exec --mem "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e" "$tmp/sum16.s"
printf 'mov %%r1, 5\n' | cat - "$src/examples/factorial.s" >"$tmp/fact.s"
# Recursion: the verifier refuses it, --unsafe runs it with run-time checks.
expect 1 "" "refused by the verifier: insn 7 (call pc-5): recursive call" -- "$visor" exec "$tmp/fact.s"
expect 0 "r0 = 0x78 (120)" "" -- "$visor" exec --unsafe "$tmp/fact.s"

# Errors: one line, naming the cause.
expect 1 "" "no-such-file: No such file or directory" -- "$visor" exec "$tmp/no-such-file"
printf 'mov %%r0, 1\nadd %%r0, %%r12x\nexit\n' >"$tmp/bad.s"
expect 1 "" "line 2, column" -- "$visor" exec "$tmp/bad.s"
expect 1 "" "line 2, column" -- "$visor" asm -o "$tmp/x.bin" "$tmp/bad.s"
expect 2 "" "bad hex byte" -- "$visor" exec --mem "zz" "$tmp/fact.s"
# Unsafe programs: the verifier refuses them (the memory's size is that of
# --mem); with --unsafe the run-time checks stop them.
printf 'ldxdw %%r0, [%%r1+16]\nexit\n' >"$tmp/oob.s"
expect 1 "" "refused by the verifier: insn 0 (r0 = *(u64 *)(r1 + 16)): reading 8 bytes at offset 16 is outside the memory (4 bytes)" -- "$visor" exec --mem "00 01 02 03" "$tmp/oob.s"
expect 0 "r0 = 0x1716151413121110" "" -- "$visor" exec --mem "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17" "$tmp/oob.s"
expect 1 "" "insn 0: load of 8 bytes" -- "$visor" exec --unsafe --mem "00 01 02 03" "$tmp/oob.s"
printf 'loop:\nja loop\n' >"$tmp/loop.s"
expect 1 "" "refused by the verifier: insn 0 (goto -1): infinite loop" -- "$visor" exec "$tmp/loop.s"
expect 1 "" "instruction budget of 1000 exhausted" -- "$visor" exec --unsafe --budget 1000 "$tmp/loop.s"
printf 'mov %%r10, 0\nexit\n' >"$tmp/r10.s"
expect 1 "" "r10 is the read-only frame pointer" -- "$visor" exec "$tmp/r10.s"
printf 'abc' >"$tmp/odd.bin"; printf '\x00\x01\x02' >>"$tmp/odd.bin"
expect 1 "" "multiple of 8" -- "$visor" exec "$tmp/odd.bin"
expect 2 "" "--repeat needs a positive number" -- "$visor" exec --repeat 0 "$tmp/fact.s"
expect 0 "--unsafe" "" -- "$visor" exec --help
expect 0 "unsafe mode" "" -- "$visor" conformance-plugin --help

# The bpf_conformance plugin protocol.
prog="b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00"
echo "$prog" | "$visor" conformance-plugin >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && [ "$(cat "$tmp/out")" = "2a" ] && ok || bad "plugin stdin: $(cat "$tmp/out" "$tmp/err")"
# r1 = memory, r2 = its length: ldxb r0, [r1+1]; add r0, r2; exit
expect 0 "14" "" -- "$visor" conformance-plugin "00 11 22" --program "71 10 01 00 00 00 00 00 0f 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00"
expect 0 "0" "" -- "$visor" conformance-plugin --program "bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00"
# unwind(0) ends the program with r0 = 0 before "mov r0, 7".
expect 0 "0" "" -- "$visor" conformance-plugin --program "b7 01 00 00 00 00 00 00 85 00 00 00 05 00 00 00 b7 00 00 00 07 00 00 00 95 00 00 00 00 00 00 00"
expect 1 "" "not a non-zero multiple of 8" -- "$visor" conformance-plugin --program "b7 00 00"
expect 1 "" "illegal instruction" -- "$visor" conformance-plugin --program "ff 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00"
expect 1 "" "no program on stdin" -- "$visor" conformance-plugin

finish test_cli
