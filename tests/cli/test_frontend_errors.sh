#!/bin/bash
# The front end on bad input and a hostile environment (visor compile,
# visor run FILE.c): each case exits with the expected status and says why
# in a line naming the cause; no crash, no hang, no half-written cache
# entry, nothing left loaded or attached.
# Usage: test_frontend_errors.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
tmp=$(mktemp -d); chmod 755 "$tmp"; trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
export VISOR_CACHE_DIR=$tmp/cache
unset VISOR_BTF VISOR_CLANG

if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "SKIP cli_test_frontend_errors: no readable /sys/kernel/btf/vmlinux"; exit 77; fi
if ! command -v clang-19 >/dev/null && [ ! -x /usr/lib/llvm-19/bin/clang ]; then
	echo "SKIP cli_test_frontend_errors: clang-19 not installed"; exit 77
fi

# expect_diag STATUS ERR_SUBSTRING -- command...: as expect, for failures
# whose diagnostics take several lines (file:line:col, the line, a caret).
expect_diag() {
	local want_status=$1 want_err=$2; shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local st=$?
	if [ "$st" != "$want_status" ]; then bad "$* -> status $st, want $want_status ($(head -c 300 "$tmp/err"))"; return; fi
	if ! grep -qF -- "$want_err" "$tmp/err"; then bad "$* -> stderr lacks '$want_err': $(head -c 300 "$tmp/err")"; return; fi
	ok
}
objs() { ls "$VISOR_CACHE_DIR/obj" 2>/dev/null | wc -l; }
no_tmp() { # no temporary file anywhere in the cache
	local left; left=$(find "$VISOR_CACHE_DIR" -name '*.tmp.*' 2>/dev/null)
	[ -z "$left" ] && ok || bad "$1: temporary files left: $left"
}

cat >"$tmp/hello.c" <<'E'
int kprobe__sys_clone(void *ctx) {
    bpf_trace_printk("Hello, World!\n");
    return 0;
}
E
# Warm the cache once (vmlinux.h + PCH): the cases below are then quick.
expect 0 "" "" -- "$visor" compile "$tmp/hello.c" -o "$tmp/hello.o"

# ---- Sources ------------------------------------------------------------
: >"$tmp/empty.c"
expect 0 "" "" -- "$visor" compile "$tmp/empty.c" -o "$tmp/empty.o"
head -c 4000 "$visor" >"$tmp/binary.c"
expect_diag 1 "binary.c:1:8: error: a NUL byte: this is not C source text" -- "$visor" compile "$tmp/binary.c" -o "$tmp/b.o"
[ "$(wc -l <"$tmp/err")" = 2 ] && ok || bad "a binary source: one error, not one per byte: $(wc -l <"$tmp/err") lines"
mkdir "$tmp/dir.c"
expect 1 "" "dir.c: Is a directory" -- "$visor" compile "$tmp/dir.c" -o "$tmp/d.o"
expect 1 "" "nope.c: No such file or directory" -- "$visor" run "$tmp/nope.c"
mkdir -p "$tmp/sp ace \"q\""; cp "$tmp/hello.c" "$tmp/sp ace \"q\"/he'llo \"x\".c"
expect 0 "" "" -- "$visor" compile "$tmp/sp ace \"q\"/he'llo \"x\".c" -o "$tmp/sp ace \"q\"/out.o"
printf 'int kprobe__sys_clone(void *ctx) {\n  return 1 +;\n}\n' >"$tmp/sp ace \"q\"/b\"a\\d.c"
expect_diag 1 "$tmp/sp ace \"q\"/b\"a\\d.c:2:13: error: expected expression" -- "$visor" compile "$tmp/sp ace \"q\"/b\"a\\d.c" -o "$tmp/x.o"
cp "$tmp/hello.c" "$tmp/noext"
expect 0 "" "" -- "$visor" compile "$tmp/noext" -o "$tmp/noext.o"
"$visor" compile - -o "$tmp/stdin.o" <"$tmp/hello.c" 2>"$tmp/err" && [ -s "$tmp/stdin.o" ] && ok \
	|| bad "compile from stdin: $(cat "$tmp/err")"
expect 2 "" "standard input needs -o" -- "$visor" compile -
expect 1 "" "compile: /nonexistent/dir/x.o: No such file or directory" -- "$visor" compile "$tmp/hello.c" -o /nonexistent/dir/x.o
expect 2 "" "would overwrite the source" -- "$visor" compile "$tmp/hello.c" -o "$tmp/hello.c"
big=$tmp/big.c
{ echo 'static const char blob[] ='; for i in $(seq 60000); do echo "  \"padding padding padding padding padding padding padding padding padding $i\""; done; echo ';'; cat "$tmp/hello.c"; } >"$big"
expect 0 "" "" -- "$visor" compile "$big" -o "$tmp/big.o"
# ... and one of 20,000 small functions (the rewriter's call graph was
# quadratic in the number of functions: minutes at this size).
many=$tmp/many.c
{ for i in $(seq 20000); do echo "static int unused_$i(int x) { return x * $i + 1; }"; done; cat "$tmp/hello.c"; } >"$many"
expect 0 "" "" -- timeout 120 "$visor" compile "$many" -o "$tmp/many.o"

# ---- Compile errors: exit 1, the user's line:col, nothing cached ---------
n=$(objs)
printf 'BPF_HASH(t, u32, u64);\nint kprobe__sys_clone(void *ctx) {\n  u32 k = 0;\n  t.frob(&k);\n  return 0;\n}\n' >"$tmp/meth.c"
expect_diag 1 "meth.c:4:5: error: table 't' (hash) has no method 'frob'" -- "$visor" compile "$tmp/meth.c" -o "$tmp/m.o"
printf 'int kprobe__sys_clone(void *ctx) {\n  bpf_trace_printk("%%d %%d %%d %%d\\n", 1, 2, 3, 4);\n  return 0;\n}\n' >"$tmp/pk.c"
expect_diag 1 "pk.c:2:" -- "$visor" compile "$tmp/pk.c" -o "$tmp/m.o"
printf 'int kprobe__sys_clone(void *ctx) {\n  struct no_such_kernel_type *p = 0;\n  return p->x;\n}\n' >"$tmp/ty.c"
expect_diag 1 "ty.c:3:11: error: incomplete definition of type 'struct no_such_kernel_type'" -- "$visor" run "$tmp/ty.c"
[ "$(tail -n 1 "$tmp/err")" = "visor: $tmp/ty.c: 1 error" ] && ok || bad "run's summary names the file: $(tail -n 1 "$tmp/err")"
[ "$(objs)" = "$n" ] && ok || bad "failed compiles added objects to the cache"
[ ! -e "$tmp/m.o" ] && ok || bad "a failed compile wrote -o"

# Flags after -- reach clang and change the cache key.
printf 'SEC("tracepoint/syscalls/sys_enter_getpid")\nint f(void *ctx) { return VALUE; }\n' >"$tmp/flag.c"
expect_diag 1 "flag.c:2:27: error: use of undeclared identifier 'VALUE'" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f0.o"
expect 0 "" "" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f1.o" -- -DVALUE=1
expect 0 "" "" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f2.o" -- -DVALUE=2
cmp -s "$tmp/f1.o" "$tmp/f2.o" && bad "-DVALUE=1 and =2 gave the same object" || ok
# Flags that change what clang writes or reads are refused; flags that
# contradict the PCH say so (and do not make it again each time).
expect 1 "" "compiler flag '-E' is not allowed" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f3.o" -- -E
expect 1 "" "compiler flag '-MD' is not allowed" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f3.o" -- -DVALUE=1 -MD
expect 1 "" "contradict visor's precompiled kernel header" -- "$visor" compile "$tmp/hello.c" -o "$tmp/f3.o" -- -fno-builtin
expect 0 "" "" -- "$visor" compile "$tmp/flag.c" -o "$tmp/f3.o" -- -I -o -DVALUE=3

# ---- Environment ----------------------------------------------------------
expect 1 "" "no kernel BTF at /nonexistent" -- env VISOR_BTF=/nonexistent "$visor" compile "$tmp/hello.c" -o "$tmp/e.o"
head -c 65536 /dev/urandom | tr -d '\237' >"$tmp/garbage.btf"
expect 1 "" "garbage.btf: not a BTF file" -- env VISOR_BTF="$tmp/garbage.btf" "$visor" compile "$tmp/hello.c" -o "$tmp/e.o"
expect 1 "" "/bin/sh: not a valid ELF file with a .BTF section" -- env VISOR_BTF=/bin/sh "$visor" compile "$tmp/hello.c" -o "$tmp/e.o"
expect 1 "" "clang-19 not found" -- env VISOR_CLANG=/nonexistent "$visor" compile --no-cache "$tmp/hello.c" -o "$tmp/e.o"
expect 1 "" "/bin/false exited with status 1" -- env VISOR_CLANG=/bin/false "$visor" compile --no-cache "$tmp/hello.c" -o "$tmp/e.o"
expect 1 "" "/bin/true exited 0 but wrote no" -- env VISOR_CLANG=/bin/true "$visor" compile --no-cache "$tmp/hello.c" -o "$tmp/e.o"
expect 1 "" "cache directory /proc/x" -- env VISOR_CACHE_DIR=/proc/x "$visor" compile "$tmp/hello.c" -o "$tmp/e.o"
[ ! -e "$tmp/e.o" ] && ok || bad "a failed compile wrote -o"
no_tmp "environment failures"

# ---- The cache --------------------------------------------------------------
# An object cut in half is detected and compiled again.
obj=$(ls -t "$VISOR_CACHE_DIR"/obj/*.o | head -n 1)
for o in "$VISOR_CACHE_DIR"/obj/*.o; do truncate -s $(( $(stat -c %s "$o") / 2 )) "$o"; done
expect 0 "" "clang-19" -- "$visor" compile -v "$tmp/hello.c" -o "$tmp/again.o"
cmp -s "$tmp/again.o" "$tmp/hello.o" && ok || bad "the recompiled object differs"
# The PCH deleted, then cut short: made again.
rm -f "$VISOR_CACHE_DIR"/btf-*/visor_pch-*.pch
expect 0 "" "header made" -- "$visor" compile -v --no-cache "$tmp/hello.c" -o "$tmp/again.o"
for p in "$VISOR_CACHE_DIR"/btf-*/visor_pch-*.pch; do truncate -s 100000 "$p"; done
expect 0 "" "header made" -- "$visor" compile -v --no-cache "$tmp/hello.c" -o "$tmp/again.o"
for p in "$VISOR_CACHE_DIR"/btf-*/visor_pch-*.pch; do truncate -s 100000 "$p"; done
expect 0 "" "header made" -- "$visor" compile -v --plain --no-cache "$tmp/flag.c" -o "$tmp/again.o" -- -DVALUE=1
# Ten compiles of one source at once in an empty cache: all succeed with the
# same object, vmlinux.h and its PCH are made once (the others wait), no
# temporaries stay.
export VISOR_CACHE_DIR=$tmp/cache-par
for i in 0 1 2 3 4 5 6 7 8 9; do "$visor" compile "$tmp/hello.c" -o "$tmp/par$i.o" 2>"$tmp/par$i.err" & done
wait
good=0; for i in 0 1 2 3 4 5 6 7 8 9; do cmp -s "$tmp/par0.o" "$tmp/par$i.o" && good=$((good + 1)); done
[ $good = 10 ] && ok || bad "parallel compiles: $good of 10 gave the object ($(cat "$tmp"/par*.err | head -c 300))"
made=$(cat "$tmp"/par*.err | grep -c "generating vmlinux.h")
[ "$made" = 1 ] && ok || bad "parallel compiles made vmlinux.h $made times"
[ "$(ls "$VISOR_CACHE_DIR"/btf-*/ | grep -c 'visor_pch-.*\.pch$')" = 1 ] && ok || bad "parallel compiles: not one PCH"
no_tmp "parallel compiles"
export VISOR_CACHE_DIR=$tmp/cache

# A tracepoint in the wrong category (the event exists elsewhere): with
# tracefs readable (root) that is an error, not BTF's struct of the event.
if [ "$(id -u)" = 0 ]; then
	printf 'TRACEPOINT_PROBE(syscalls, sched_process_exec) { return 0; }\n' >"$tmp/tpcat.c"
	"$visor" compile "$tmp/tpcat.c" -o "$tmp/tpcat.o" 2>"$tmp/tpcat.err"; st=$?
	[ "$st" = 1 ] && grep -q "tpcat.c:1:1: error: no tracepoint syscalls/sched_process_exec" "$tmp/tpcat.err" &&
		ok || bad "wrong tracepoint category -> $st: $(cat "$tmp/tpcat.err")"
fi

# ---- Unprivileged ------------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env VISOR_CACHE_DIR="$tmp/nobody" "$@"; }
	mkdir "$tmp/nobody" "$tmp/nb"; chown nobody "$tmp/nobody" "$tmp/nb"
	cp "$tmp/hello.c" "$tmp/nb/hello.c"; cp "$tmp/hello.c" "$tmp/nb/secret.c"; chmod 600 "$tmp/nb/secret.c"; chown root "$tmp/nb/secret.c"
	expect 1 "" "secret.c: Permission denied" -- as_nobody "$visor" compile "$tmp/nb/secret.c" -o "$tmp/nb/s.o"
	expect 1 "" "cache directory $tmp/ro/c: Permission denied" -- setpriv --reuid=nobody --regid=nogroup --clear-groups env VISOR_CACHE_DIR="$tmp/ro/c" "$visor" compile "$tmp/nb/hello.c" -o "$tmp/nb/h.o"
	expect 0 "" "" -- as_nobody "$visor" compile "$tmp/nb/hello.c" -o "$tmp/nb/h.o"
	expect 1 "" "needs root or CAP_BPF" -- as_nobody "$visor" run "$tmp/nb/hello.c" --duration 1
else
	echo "unprivileged cases skipped: need root and setpriv"
fi

# ---- Signals and attachments (kernel) ---------------------------------------
if [ "$(id -u)" = 0 ] && "$visor" prog list >/dev/null 2>&1; then
	name=vrb$$
	# Is program $name still loaded? The kernel frees programs from deferred
	# work (RCU) after the last reference: wait for that, bounded.
	still_loaded() {
		for _ in $(seq 50); do "$visor" prog list 2>&1 | grep -q "$name" || return 1; sleep 0.1; done
		return 0
	}
	printf 'SEC("tracepoint/syscalls/sys_enter_getpid")\nint %s(void *ctx) { return 0; }\n' "$name" >"$tmp/sig.c"
	# SIGINT while running: detached and unloaded; exit 0.
	timeout --preserve-status -s INT 1.5 "$visor" run "$tmp/sig.c" >/dev/null 2>"$tmp/err"; st=$?
	[ $st = 0 ] && ok || bad "SIGINT while running: status $st: $(cat "$tmp/err")"
	still_loaded && bad "SIGINT left $name loaded" || ok
	# SIGINT while compiling (a new source: a miss): interrupted, no temporaries.
	printf 'SEC("tracepoint/syscalls/sys_enter_getpid")\nint %s(void *ctx) { return 1; }\n' "$name" >"$tmp/sig2.c"
	timeout --preserve-status -s INT 0.2 "$visor" run "$tmp/sig2.c" >/dev/null 2>"$tmp/err"; st=$?
	{ [ $st = 130 ] && grep -q "interrupted while compiling" "$tmp/err"; } || [ $st = 0 ] && ok || bad "SIGINT while compiling: status $st: $(cat "$tmp/err")"
	sleep 0.3
	no_tmp "SIGINT while compiling"
	still_loaded && bad "SIGINT left $name loaded" || ok
	# An attach point that does not exist: one line naming it, nothing left.
	printf 'SEC("tracepoint/syscalls/sys_enter_nope")\nint %s(void *ctx) { return 0; }\n' "$name" >"$tmp/nope.c"
	expect 1 "" "no tracepoint syscalls/sys_enter_nope" -- "$visor" run "$tmp/nope.c" --duration 0.1
	still_loaded && bad "a failed attach left $name loaded" || ok
else
	echo "kernel cases skipped: need root and bpf()"
fi

finish cli_test_frontend_errors
