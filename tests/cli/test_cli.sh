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
expect 0 "r0 = 0x0 (0)" "" -- "$visor" exec --mem "$hdr" "$tmp/csum.bin"
expect 0 "r0 = 0x8e99" "" -- "$visor" exec --mem "${hdr/8e 99/00 00}" "$src/examples/ipv4_checksum.s"
expect 0 "ns per run" "" -- "$visor" exec --repeat 100 --mem "$hdr" "$tmp/csum.bin"
printf 'mov %%r1, 5\n' | cat - "$src/examples/factorial.s" >"$tmp/fact.s"
expect 0 "r0 = 0x78 (120)" "" -- "$visor" exec "$tmp/fact.s"

# Errors: one line, naming the cause.
expect 1 "" "no-such-file: No such file or directory" -- "$visor" exec "$tmp/no-such-file"
printf 'mov %%r0, 1\nadd %%r0, %%r12x\nexit\n' >"$tmp/bad.s"
expect 1 "" "line 2, column" -- "$visor" exec "$tmp/bad.s"
expect 1 "" "line 2, column" -- "$visor" asm -o "$tmp/x.bin" "$tmp/bad.s"
expect 2 "" "bad hex byte" -- "$visor" exec --mem "zz" "$tmp/fact.s"
printf 'ldxdw %%r0, [%%r1+16]\nexit\n' >"$tmp/oob.s"
expect 1 "" "insn 0: load of 8 bytes" -- "$visor" exec --mem "00 01 02 03" "$tmp/oob.s"
printf 'loop:\nja loop\n' >"$tmp/loop.s"
expect 1 "" "instruction budget of 1000 exhausted" -- "$visor" exec --budget 1000 "$tmp/loop.s"
printf 'mov %%r10, 0\nexit\n' >"$tmp/r10.s"
expect 1 "" "r10 is the read-only frame pointer" -- "$visor" exec "$tmp/r10.s"
printf 'abc' >"$tmp/odd.bin"; printf '\x00\x01\x02' >>"$tmp/odd.bin"
expect 1 "" "multiple of 8" -- "$visor" exec "$tmp/odd.bin"
expect 2 "" "--repeat needs a positive number" -- "$visor" exec --repeat 0 "$tmp/fact.s"

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
