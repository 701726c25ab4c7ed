#!/bin/bash
# visor map dump on maps pinned in the kernel (bpffs): maps made and filled
# with bpftool read back by visor, compared with what was written and with
# `bpftool map dump`; BTF-formatted values of an object's maps pinned by
# bpftool; one-line errors (missing pin, not bpffs, a pinned program, --map,
# not root, bpffs not mounted). Needs root, bpf() and bpftool; otherwise one
# SKIP line and exit 77. Every pin is removed on exit; bpffs is unmounted
# only if this script mounted it.
# Usage: test_pinned_maps.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
progs=$(dirname "$visor")/tests/progs
bpffs=/sys/fs/bpf
pin=$bpffs/visor_test_$$
tmp=$(mktemp -d)
mounted=
cleanup() {
	rm -rf "$pin"_* "$tmp" 2>/dev/null
	[ -n "$mounted" ] && umount "$bpffs"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP test_pinned_maps: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (bpf() and the bpf filesystem)"
command -v bpftool >/dev/null || skip "bpftool is not installed"
if [ "$(stat -f -c %T "$bpffs" 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf "$bpffs" 2>"$tmp/err" || skip "cannot mount bpffs at $bpffs: $(cat "$tmp/err")"
	mounted=1
fi
bpftool map create "$pin"_hash type hash key 4 value 8 entries 16 name visor_t_hash 2>"$tmp/err" ||
	skip "bpf() map creation failed: $(head -1 "$tmp/err")"

# A hash: three elements written, three read back, the same lines as bpftool.
upd() { bpftool map update pinned "$@" || bad "bpftool map update $*"; }
upd "$pin"_hash key hex 01 00 00 00 value hex 2a 00 00 00 00 00 00 00
upd "$pin"_hash key hex 02 00 00 00 value hex 00 01 02 03 04 05 06 07
upd "$pin"_hash key hex ff ff ff ff value hex ff 00 00 00 00 00 00 80
expect 0 "map visor_t_hash: hash, key 4, value 8, max_entries 16, id " "" -- "$visor" map dump "$pin"_hash
expect 0 "key: 01 00 00 00  value: 2a 00 00 00 00 00 00 00" "" -- "$visor" map dump "$pin"_hash
expect 0 "key: ff ff ff ff  value: ff 00 00 00 00 00 00 80" "" -- "$visor" map dump "$pin"_hash
expect 0 "Found 3 elements" "" -- "$visor" map dump "$pin"_hash
"$visor" map dump "$pin"_hash | grep '^key:' | sort >"$tmp/visor.txt"
bpftool map dump pinned "$pin"_hash | grep '^key:' | sort >"$tmp/bpftool.txt"
if [ "$(wc -l <"$tmp/visor.txt")" = 3 ] && cmp -s "$tmp/visor.txt" "$tmp/bpftool.txt"; then ok
else bad "hash: visor and bpftool differ: $(diff "$tmp/visor.txt" "$tmp/bpftool.txt" | head -5)"; fi

# An array: every index is an element, zeros where nothing was written.
bpftool map create "$pin"_array type array key 4 value 4 entries 4 name visor_t_array
upd "$pin"_array key hex 02 00 00 00 value hex 78 56 34 12
expect 0 "key: 02 00 00 00  value: 78 56 34 12" "" -- "$visor" map dump "$pin"_array
expect 0 "key: 03 00 00 00  value: 00 00 00 00" "" -- "$visor" map dump "$pin"_array
expect 0 "Found 4 elements" "" -- "$visor" map dump "$pin"_array

# A per-CPU array: one line per possible CPU (bpftool writes every CPU).
ncpu=$(awk -F, '{n=0; for (i=1;i<=NF;i++) { split($i,r,"-"); n += (r[2]==""?1:r[2]-r[1]+1) } print n}' \
	/sys/devices/system/cpu/possible)
bpftool map create "$pin"_percpu type percpu_array key 4 value 4 entries 2 name visor_t_pcpu
upd "$pin"_percpu key hex 01 00 00 00 value hex 07 00 00 00
expect 0 "value (CPU 00): 07 00 00 00" "" -- "$visor" map dump "$pin"_percpu
lines=$("$visor" map dump "$pin"_percpu | grep -c '^  value (CPU [0-9]*): 07 00 00 00$')
[ "$lines" = "$ncpu" ] && ok || bad "per-CPU array: $lines lines with the written value, want $ncpu (possible CPUs)"
lines=$("$visor" map dump "$pin"_percpu | grep -c '^  value (CPU')
[ "$lines" = $((2 * ncpu)) ] && ok || bad "per-CPU array: $lines value lines, want $((2 * ncpu))"
# bpftool's count, and its values, CPU by CPU.
"$visor" map dump "$pin"_percpu | sed -n '/^key:/p; s/^  value/value/p' >"$tmp/visor.txt"
bpftool map dump pinned "$pin"_percpu | awk '/^key:$/ { getline k; print "key: " k; next } /^value/' >"$tmp/bpftool.txt"
cmp -s "$tmp/visor.txt" "$tmp/bpftool.txt" && ok || bad "per-CPU array: visor and bpftool differ: $(diff "$tmp/visor.txt" "$tmp/bpftool.txt" | head -4)"
for m in hash array percpu; do
	v=$("$visor" map dump "$pin"_$m | grep '^Found')
	b=$(bpftool map dump pinned "$pin"_$m | grep '^Found')
	[ "$v" = "$b" ] && ok || bad "$m: visor says '$v', bpftool '$b'"
done

# A queue has no keys; an empty hash has no elements.
bpftool map create "$pin"_queue type queue key 0 value 4 entries 4 name visor_t_queue
expect 0 "(a queue has no keys to list)" "" -- "$visor" map dump "$pin"_queue
bpftool map create "$pin"_empty type hash key 8 value 4 entries 4 name visor_t_empty
expect 0 "Found 0 elements" "" -- "$visor" map dump "$pin"_empty

# An object's maps pinned by bpftool carry BTF: values formatted through it.
xdp=$progs/xdp_parser.bpf.o
if bpftool prog load "$xdp" "$pin"_prog type xdp pinmaps "$pin"_maps 2>"$tmp/err"; then
	upd "$pin"_maps/proto_counts key hex 11 00 00 00 value hex 05 00 00 00 00 00 00 00 d2 00 00 00 00 00 00 00
	expect 0 "key: 11 00 00 00  value: 05 00 00 00 00 00 00 00 d2 00 00 00 00 00 00 00" "" -- \
		"$visor" map dump "$pin"_maps/proto_counts
	expect 0 "formatted: (__u32)17 -> (struct counter){.packets = (__u64)5,.bytes = (__u64)210,}" "" -- \
		"$visor" map dump "$pin"_maps/proto_counts
	expect 0 ", id " "" -- "$visor" map dump "$pin"_maps/proto_counts
	expect 1 "" "$pin""_prog: a pinned program, not a map" -- "$visor" map dump "$pin"_prog
	expect 1 "" "a directory of the bpf filesystem, not a pinned map" -- "$visor" map dump "$pin"_maps
else
	bad "bpftool prog load $xdp: $(head -1 "$tmp/err")"
fi
# Global data of another object: the DATASEC variables by name.
if bpftool prog load "$progs/globals.bpf.o" "$pin"_gprog pinmaps "$pin"_gmaps 2>"$tmp/err"; then
	expect 0 "__u32 rotor = (__u32)7;" "" -- "$visor" map dump "$pin"_gmaps/globals_data
	expect 1 "" "no such pinned object (bpffs names have no '.'" -- "$visor" map dump "$pin"_gmaps/globals.data
else
	bad "bpftool prog load globals.bpf.o: $(head -1 "$tmp/err")"
fi

# Errors: one line each.
expect 1 "" "$pin""_nope: no such pinned object" -- "$visor" map dump "$pin"_nope
printf 'not an object\n' >"$tmp/notelf"
expect 1 "" "not an ELF file" -- "$visor" map dump "$tmp/notelf"
expect 2 "" "--map selects a map of an object file" -- "$visor" map dump "$pin"_hash --map visor_t_hash
if command -v setpriv >/dev/null; then
	expect 1 "" "permission denied: reading kernel maps needs root" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$visor" map dump "$pin"_hash
fi
# Without bpffs (in a private mount namespace, so nothing else notices).
if command -v unshare >/dev/null; then
	expect 1 "" "no bpf filesystem is mounted at $bpffs" -- unshare -m sh -c \
		"while [ \"\$(stat -f -c %T $bpffs)\" = bpf_fs ]; do umount $bpffs || exit 9; done; exec \"$visor\" map dump $pin""_hash"
fi

# The object path still means today's dump.
expect 0 "map proto_counts: hash, key 4, value 16, max_entries 256" "" -- "$visor" map dump "$xdp"

finish test_pinned_maps
