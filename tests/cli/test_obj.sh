#!/bin/bash
# Compiled objects from the command line: visor obj info, visor test-run
# (hand-made packets, --jit, --repeat, a pcap capture, --dump-maps) and
# visor map dump; bad inputs give one line and exit 1.
# Usage: test_obj.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

xdp=$progs/xdp_parser.bpf.o
if [ ! -f "$xdp" ]; then
	echo "FAIL: $xdp not built"; exit 1
fi

# Help texts.
expect 0 "usage: visor obj info" "" -- "$visor" obj --help
expect 0 "usage: visor obj info" "" -- "$visor" obj info --help
expect 0 "--pcap FILE" "" -- "$visor" test-run --help
expect 0 "Pinned kernel maps" "" -- "$visor" map dump --help
expect 0 "test-run" "" -- "$visor" --help

# obj info: programs, maps, sections as tables.
expect 0 "xdp_count_protocols  xdp      xdp" "" -- "$visor" obj info "$xdp"
expect 0 "proto_counts  hash    4     16          256" "" -- "$visor" obj info "$xdp"
expect 0 'license  "GPL"' "" -- "$visor" obj info "$xdp"
expect 0 ".rodata.str1.1  array" "" -- "$visor" obj info "$progs/globals.bpf.o"
expect 0 "no: kfunc call to 'bpf_task_acquire'" "" -- "$visor" obj info "$progs/core.bpf.o"
expect 0 "no: program type not supported by the VM yet" "" -- "$visor" obj info "$progs/sections.bpf.o"
expect 0 "tc_mark           tc          sched_cls     29  0         yes" "" -- "$visor" obj info "$progs/tc.bpf.o"

# Hand-made Ethernet + IPv4 UDP packets, 192.0.2.1 -> 198.51.100.7.
eth='\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00'
ip='\x45\x00\x00\x1c\x00\x01\x00\x00\x40\x11\x00\x00\xc0\x00\x02\x01\xc6\x33\x64\x07'
printf "$eth$ip"'\x30\x39\x00\x35\x00\x08\x00\x00' >"$tmp/udp53.bin"
printf "$eth$ip"'\x30\x39\x00\x09\x00\x08\x00\x00' >"$tmp/udp9.bin"
printf "$eth"'\x00\x01\x08\x00\x06\x04\x00\x01\x02\x00\x00\x00\x00\x01\xc0\x00\x02\x01\x00\x00\x00\x00\x00\x00\xc6\x33\x64\x07' \
	| sed 's/\x08\x00\x00\x01\x08/\x08\x06\x00\x01\x08/' >"$tmp/arp.bin"
expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$xdp" --data "$tmp/udp53.bin"
expect 0 "retval 1 (XDP_DROP)" "" -- "$visor" test-run "$xdp" --data "$tmp/udp9.bin"
expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$xdp" --prog xdp_count_protocols --data "$tmp/arp.bin"
expect 0 "00000020  64 07 30 39 00 35 00 08  00 00" "" -- "$visor" test-run "$xdp" --data "$tmp/udp53.bin" --print-data
expect 0 "retval 1 (XDP_DROP)" "" -- "$visor" test-run "$xdp" --data-hex "$(od -An -v -tx1 "$tmp/udp9.bin" | tr -s ' \n' ' ')"
expect 0 "mean of 1000 runs, jit" "" -- "$visor" test-run "$xdp" --data "$tmp/udp9.bin" --jit --repeat 1000
expect 0 "retval 1 (XDP_DROP)" "" -- "$visor" test-run "$xdp" --data "$tmp/udp9.bin" --jit --harden
# Maps after the runs: 5 runs of a 42-byte UDP packet under key 17.
expect 0 "key: 11 00 00 00  value: 05 00 00 00 00 00 00 00 d2 00 00 00 00 00 00 00" "" -- \
	"$visor" test-run "$xdp" --data "$tmp/udp53.bin" --repeat 5 --dump-maps
expect 0 "value (CPU 00): 01 00 00 00 00 00 00 00" "" -- "$visor" test-run "$progs/percpu.bpf.o" --data "$tmp/udp9.bin" --dump-maps

# map dump: initial contents, global data with ASCII.
expect 0 "|visor.|" "" -- "$visor" map dump "$progs/globals.bpf.o" --map .rodata.str1.1
expect 0 "Found 0 elements" "" -- "$visor" map dump "$xdp"
expect 1 "" "no map named 'nope'" -- "$visor" map dump "$xdp" --map nope

# A pcap capture (Ethernet link type) written by hand: 3 UDP/53, 1 UDP/9, 1 runt.
python3 - "$tmp/udp53.bin" "$tmp/udp9.bin" "$tmp/cap.pcap" <<'PY'
import struct, sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
with open(sys.argv[3], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, p in enumerate([a, b, a, a, b'\x00' * 10]):
        f.write(struct.pack('<IIII', 1700000000 + i, 0, len(p), len(p)) + p)
PY
# line_re REGEX: the last command's stdout has a line matching REGEX.
line_re() { grep -qE -- "$1" "$tmp/out" && ok || bad "stdout lacks /$1/: $(head -c 300 "$tmp/out")"; }
expect 0 "5 packets" "" -- "$visor" test-run "$xdp" --pcap "$tmp/cap.pcap"
line_re '^XDP_PASS +3 +60\.0%$'
line_re '^XDP_DROP +1 +20\.0%$'
expect 0 "(jit)" "" -- "$visor" test-run "$xdp" --pcap "$tmp/cap.pcap" --jit
line_re '^XDP_PASS +3 +60\.0%$'
expect 0 "packets per second" "" -- "$visor" test-run "$xdp" --pcap "$tmp/cap.pcap" --repeat 10
expect 0 "runt (< 14 bytes, not run)" "" -- "$visor" test-run "$xdp" --pcap "$tmp/cap.pcap"
expect 1 "" "unknown file format" -- "$visor" test-run "$xdp" --pcap "$tmp/udp9.bin"

# Bad inputs: one line, exit 1.
expect 1 "" "no-such.o: No such file or directory" -- "$visor" test-run "$tmp/no-such.o" --data "$tmp/udp9.bin"
expect 1 "" "no-such.o: No such file or directory" -- "$visor" obj info "$tmp/no-such.o"
head -c 200 "$visor" >"$tmp/junk.o"
expect 1 "" "junk.o: " -- "$visor" obj info "$tmp/junk.o"
expect 1 "" "junk.o: " -- "$visor" test-run "$tmp/junk.o" --data "$tmp/udp9.bin"
expect 1 "" "no program named 'nope'" -- "$visor" test-run "$xdp" --prog nope --data "$tmp/udp9.bin"
expect 1 "" "is not supported by the visor VM yet" -- \
	"$visor" test-run "$progs/tracing_ctx.bpf.o" --prog perf_unsupported --data "$tmp/udp9.bin"
expect 0 "retval 0 (TC_ACT_OK)" "" -- "$visor" test-run "$progs/tc.bpf.o" --prog tc_mark --data "$tmp/udp9.bin"
expect 0 "retval 0 (TC_ACT_OK)" "" -- "$visor" test-run "$progs/tc.bpf.o" --prog tc_mark --data "$tmp/udp9.bin" --jit
expect 0 "retval 0 (drop)" "" -- "$visor" test-run "$progs/socket.bpf.o" --data "$tmp/udp9.bin"
expect 1 "" "choose one with --prog" -- "$visor" test-run "$progs/tc.bpf.o" --data "$tmp/udp9.bin"
expect 1 "" "kfunc call to 'bpf_task_acquire'" -- "$visor" test-run "$progs/core.bpf.o" --prog core_kfunc --data "$tmp/udp9.bin"
expect 1 "" "no-such.bin" -- "$visor" test-run "$xdp" --data "$tmp/no-such.bin"
expect 1 "" "at least an Ethernet header" -- "$visor" test-run "$xdp" --data-hex "00 01 02"
expect 2 "" "exactly one of --data, --data-hex and --pcap" -- "$visor" test-run "$xdp"
expect 2 "" "--harden applies to the JIT" -- "$visor" test-run "$xdp" --data "$tmp/udp9.bin" --harden
expect 2 "" "--repeat needs a number" -- "$visor" test-run "$xdp" --data "$tmp/udp9.bin" --repeat 0

finish test_obj
