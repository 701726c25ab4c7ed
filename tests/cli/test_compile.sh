#!/bin/bash
# visor compile and visor btf dump from the command line: help, usage
# errors (exit 2), failures in one line (exit 1), diagnostics at the user's
# file:line:col, flags after --, the BCC hello world, objects that bpftool
# loads, and the vmlinux.h visor compiles against.
# Usage: test_compile.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
export VISOR_CACHE_DIR=$tmp/cache
unset VISOR_BTF VISOR_CLANG

if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "SKIP cli_test_compile: no readable /sys/kernel/btf/vmlinux"; exit 77; fi
if ! command -v clang-19 >/dev/null && [ ! -x /usr/lib/llvm-19/bin/clang ]; then
	echo "SKIP cli_test_compile: clang-19 not installed"; exit 77
fi

expect 0 "usage: visor compile" "" -- "$visor" compile --help
expect 0 "usage: visor btf dump" "" -- "$visor" btf --help
expect 0 "usage: visor btf dump" "" -- "$visor" btf dump --help
expect 2 "" "usage: visor compile" -- "$visor" compile
expect 2 "" "usage: visor compile" -- "$visor" compile --bogus x.c
expect 2 "" "unknown subcommand 'frob'" -- "$visor" btf frob
expect 1 "" "visor: compile: $tmp/nope.c: No such file" -- "$visor" compile "$tmp/nope.c" -o "$tmp/nope.o"
expect 1 "" "visor: btf dump: no kernel BTF at /nonexistent/btf" -- "$visor" btf dump --btf /nonexistent/btf

# Plain libbpf C, a kernel include visor has no stub for, flags after --.
cat >"$tmp/plain.c" <<'E'
#include <linux/visor_cli_test_nothing.h>
SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	return VALUE;
}
char _license[] SEC("license") = "GPL";
E
expect 0 "" "" -- "$visor" compile --plain "$tmp/plain.c" -o "$tmp/plain.o" -- -DVALUE=3
if [ -s "$tmp/plain.o" ] && llvm-objdump-19 -h "$tmp/plain.o" | grep -q "tracepoint/syscalls/sys_enter_getpid"; then ok
else bad "plain.o lacks its program section"; fi
expect 0 "" "cached object" -- "$visor" compile -v --plain "$tmp/plain.c" -o "$tmp/plain2.o" -- -DVALUE=3
cmp -s "$tmp/plain.o" "$tmp/plain2.o" && ok || bad "a cached compile gives the same object"
expect 0 "" "clang-19" -- "$visor" compile -v --no-cache --plain "$tmp/plain.c" -o "$tmp/plain2.o" -- -DVALUE=3
# Without -o: FILE.o in the current directory.
(cd "$tmp" && "$visor" compile --plain plain.c -- -DVALUE=1 2>"$tmp/err") && [ -s "$tmp/plain.o" ] && ok \
	|| bad "compile without -o: $(cat "$tmp/err")"
# Without the flag the source does not compile.
"$visor" compile --plain "$tmp/plain.c" -o "$tmp/x.o" >"$tmp/out" 2>"$tmp/err"
st=$?
if [ $st = 1 ] && grep -q "plain.c:5:9: error: use of undeclared identifier 'VALUE'" "$tmp/err" &&
	[ "$(tail -n 1 "$tmp/err")" = "visor: compile: $tmp/plain.c: 1 error" ]; then ok
else bad "undeclared VALUE: status $st: $(cat "$tmp/err")"; fi

# A syntax error in the BCC dialect: at the user's line and column, exit 1.
printf 'int kprobe__sys_clone(void *ctx)\n{\n\treturn 1 +;\n}\n' >"$tmp/bad.c"
"$visor" compile "$tmp/bad.c" -o "$tmp/bad.o" >"$tmp/out" 2>"$tmp/err"
st=$?
if [ $st = 1 ] && grep -q "^$tmp/bad.c:3:12: error: expected expression" "$tmp/err" &&
	[ "$(tail -n 1 "$tmp/err")" = "visor: compile: $tmp/bad.c: 1 error" ] && [ ! -e "$tmp/bad.o" ]; then ok
else bad "syntax error: status $st: $(cat "$tmp/err")"; fi

# The issue's hello world, verbatim.
cat >"$tmp/hello.c" <<'E'
int kprobe__sys_clone(void *ctx) {
    bpf_trace_printk("Hello, World!\n");
    return 0;
}
E
expect 0 "" "" -- "$visor" compile "$tmp/hello.c" -o "$tmp/hello.o"
if llvm-objdump-19 -t "$tmp/hello.o" 2>/dev/null | grep -q "kprobe__sys_clone"; then ok
else bad "hello.o lacks kprobe__sys_clone"; fi

# bpftool (libbpf) loads what visor compile writes.
if [ "$(id -u)" = 0 ] && command -v bpftool >/dev/null && [ -d /sys/fs/bpf ]; then
	pin=/sys/fs/bpf/visor-cli-compile-$$
	for o in plain hello; do
		if bpftool prog loadall "$tmp/$o.o" "$pin" 2>"$tmp/err"; then ok
		else bad "bpftool prog loadall $o.o: $(tail -n 3 "$tmp/err")"; fi
		rm -rf "$pin"
	done
else
	echo "bpftool load skipped: needs root, bpftool and /sys/fs/bpf"
fi

# The vmlinux.h visor compiles against.
"$visor" btf dump >"$tmp/vmlinux.h" 2>"$tmp/err" && grep -q "^struct task_struct {" "$tmp/vmlinux.h" && ok \
	|| bad "btf dump lacks struct task_struct: $(cat "$tmp/err")"
grep -q "pragma clang attribute push" "$tmp/vmlinux.h" && bad "vmlinux.h has the CO-RE pragma" || ok
expect 0 "" "" -- "$visor" btf dump -o "$tmp/v2.h"
cmp -s "$tmp/vmlinux.h" "$tmp/v2.h" && ok || bad "btf dump -o differs from stdout"

finish cli_test_compile
