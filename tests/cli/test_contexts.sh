#!/bin/bash
# visor test-run on programs whose context is not a packet (raw tracepoint,
# tracepoint, kprobe, tracing, syscall): the context from --ctx / --ctx-hex,
# a syscall program's buffer printed after the run, maps dumped; and the
# refusals (a packet given, repeat, a context shorter than the program
# reads) in one line. Usage: test_contexts.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

tr=$progs/tracing_ctx.bpf.o; sys=$progs/syscall.bpf.o
if [ ! -f "$tr" ] || [ ! -f "$sys" ]; then
	echo "FAIL: $tr or $sys not built"; exit 1
fi
eth14=$(printf '00 %.0s' {1..14})

expect 0 "--ctx-hex HEX" "" -- "$visor" test-run --help
expect 0 "tp_openat" "" -- "$visor" obj info "$tr"

# raw_tp/sys_enter: args[0] = 0x1122334455667788, args[1] = 39 (getpid);
# returns (id & 0xff) + the high half of args[0], counts ids in a map.
args="88 77 66 55 44 33 22 11 27 00 00 00 00 00 00 00"
expect 0 "retval 287454059 (0x1122336b)" "" -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "$args"
expect 0 "retval 287454059 (0x1122336b)" "" -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "$args" --jit
expect 0 "key: 27 00 00 00 00 00 00 00  value: 01 00 00 00 00 00 00 00" "" -- \
	"$visor" test-run "$tr" --prog raw_count --ctx-hex "$args" --dump-maps
expect 1 "" "reads the context up to byte 16, but ctx_in has only 8 bytes" -- \
	"$visor" test-run "$tr" --prog raw_count --ctx-hex "88 77 66 55 44 33 22 11"
expect 1 "" "repeat must be 0 or 1" -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "$args" --repeat 2
expect 1 "" "take no data_in / data_out" -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "$args" --data-hex "$eth14"
expect 1 "" "at most 96" -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "$(printf '01 %.0s' {1..104})"

# tp_btf/sys_enter: the same arguments, run as a tracing program.
expect 0 "retval 39 (0x27)" "" -- "$visor" test-run "$tr" --prog btf_count --ctx-hex "$args" --repeat 3

# tracepoint/syscalls/sys_enter_openat: the record from a file; flags
# O_RDWR|O_CREAT (0102) at offset 32, the return value is O_ACCMODE.
printf '\x34\x12\0\0\0\0\0\0\x01\x01\0\0\0\0\0\0\x9c\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0\x42\0\0\0\0\0\0\0' >"$tmp/openat.rec"
expect 0 "retval 2 (0x2)" "" -- "$visor" test-run "$tr" --prog tp_openat --ctx "$tmp/openat.rec" --repeat 10
expect 0 "key: 01 00 00 00  value: 01 01 00 00 00 00 00 00" "" -- \
	"$visor" test-run "$tr" --prog tp_openat --ctx "$tmp/openat.rec" --dump-maps
head -c 36 "$tmp/openat.rec" >"$tmp/short.rec"
expect 1 "" "reads the context up to byte 40" -- "$visor" test-run "$tr" --prog tp_openat --ctx "$tmp/short.rec"

# kprobe: struct pt_regs, zero-padded; dx (offset 96) is the return value.
regs=$(printf '00 %.0s' {1..96})"55 00 00 00 00 00 00 00"
expect 0 "retval 85 (0x55)" "" -- "$visor" test-run "$tr" --prog kp_openat --ctx-hex "$regs" --jit
expect 0 "retval 0 (0x0)" "" -- "$visor" test-run "$tr" --prog kp_openat --ctx-hex "01"

# syscall: struct calc_args {a, b, op, status, result, calls, tag, out_tag}
# computed in place; the buffer comes back as ctx out.
printf '\x28\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0abcd\0\0\0\0' >"$tmp/calc.bin"
expect 0 "00000010  00 00 00 00 00 00 00 00  2a 00 00 00 00 00 00 00" "" -- \
	"$visor" test-run "$sys" --ctx "$tmp/calc.bin"
expect 0 "abcddcba" "" -- "$visor" test-run "$sys" --ctx "$tmp/calc.bin" --jit
expect 0 "value: 2a 00 00 00 00 00 00 00" "" -- "$visor" test-run "$sys" --ctx "$tmp/calc.bin" --dump-maps
head -c 40 "$tmp/calc.bin" >"$tmp/calc-short.bin"
expect 1 "" "reads the context up to byte 48" -- "$visor" test-run "$sys" --ctx "$tmp/calc-short.bin"

# Packet programs take --ctx too (struct xdp_md: data_end = 14).
expect 0 "retval " "" -- "$visor" test-run "$progs/xdp_parser.bpf.o" --data-hex "$eth14" \
	--ctx-hex "00 00 00 00 0e 00 00 00 $(printf '00 %.0s' {1..16})"

# Option errors.
expect 2 "" "exactly one of --data, --data-hex and --pcap" -- "$visor" test-run "$tr" --prog raw_count
expect 2 "" "at most one of --ctx and --ctx-hex" -- "$visor" test-run "$tr" --ctx-hex 00 --ctx "$tmp/calc.bin"
expect 2 "" "--ctx-hex: " -- "$visor" test-run "$tr" --prog raw_count --ctx-hex "zz"
expect 1 "" "no-such.bin" -- "$visor" test-run "$sys" --ctx "$tmp/no-such.bin"

finish test_contexts
