#!/bin/bash
# The main job of visor: a few lines of C in BCC's dialect, compiled with
# kernel types from BTF, run in the Linux kernel (when this user may load
# programs) and on visor's own engine (any user); then a tour of the engine:
# assemble, disassemble, verify, interpret, JIT.
set -euo pipefail
visor=${1:-build/visor}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "BCC's hello world (examples/hello.c), unchanged, in the kernel: every clone() prints a line"
cat "$here/hello.c"
if [ "$(id -u)" -ne 0 ]; then
	echo "(skipped: loading programs into the kernel needs root; the next step runs for any user)"
elif [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "(skipped: this kernel has no BTF at /sys/kernel/btf/vmlinux)"
else
	# Something to trace: a few short-lived processes (each a clone).
	( for _ in 1 2 3 4 5 6; do sleep 0.4; /bin/true; done ) &
	"$visor" run "$here/hello.c" --duration 3 || echo "(visor run failed: status $?)"
	wait
fi

step "BCC's packet counter (examples/count_pairs.c, a socket filter with <bcc/proto.h>) on visor's engine, over generated packets"
"$here/packets.sh" "$tmp/pairs.pcap"
"$visor" run "$here/count_pairs.c" --backend vm --pcap "$tmp/pairs.pcap"

step "the same C compiled to a normal BPF object (libbpf and bpftool load it too)"
"$visor" compile "$here/count_pairs.c" -o "$tmp/count_pairs.o"
"$visor" obj info "$tmp/count_pairs.o"

step "the compile server: clang kept warm, so a compile that is not cached takes a few hundredths of a second"
if "$visor" compile-server start; then
	"$visor" compile -v --no-cache "$here/count_pairs.c" -o "$tmp/count_pairs.o"
	echo "(it exits after 10 idle minutes; 'visor compile-server stop' ends it now)"
else
	echo "(no compile server here: compiles start clang-19 each time)"
fi

# An IPv4 header (192.0.2.1 -> 198.51.100.2, UDP) with a correct checksum.
hdr="45 00 00 1c 00 01 00 00 40 11 8e 99 c0 00 02 01 c6 33 64 02"

step "assemble examples/ipv4_checksum.s"
"$visor" asm -o "$tmp/csum.bin" "$here/ipv4_checksum.s"
echo "$(($(stat -c %s "$tmp/csum.bin") / 8)) instructions, $(stat -c %s "$tmp/csum.bin") bytes"

step "disassemble (uBPF syntax)"
"$visor" disasm "$tmp/csum.bin"

step "disassemble (kernel syntax, with indexes)"
"$visor" disasm --syntax=kernel --index "$tmp/csum.bin"

step "the verifier's verdict for 20 bytes of input (visor exec verifies before it runs)"
"$visor" verify --stats --ctx-size 20 "$tmp/csum.bin"

step "run on a valid IPv4 header: checksum verifies to 0"
"$visor" exec --mem "$hdr" "$tmp/csum.bin"

step "run on the same header with the checksum field zeroed: r0 is the checksum (0x8e99)"
"$visor" exec --mem "${hdr/8e 99/00 00}" "$tmp/csum.bin"

step "time it: 1,000,000 runs in the interpreter"
"$visor" exec --repeat 1000000 --mem "$hdr" "$tmp/csum.bin"

step "the same in the x86-64 JIT (no budget, so no instruction counting)"
"$visor" exec --jit --budget 0 --repeat 1000000 --mem "$hdr" "$tmp/csum.bin"

step "the machine code the JIT wrote (first instructions, via objdump)"
"$visor" jit --dump "$tmp/csum.x86" --part plain "$tmp/csum.bin"
if command -v objdump >/dev/null; then
	objdump -D -b binary -mi386:x86-64 "$tmp/csum.x86" | grep -v int3 | sed -n '8,22p'
fi

step "local calls: 7! through 7 nested bpf-to-bpf calls (recursion: the verifier refuses it, --unsafe runs it with run-time checks)"
printf 'mov %%r1, 7\n' | cat - "$here/factorial.s" > "$tmp/fact7.s"
"$visor" exec "$tmp/fact7.s" || echo "(exit status $?, as expected)"
"$visor" exec --unsafe "$tmp/fact7.s"

step "an unsafe program: the verifier refuses it; in unsafe mode the run is stopped, not crashed"
printf 'ldxdw %%r0, [%%r1+16]\nexit\n' > "$tmp/oob.s"
"$visor" exec --mem "00 01 02 03" "$tmp/oob.s" || echo "(exit status $?, as expected)"
"$visor" exec --unsafe --mem "00 01 02 03" "$tmp/oob.s" || echo "(exit status $?, as expected)"

progs=$(dirname "$visor")/tests/progs
if [ -f "$progs/xdp_parser.bpf.o" ]; then
	step "a clang-compiled XDP program (tests/progs/xdp_parser.bpf.c): what is in the object, the verifier's verdict included"
	"$visor" obj info "$progs/xdp_parser.bpf.o"
	"$visor" verify --stats "$progs/xdp_parser.bpf.o"

	step "run it on an IPv4 UDP packet (192.0.2.1 -> 198.51.100.7, port 53) 100 times in the JIT, then read its map"
	eth='\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00'
	ip='\x45\x00\x00\x1c\x00\x01\x00\x00\x40\x11\x00\x00\xc0\x00\x02\x01\xc6\x33\x64\x07'
	printf "$eth$ip"'\x30\x39\x00\x35\x00\x08\x00\x00' >"$tmp/udp53.bin"
	"$visor" test-run "$progs/xdp_parser.bpf.o" --data "$tmp/udp53.bin" --jit --repeat 100 --dump-maps | head -20

	step "the verifier refuses a program that reads the packet after bpf_xdp_adjust_head (tests/progs/xdp_adjust.bpf.c): the path, the line, the reason"
	"$visor" verify --prog xdp_stale_pointer --log "$progs/xdp_adjust.bpf.o" | tail -12 || true

	step "tail calls (tests/progs/tailcall.bpf.c): the dispatcher jumps to tail_ipv4 by EtherType; tail_recurse hits the kernel's limit of 33"
	"$visor" test-run "$progs/tailcall.bpf.o" --prog xdp_dispatch --data "$tmp/udp53.bin" --jit --repeat 1000
	"$visor" test-run "$progs/tailcall.bpf.o" --prog tail_recurse --data "$tmp/udp53.bin"

	step "bpf_loop with a callback (tests/progs/loop.bpf.c), then its globals"
	"$visor" test-run "$progs/loop.bpf.o" --data "$tmp/udp53.bin" --repeat 100 --dump-maps | head -12

	step "a syscall program (tests/progs/syscall.bpf.c): a = 7, b = 5, op = multiply; result 35 (0x23) comes back in its context"
	"$visor" test-run "$progs/syscall.bpf.o" --ctx-hex "07 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 76 69 73 72 00 00 00 00"
fi

step "bpf_conformance plugin protocol"
echo "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00" | "$visor" conformance-plugin
