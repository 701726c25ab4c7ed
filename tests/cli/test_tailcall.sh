#!/bin/bash
# visor test-run follows tail calls: the whole object is loaded, its prog
# arrays wired (tests/progs/tailcall.bpf.c: xdp_dispatch -> tail_ipv4 /
# tail_ipv6 by EtherType, tail_recurse 34 times), in the interpreter and
# the JIT; a program the object cannot load is reported in one line.
# Usage: test_tailcall.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

tc=$progs/tailcall.bpf.o
if [ ! -f "$tc" ]; then
	echo "FAIL: $tc not built"; exit 1
fi
hdr="02 00 00 00 00 01 02 00 00 00 00 02"
ipv4="$hdr 08 00 45 00 00 14 00 00 00 00 40 11 00 00 c0 00 02 01 c6 33 64 01"
ipv6="$hdr 86 dd"
arp="$hdr 08 06"

for jit in "" --jit; do
	expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$tc" --prog xdp_dispatch --data-hex "$ipv4" $jit
	expect 0 "retval 1 (XDP_DROP)" "" -- "$visor" test-run "$tc" --prog xdp_dispatch --data-hex "$ipv6" $jit
	expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$tc" --prog xdp_dispatch --data-hex "$arp" $jit
	# 33 tail calls: 34 runs, and the last one returns the count.
	expect 0 "retval 34 (not an action" "" -- "$visor" test-run "$tc" --prog tail_recurse --data-hex "$arp" $jit
	# The prog array as wired by the load: slot 1 holds tail_ipv6's id.
	expect 0 "key: 01 00 00 00  value: " "" -- "$visor" test-run "$tc" --prog xdp_dispatch --data-hex "$ipv6" $jit --dump-maps
done
expect 0 "00 00 00 00 00 00 00 00  22 00 00 00" "" -- "$visor" test-run "$tc" --prog tail_recurse --data-hex "$arp" --dump-maps
expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$tc" --prog xdp_dispatch --data-hex "$ipv4" --repeat 50 --jit --harden

# One program of the object does not load: the others still run.
mixed=$progs/tailcall_mixed.bpf.o
expect 0 "retval 2 (XDP_PASS)" "" -- "$visor" test-run "$mixed" --prog mixed_xdp --data-hex "$arp"
expect 1 "" "prog array 'mixed_table' belongs to xdp programs" -- "$visor" test-run "$mixed" --prog mixed_tc --data-hex "$ipv4"

finish test_tailcall
