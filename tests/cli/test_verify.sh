#!/bin/bash
# The verifier from the command line: visor verify on objects and single
# programs (verdicts, reasons with source lines, --log, --prog, --type,
# --ctx-size, bad arguments, exit codes), and what it changes elsewhere:
# exec refuses what it refuses unless --unsafe, test-run the same, obj info
# shows each program's verdict.
# Usage: test_verify.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

xdp=$progs/xdp_parser.bpf.o
adjust=$progs/xdp_adjust.bpf.o
fmt=$progs/snprintf_refused.bpf.o
for o in "$xdp" "$adjust" "$fmt"; do
	if [ ! -f "$o" ]; then echo "FAIL: $o not built"; exit 1; fi
done

# refused OUT_SUBSTRING -- command...: a verdict of refusal: exit 1, the
# reason on stdout (with the verdicts of the others), nothing on stderr.
refused() {
	local want_out=$1; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local st=$?
	if [ "$st" != 1 ]; then bad "$* -> status $st, want 1 ($(head -c 300 "$tmp/err"))"; return; fi
	if ! grep -qF -- "$want_out" "$tmp/out"; then bad "$* -> stdout lacks '$want_out': $(head -c 300 "$tmp/out")"; return; fi
	if [ -s "$tmp/err" ]; then bad "$* -> a verdict, not an error: $(head -c 300 "$tmp/err")"; return; fi
	ok
}

expect 0 "usage: visor verify" "" -- "$visor" verify --help

# An object the verifier accepts: exit 0, one verdict per program.
expect 0 "xdp_count_protocols: accepted" "" -- "$visor" verify "$xdp"
expect 0 "processed" "" -- "$visor" verify --stats "$xdp"

# A refused one: exit 1, the instruction, the reason and the source line.
refused "xdp_snprintf_refused: REFUSED" -- "$visor" verify "$fmt"
refused "insn 13 (call 165): invalid format string for bpf_snprintf" -- "$visor" verify "$fmt"
refused "[snprintf_refused.bpf.c:24: ret[0] = bpf_snprintf(" -- "$visor" verify "$fmt"

# --log: the failing path, instruction by instruction, then the error.
"$visor" verify --log "$fmt" >"$tmp/log" 2>&1
[ $? = 1 ] && grep -q '^12: w5 = 8' "$tmp/log" && grep -q '^13: call 165' "$tmp/log" &&
	grep -q '^error: insn 13 (call 165)' "$tmp/log" && grep -q 'r3=map_value(.rodata' "$tmp/log" &&
	ok || bad "verify --log lacks the failing path: $(tail -5 "$tmp/log")"
"$visor" verify --log-level 1 "$fmt" >"$tmp/log1" 2>&1
[ $? = 1 ] && grep -q '^13: call 165' "$tmp/log1" && ! grep -q 'r3=map_value' "$tmp/log1" &&
	ok || bad "verify --log-level 1 should list instructions without states: $(tail -3 "$tmp/log1")"

# --prog picks one program: the accepted ones of xdp_adjust pass alone.
refused "xdp_stale_pointer: REFUSED" -- "$visor" verify --prog xdp_stale_pointer "$adjust"
refused "[xdp_adjust.bpf.c:199: return *first;]" -- "$visor" verify --prog xdp_stale_pointer "$adjust"
"$visor" verify "$adjust" >"$tmp/all" 2>&1
[ $? = 1 ] && [ "$(grep -c ': accepted' "$tmp/all")" -ge 1 ] && ok ||
	bad "verify of xdp_adjust: $(head -3 "$tmp/all")"
good=$(grep ': accepted' "$tmp/all" | head -1 | cut -d: -f1)
expect 0 "$good: accepted" "" -- "$visor" verify --prog "$good" "$adjust"
expect 1 "" "has no program named 'nope'" -- "$visor" verify --prog nope "$xdp"

# --type: the XDP program verified as tc reads its context wrongly.
refused "REFUSED" -- "$visor" verify --type tc "$xdp"
expect 0 "accepted" "" -- "$visor" verify --type xdp "$xdp"

# Single programs: assembly, untyped, r1 pointing to --ctx-size bytes.
printf 'ldxdw %%r0, [%%r1+8]\nexit\n' >"$tmp/ld.s"
refused "outside the memory (8 bytes)" -- "$visor" verify --ctx-size 8 "$tmp/ld.s"
expect 0 "accepted" "" -- "$visor" verify --ctx-size 16 "$tmp/ld.s"
printf 'mov %%r0, 0\nmov %%r3, 0\nloop:\nmov %%r4, %%r1\nadd %%r4, %%r3\nldxb %%r5, [%%r4+0]\nadd %%r0, %%r5\nadd %%r3, 1\njlt %%r3, 16, loop\nexit\n' >"$tmp/sum16.s"
expect 0 "accepted" "" -- "$visor" verify --ctx-size 16 "$tmp/sum16.s"
refused "reading 1 bytes at offset 15 is outside the memory (15 bytes)" -- "$visor" verify --ctx-size 15 "$tmp/sum16.s"

# Bad arguments: usage errors exit 2, unreadable input exits 1.
expect 2 "" "unknown program type 'foo'" -- "$visor" verify --type foo "$xdp"
expect 2 "" "--ctx-size" -- "$visor" verify --ctx-size lots "$tmp/ld.s"
expect 2 "" "" -- "$visor" verify
expect 1 "" "no-such.o: No such file or directory" -- "$visor" verify "$tmp/no-such.o"

# exec verifies first (the memory's size is that of --mem): refused, exit 1
# with the reason; --unsafe runs it with run-time checks.
expect 1 "" "refused by the verifier: insn 0 (r0 = *(u64 *)(r1 + 8)): reading 8 bytes at offset 8 is outside the memory (4 bytes)" -- "$visor" exec --mem "01 02 03 04" "$tmp/ld.s"
expect 1 "" "insn 0: load of 8 bytes" -- "$visor" exec --unsafe --mem "01 02 03 04" "$tmp/ld.s"
expect 0 "r0 = 0x100f0e0d0c0b0a09" "" -- "$visor" exec --mem "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10" "$tmp/ld.s"

# test-run: a refused program does not run (the verifier's reason and source
# line, exit 1); --unsafe loads it and the run-time check stops the run.
pkt="02 00 00 00 00 01 02 00 00 00 00 02 08 00 45 00 00 1c 00 01 00 00 40 11 00 00 c0 00 02 01 c6 33 64 07 30 39 00 35 00 08 00 00"
expect 0 "--unsafe" "" -- "$visor" test-run --help
expect 1 "" "prog 'xdp_stale_pointer' refused by the verifier: insn 12" -- "$visor" test-run "$adjust" --prog xdp_stale_pointer --data-hex "$pkt"
expect 1 "" "[xdp_adjust.bpf.c:199: return *first;]" -- "$visor" test-run "$adjust" --prog xdp_stale_pointer --data-hex "$pkt"
expect 1 "" "insn 12: load of 1 bytes" -- "$visor" test-run --unsafe "$adjust" --prog xdp_stale_pointer --data-hex "$pkt"
expect 1 "" "refused by the verifier: insn 13 (call 165): invalid format string" -- "$visor" test-run "$fmt" --data-hex "$pkt"
expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run --unsafe "$fmt" --data-hex "$pkt"
expect 0 "retval" "" -- "$visor" test-run "$xdp" --data-hex "$pkt"

# obj info: a VERIFIER column with each program's verdict.
expect 0 "VERIFIER" "" -- "$visor" obj info "$xdp"
expect 0 "accepted (" "" -- "$visor" obj info "$xdp"
expect 0 "insns processed)" "" -- "$visor" obj info "$xdp"
expect 0 "refused: insn 13 (call 165): invalid format string for bpf_snprintf" "" -- "$visor" obj info "$fmt"
"$visor" obj info "$adjust" >"$tmp/info" 2>&1
grep 'xdp_stale_pointer' "$tmp/info" | grep -q 'refused: insn 12' &&
	grep "^$good " "$tmp/info" | grep -q 'accepted (' && ok ||
	bad "obj info of xdp_adjust: $(grep -E "xdp_stale_pointer|^$good " "$tmp/info")"
expect 0 "verifier's" "" -- "$visor" obj info --help

finish test_verify
