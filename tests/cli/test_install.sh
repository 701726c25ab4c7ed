#!/bin/bash
# Installation (issue 7): `cmake --install` of the build the tested visor
# belongs to, into a scratch prefix; then, as a user of the installed copy
# would: the installed visor's --help, its man pages rendered by `man -l`
# (and clean for groff -ww), visor.pc, the shared and static libraries and
# the headers in place, and tests/install/hello_api.c built OUT OF TREE with
# `cc $(pkg-config --cflags visor) hello_api.c $(pkg-config --libs visor)`
# and run against the installed libvisor.so: it compiles a BCC-dialect
# socket filter, runs it on visor's engine (no privileges needed), prints
# its table and where the library found its BPF-side headers, which must be
# the installed PREFIX/share/visor/include, not the source tree.
# Usage: test_install.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
build=$(cd "$(dirname "$visor")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP test_install: $*"; exit 77; }
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
command -v cc >/dev/null || skip "no C compiler (cc)"
[ -f "$build/libvisor.so" ] || skip "$build/libvisor.so is not built (target visor_shared)"

prefix=$tmp/prefix
expect 0 "" "" -- cmake --install "$build" --prefix "$prefix"
for f in bin/visor lib/libvisor.a lib/libvisor.so include/visor/bpf.h include/visor/kernel.h \
	include/visor/frontend.h lib/pkgconfig/visor.pc share/man/man1/visor.1 \
	share/man/man3/visor_bpf.3 share/visor/include/bcc/helpers.h share/visor/include/bcc/proto.h; do
	[ -e "$prefix/$f" ] && ok || bad "not installed: $f"
done
# The compile server's module, when this build has one; the installed visor
# finds it (VISOR_CLANG_MODULE unset).
if [ -f "$build/libvisor-clang.so" ]; then
	[ -f "$prefix/lib/visor/libvisor-clang.so" ] && ok || bad "not installed: lib/visor/libvisor-clang.so"
fi
so=$(readlink "$prefix/lib/libvisor.so")
[ -n "$so" ] && [ -e "$prefix/lib/$so" ] && ok || bad "lib/libvisor.so is not a link to the versioned library"
objdump -p "$prefix/lib/libvisor.so" 2>/dev/null | grep -q 'SONAME *libvisor\.so\.[0-9]' && ok ||
	bad "libvisor.so has no versioned SONAME"

# The installed command and man pages.
expect 0 "usage: visor <command>" "" -- "$prefix/bin/visor" --help
expect 0 "visor run FILE.c" "" -- "$prefix/bin/visor" run --help
if command -v man >/dev/null; then
	for page in man1/visor.1 man3/visor_bpf.3; do
		MANWIDTH=80 man -l "$prefix/share/man/$page" >"$tmp/man.out" 2>"$tmp/man.err"
		[ $? = 0 ] && [ ! -s "$tmp/man.err" ] && grep -q NAME "$tmp/man.out" && ok ||
			bad "man -l $page: $(head -3 "$tmp/man.err")"
	done
fi
if command -v groff >/dev/null; then
	for page in man1/visor.1 man3/visor_bpf.3; do
		groff -man -Tutf8 -ww "$prefix/share/man/$page" >/dev/null 2>"$tmp/groff.err"
		[ ! -s "$tmp/groff.err" ] && ok || bad "groff -ww $page: $(head -3 "$tmp/groff.err")"
	done
fi

# pkg-config over the installed visor.pc.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cflags=$(pkg-config --cflags visor) && libs=$(pkg-config --libs visor) && ok ||
	bad "pkg-config visor: $(pkg-config --cflags visor 2>&1)"
case " $cflags " in *"/include "*) ok ;; *) bad "pkg-config --cflags: '$cflags'" ;; esac
case " $libs " in *" -lvisor "*) ok ;; *) bad "pkg-config --libs: '$libs'" ;; esac
pkg-config --static --libs visor | grep -q -- -lbpf && ok || bad "pkg-config --static lacks -lbpf"

# hello_api.c out of tree: a copy in a directory of its own, the installed
# headers and library only (the ASan build's library needs its runtime).
san=
grep -q '^VISOR_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null &&
	san="-fsanitize=address,undefined"
mkdir "$tmp/user" && cp "$src/tests/install/hello_api.c" "$tmp/user/"
(cd "$tmp/user" && cc $san $cflags hello_api.c $libs -o hello_api) 2>"$tmp/cc.err" && ok ||
	bad "building hello_api against the install: $(head -5 "$tmp/cc.err")"
if [ -x "$tmp/user/hello_api" ]; then
	ldd "$tmp/user/hello_api" | grep -q "$prefix/lib/libvisor.so" ||
		LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/user/hello_api" | grep -q "$prefix/lib/libvisor.so" && ok ||
		bad "hello_api does not use the installed libvisor.so"
	# No VISOR_BPF_INCLUDE: the library finds its headers next to itself.
	(cd "$tmp/user" && env -u VISOR_BPF_INCLUDE LD_LIBRARY_PATH="$prefix/lib" ./hello_api) \
		>"$tmp/hello.out" 2>"$tmp/hello.err"
	st=$?
	if [ "$st" != 0 ] && grep -q "apt-get install" "$tmp/hello.err"; then
		skip "hello_api: $(head -1 "$tmp/hello.err")"
	fi
	[ "$st" = 0 ] && ok || bad "hello_api -> status $st: $(head -5 "$tmp/hello.err")"
	grep -q '^mytable: struct IPKey -> int$' "$tmp/hello.out" && ok ||
		bad "no typed table header: $(head -3 "$tmp/hello.out")"
	grep -q -- '-> (int)3$' "$tmp/hello.out" && ok || bad "no count of 3: $(cat "$tmp/hello.out")"
	grep -q -- '-> (int)1$' "$tmp/hello.out" && ok || bad "no count of 1: $(cat "$tmp/hello.out")"
	want=$(cd "$prefix/share/visor/include" && pwd -P)
	grep -qx "bpf include: $want" "$tmp/hello.out" && ok ||
		bad "the installed library does not use $want: $(grep 'bpf include' "$tmp/hello.out")"
fi
finish test_install
