#!/bin/bash
# visor run, prog list, map list, map dump ID on the kernel: a tracepoint
# object (tests/progs/kernel_out_printk.bpf.o, bpf_printk on every
# getppid(), which every bash start calls) run for --duration 1 prints the
# trace line, the maps through BTF and a log2 histogram; while one runs in
# the background its program and maps are listed and dumped by id; SIGINT
# stops it cleanly and leaves nothing loaded; the errors (missing file,
# unknown program, not root via setpriv) are one line with a non-zero exit.
# --backend vm (no root needed, checked first): an XDP object
# (tests/progs/kernel_equiv_xdp.bpf.o) run over a capture written here
# prints the return-code table and the maps in the kernel backend's format
# (BTF-formatted elements, the log2 histogram); its usage errors.
# The kernel part needs root and bpf(); otherwise one SKIP line (exit 77).
# Usage: test_run.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
obj=$progs/kernel_out_printk.bpf.o
tmp=$(mktemp -d)
bg=
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP test_run: $*"; exit 77; }

# ---- --backend vm ---------------------------------------------------------
eq=$progs/kernel_equiv_xdp.bpf.o
[ -f "$eq" ] || skip "$eq is not built (target visor_test_progs)"
# bytes HEX...: the bytes, on stdout.
bytes() { printf "$(echo "$*" | tr -d ' \n' | sed 's/../\\x&/g')"; }
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
# record HEX: one pcap record of that frame.
record() { local h; h=$(echo "$*" | tr -d ' '); bytes "00000000 00000000 $(le32 $((${#h} / 2))) $(le32 $((${#h} / 2))) $h"; }
eth="020000000001 020000000002"
ip4() { # proto, then the IPv4 header + 26 zero bytes of payload
	echo "0800 4500 002e 0000 0000 40 $1 0000 c0000202 c0000201 $(printf '0%.0s' $(seq 52))"; }
pcap=$tmp/in.pcap
{
	bytes "d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000" # Ethernet, LE
	record "$eth $(ip4 11)"                                   # UDP: dropped
	record "$eth $(ip4 11)"
	record "$eth $(ip4 06)"                                   # TCP
	record "$eth 88b5 $(printf '00%.0s' $(seq 150))"          # 164 bytes
	record "020000000001 02000000aaaa 0800 $(printf '00%.0s' $(seq 46))" # not counted
	record "0000000000000000"                                 # runt
} >"$pcap"
expect 0 "$pcap: 6 packets" "" -- "$visor" run "$eq" --backend vm --pcap "$pcap"
vm=$tmp/vm.out; cp "$tmp/out" "$vm"
grep -Eq '^XDP_DROP +2 +33\.3%$' "$vm" && ok || bad "no XDP_DROP row: $(cat "$vm")"
grep -Eq '^XDP_PASS +3 +50\.0%$' "$vm" && ok || bad "no XDP_PASS row: $(cat "$vm")"
grep -Eq '^runt \(< 14 bytes, not run\) +1 ' "$vm" && ok || bad "no runt row"
grep -q '^map by_ethertype: hash, key 4, value 8, max_entries 64, btf$' "$vm" && ok || bad "no by_ethertype header"
grep -q '^  (__u32)2048 -> (__u64)3$' "$vm" && ok || bad "IPv4 not counted 3 times: $(grep -A4 by_ethertype "$vm")"
grep -q '^  (__u32)34997 -> (__u64)1$' "$vm" && ok || bad "0x88b5 not counted once"
sed -n '/^map by_ethertype/,/^Found/p' "$vm" | grep -q '^Found 2 elements$' && ok || bad "by_ethertype: not 2 elements"
grep -q '^  (__u32)17 -> (__u64)2$' "$vm" && ok || bad "UDP not counted twice in by_ipproto"
grep -q '^map len_hist: array, log2 histogram$' "$vm" && ok || bad "len_hist not a histogram"
grep -Eq '^        32 -> 63         : 3        \|\*{40}\|$' "$vm" && ok || bad "no 32..63 bar: $(grep -A10 len_hist "$vm")"
grep -Eq '^       128 -> 255        : 1        \|\*{13} {27}\|$' "$vm" && ok || bad "no 128..255 bar"
expect 2 "" "needs --pcap" -- "$visor" run "$eq" --backend vm
# A source whose program the verifier refuses: the message names the source
# (not the compiled object in the cache) and its line.
printf 'BPF_HASH(h);\nint f(struct __sk_buff *skb) { u64 k = 0; u64 *v = h.lookup(&k); return *v; }\n' >"$tmp/vmbad.c"
export VISOR_CACHE_DIR=$tmp/cache
"$visor" compile "$tmp/vmbad.c" -o "$tmp/vmbad.o" 2>/dev/null # the header once, quietly
expect 1 "" "visor: $tmp/vmbad.c: prog 'f' refused by the verifier: insn 7 (r0 = *(u64 *)(r0 + 0)): r0 may be NULL here" -- "$visor" run "$tmp/vmbad.c" --backend vm --pcap "$pcap"
expect 2 "" "--pcap is input for --backend vm" -- "$visor" run "$eq" --pcap "$pcap"
expect 2 "" "unknown backend" -- "$visor" run "$eq" --backend qemu
expect 1 "" "no program named 'nope'" -- "$visor" run "$eq" --backend vm --pcap "$pcap" --prog nope
expect 1 "" "$tmp/nope.pcap" -- "$visor" run "$eq" --backend vm --pcap "$tmp/nope.pcap"
expect 1 "" "not a packet program" -- "$visor" run "$obj" --backend vm --pcap "$pcap"

# ---- --backend kernel -----------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root (loading programs into the kernel)"
[ -f "$obj" ] || skip "$obj is not built (target visor_test_progs)"

# Starts `visor run` in the background into $tmp/bg.out/.err; waits until
# it says it is running (or 10 s).
start_bg() {
	"$visor" run "$@" >"$tmp/bg.out" 2>"$tmp/bg.err" </dev/null &
	bg=$!
	for _ in $(seq 100); do
		grep -q "running" "$tmp/bg.err" 2>/dev/null && return 0
		kill -0 "$bg" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
# Starts new bash processes (each calls getppid) until the trace line of
# one of them shows in $tmp/bg.out, for at most 5 s.
poke_until_traced() {
	for _ in $(seq 50); do
		bash -c : ; grep -q "bpf_trace_printk: visor-test" "$tmp/bg.out" && return 0
		sleep 0.1
	done
	return 1
}

# visor run --duration 1: trace lines while it runs, the maps afterwards.
if ! start_bg "$obj" --duration 1; then
	if grep -q "needs root\|not permitted" "$tmp/bg.err"; then skip "$(head -1 "$tmp/bg.err")"; fi
	bad "visor run did not start: $(head -3 "$tmp/bg.err")"
fi
poke_until_traced
wait "$bg"; st=$?; bg=
out=$tmp/bg.out
[ "$st" = 0 ] && ok || bad "run --duration 1 -> status $st: $(head -3 "$tmp/bg.err")"
grep -q "visor: attached tracepoint syscalls/sys_enter_getppid" "$tmp/bg.err" && ok ||
	bad "no 'attached' note: $(head -3 "$tmp/bg.err")"
# BCC's trace_print shape: "comm-pid [cpu] flags ts: bpf_trace_printk: text".
grep -Eq '^ *[^ ].*-[0-9]+ +\[[0-9]+\] .*: bpf_trace_printk: visor-test [0-9]+$' "$out" && ok ||
	bad "no trace line: $(head -5 "$out")"
grep -q '^map calls: hash, key 4, value 8, max_entries 1024' "$out" && ok || bad "no calls map header"
grep -Eq '^  \(__u32\)[0-9]+ -> \(__u64\)[0-9]+$' "$out" && ok || bad "calls not formatted through BTF: $(grep -A3 'map calls' "$out")"
grep -q '^map pid_hist: array, log2 histogram$' "$out" && ok || bad "pid_hist not a histogram"
grep -q '^     value               : count     distribution$' "$out" && ok || bad "no histogram header"
grep -Eq '^ +[0-9]+ -> [0-9]+ +: [1-9][0-9]* +\|\*+ *\|$' "$out" && ok || bad "no histogram bar: $(grep -A20 pid_hist "$out")"
# Every traced pid is counted once per line: the sum of calls equals the lines.
lines=$(grep -c 'bpf_trace_printk: visor-test' "$out")
calls=$(sed -n '/^map calls:/,/^Found/p' "$out" | sed -n 's/.*-> (__u64)\([0-9]*\)$/\1/p' | awk '{s+=$1} END {print s+0}')
[ "$lines" -gt 0 ] && [ "$lines" -le "$calls" ] && ok || bad "trace lines $lines vs calls $calls"

# While one runs: prog list, map list, map dump by id; SIGINT stops it,
# dumps, and leaves nothing loaded.
start_bg "$obj" --prog printk_getppid --duration 20 || bad "background run did not start: $(head -3 "$tmp/bg.err")"
expect 0 "printk_getppid" "" -- "$visor" prog list
expect 0 "tracepoint" "" -- "$visor" prog list
expect 0 "pid_hist" "" -- "$visor" map list
id=$("$visor" map list | awk '$3 == "calls" && $4 == 4 && $5 == 8 && $6 == 1024 {print $1}' | tail -1)
if [ -n "$id" ]; then
	expect 0 "map calls: hash, key 4, value 8, max_entries 1024, id $id, btf" "" -- "$visor" map dump "$id"
	expect 0 "map calls: hash" "" -- "$visor" map dump id "$id"
else bad "calls not in map list"; fi
poke_until_traced || bad "background run: no trace line"
kill -INT "$bg"; wait "$bg"; st=$?; bg=
[ "$st" = 0 ] && ok || bad "SIGINT -> status $st: $(tail -3 "$tmp/bg.err")"
grep -q '^map pid_hist: array, log2 histogram$' "$tmp/bg.out" && ok || bad "no dump after SIGINT"
# Programs and maps go when the kernel's deferred frees run (RCU, work
# queues) after the loader exits: wait for that, bounded, before checking.
for _ in $(seq 50); do "$visor" prog list | grep -q printk_getppid || break; sleep 0.1; done
"$visor" prog list | grep -q printk_getppid && bad "program still loaded after SIGINT" || ok
if [ -n "$id" ]; then
	for _ in $(seq 50); do "$visor" map dump id "$id" >/dev/null 2>&1 || break; sleep 0.1; done
	expect 1 "" "$id" -- "$visor" map dump id "$id"
fi

# FILE.c: compiled (cache in $tmp), loaded, attached, its table dumped.
cat >"$tmp/count.c" <<'EOF2'
BPF_HASH(calls, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    calls.increment(bpf_get_current_pid_tgid() >> 32);
    return 0;
}
EOF2
start_bg "$tmp/count.c" --duration 1 || bad "run count.c did not start: $(head -3 "$tmp/bg.err")"
for _ in 1 2 3; do bash -c :; done
wait "$bg"; st=$?; bg=
[ "$st" = 0 ] && ok || bad "run count.c -> status $st: $(head -3 "$tmp/bg.err")"
grep -q '^map calls: hash, key 4, value 8' "$tmp/bg.out" && ok || bad "count.c: no calls map: $(head "$tmp/bg.out")"
# The kernel verifier's refusal names the user's line, the statement and what to do.
cat >"$tmp/nonull.c" <<'EOF2'
BPF_HASH(counts, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u32 k = 1;
    u64 *v = counts.lookup(&k);
    (*v)++;
    return 0;
}
EOF2
expect 1 "" "nonull.c:5: prog 'tracepoint__syscalls__sys_enter_getppid' refused by the kernel verifier: R0 invalid mem access 'map_value_or_null' (at \`(*v)++;\`): a map lookup's result may be NULL" -- "$visor" run "$tmp/nonull.c" --duration 0.1
printf 'int f(void *ctx) { return 0 }\n' >"$tmp/syntax.c"
# (compiler diagnostics are clang's: the line, the source and a caret)
"$visor" run "$tmp/syntax.c" >/dev/null 2>"$tmp/syntax.err"; st=$?
[ "$st" = 1 ] && grep -q "syntax.c:1:28: error: expected ';' after return statement" "$tmp/syntax.err" &&
	ok || bad "syntax error -> status $st: $(cat "$tmp/syntax.err")"

# Errors: one line, non-zero.
expect 1 "" "No such file" -- "$visor" run "$tmp/nope.bpf.o"
expect 1 "" "no program named 'nope'" -- "$visor" run "$obj" --prog nope
expect 2 "" "--duration" -- "$visor" run "$obj" --duration abc
expect 0 "usage: visor run" "" -- "$visor" run --help
expect 0 "usage: visor prog list" "" -- "$visor" prog --help
expect 0 "visor map list" "" -- "$visor" map --help
if command -v setpriv >/dev/null; then
	np="setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all"
	expect 1 "" "needs root" -- $np "$visor" run "$obj" --duration 1
	expect 1 "" "" -- $np "$visor" prog list
	expect 1 "" "" -- $np "$visor" map list
fi
finish test_run
