#!/bin/bash
# visor compile-server: the resident compile server. Objects and messages
# made through it are byte for byte those of a compile without it (BCC
# dialect, plain C, errors found by the rewriter and by clang only); -v says
# who compiled; start/status/stop/run and their errors; a second start; a
# killed server (compiles fall back); `visor compile` starting one;
# VISOR_COMPILE_SERVER=0; another build (its own server); exit when idle,
# when its socket goes, when stopped; no process left behind.
# Usage: test_compile_server.sh VISOR SOURCE_DIR
visor=${1:?visor binary}; src=${2:?source dir}
tmp=$(mktemp -d)
export VISOR_CACHE_DIR=$tmp/cache
unset VISOR_BTF VISOR_CLANG VISOR_COMPILE_SERVER VISOR_COMPILE_SERVER_IDLE VISOR_CLANG_MODULE
pids=()
cleanup() {
	"$visor" compile-server stop >/dev/null 2>&1
	VISOR_CLANG_MODULE=$tmp/other.so "$visor" compile-server stop >/dev/null 2>&1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "SKIP cli_test_compile_server: no readable /sys/kernel/btf/vmlinux"; exit 77; fi
if ! command -v clang-19 >/dev/null && [ ! -x /usr/lib/llvm-19/bin/clang ]; then
	echo "SKIP cli_test_compile_server: clang-19 not installed"; exit 77
fi
module=$(dirname "$visor")/libvisor-clang.so
if [ ! -f "$module" ]; then
	echo "SKIP cli_test_compile_server: $module not built (needs clang++-19 and llvm-19-dev)"; exit 77
fi

# pid of the running server (empty: none)
server_pid() { "$visor" compile-server status "$@" 2>/dev/null | sed -n 's/^compile server: pid \([0-9]*\),.*/\1/p'; }
# wait_until SECONDS COMMAND...: bounded polling
wait_until() {
	local t=$1; shift
	for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done
	return 1
}
no_server() { [ -z "$(server_pid)" ]; }
has_server() { [ -n "$(server_pid)" ]; }
# Same object: the same bytes, or (clang-19 emits the BTF of kernel types in
# an order that varies from run to run, with or without a server) the same
# code, relocations and sections.
same_object() {
	cmp -s "$1" "$2" && return 0
	[ "$(llvm-objdump-19 -d -r "$1" | tail -n +3)" = "$(llvm-objdump-19 -d -r "$2" | tail -n +3)" ] &&
		[ "$(llvm-readelf-19 -S -W "$1" | tail -n +2)" = "$(llvm-readelf-19 -S -W "$2" | tail -n +2)" ]
}
other_pid() { VISOR_CLANG_MODULE=$tmp/other.so server_pid; }
has_other() { [ -n "$(other_pid)" ]; }
# gone PID: exited (a zombie counts: daemons are reparented, and a PID 1
# that does not reap would keep them)
gone() {
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 0
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
# every server process of this test's cache (servers and their spares, not
# this script's own commands, which share its environment)
ours() {
	grep -lsz "^VISOR_CACHE_DIR=$VISOR_CACHE_DIR\$" /proc/[0-9]*/environ 2>/dev/null |
		sed -n 's|/proc/\([0-9]*\)/environ|\1|p' | while read -r p; do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
		{ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q "compile-server run" && echo "$p"
	done
}

expect 0 "usage: visor compile-server" "" -- "$visor" compile-server --help
expect 2 "" "usage: visor compile-server" -- "$visor" compile-server
expect 2 "" "usage: visor compile-server" -- "$visor" compile-server start stop
expect 2 "" "unknown action 'frob'" -- "$visor" compile-server frob
expect 2 "" "--idle x: want a number of seconds" -- "$visor" compile-server start --idle x
expect 1 "" "visor: compile-server: libvisor-clang.so not found" -- env VISOR_CLANG_MODULE=$tmp/none.so "$visor" compile-server start
printf 'not a module' >"$tmp/bad.so"
expect 1 "" "visor: compile-server: $tmp/bad.so: " -- env VISOR_CLANG_MODULE=$tmp/bad.so "$visor" compile-server run
"$visor" compile-server status >"$tmp/out" 2>&1; [ $? = 1 ] && grep -qx "no compile server runs" "$tmp/out" && ok || bad "status without a server: $(cat "$tmp/out")"
expect 1 "" "visor: compile-server: no compile server at $VISOR_CACHE_DIR/compile-server-" -- "$visor" compile-server stop

cat >"$tmp/hello.c" <<'E'
int kprobe__sys_clone(void *ctx)
{
	bpf_trace_printk("Hello, World!\n");
	return 0;
}
E
cat >"$tmp/tables.c" <<'E'
#include <linux/sched.h>
BPF_HASH(counts, u32, u64);
BPF_HISTOGRAM(dist);
int kprobe__sys_clone(struct pt_regs *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	u32 ppid = t->real_parent->tgid;
	counts.increment(ppid);
	dist.increment(bpf_log2l(ppid));
	return 0;
}
E
cat >"$tmp/plain.c" <<'E'
SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx) { return VALUE; }
char _license[] SEC("license") = "GPL";
E
# Errors: one the rewriter finds (libclang), one only clang's compile does.
printf 'BPF_HASH(t, u32, u64);\nint kprobe__sys_clone(void *ctx)\n{\n\tu32 k = 1;\n\tt.lookupp(&k);\n\treturn 1 +;\n}\n' >"$tmp/bad.c"
printf '#ifndef __VISOR_PARSE__\n#error only clang sees this\n#endif\nint kprobe__sys_clone(void *ctx) { return 0; }\n' >"$tmp/bad2.c"

# compile NAME [visor compile args...]: status, stdout+stderr in $tmp/NAME.msg
compile() {
	local name=$1; shift
	"$visor" compile "$@" >"$tmp/$name.msg" 2>&1 </dev/null
}

# References, without a server (and VISOR_COMPILE_SERVER=0 starts none).
export VISOR_COMPILE_SERVER=0
for f in hello tables; do
	compile "$f.ref" --no-cache "$tmp/$f.c" -o "$tmp/$f.ref.o" && ok || bad "$f.c: $(cat "$tmp/$f.ref.msg")"
done
compile plain.ref --no-cache --plain "$tmp/plain.c" -o "$tmp/plain.ref.o" -- -DVALUE=7 && ok || bad "plain.c: $(cat "$tmp/plain.ref.msg")"
compile bad.ref "$tmp/bad.c" -o "$tmp/bad.o"; [ $? = 1 ] && ok || bad "bad.c compiled"
compile bad2.ref "$tmp/bad2.c" -o "$tmp/bad2.o"; [ $? = 1 ] && grep -q "bad2.c:2:2: error: only clang sees this" "$tmp/bad2.ref.msg" && ok \
	|| bad "bad2.c: $(cat "$tmp/bad2.ref.msg")"
no_server && ok || bad "VISOR_COMPILE_SERVER=0 started a server"
unset VISOR_COMPILE_SERVER

expect 0 "compile server started: pid" "" -- "$visor" compile-server start --idle 120
pid=$(server_pid)
[ -n "$pid" ] && pids+=("$pid") && ok || bad "no pid from status after start"
expect 0 "a compile server runs already: pid $pid" "" -- "$visor" compile-server start
[ -S "$VISOR_CACHE_DIR"/compile-server-*.sock ] && ok || bad "no socket in the cache directory"
if [ "$(stat -c %a "$VISOR_CACHE_DIR"/compile-server-*.sock)" = 700 ]; then ok; else bad "socket mode $(stat -c %a "$VISOR_CACHE_DIR"/compile-server-*.sock)"; fi

# Through the server: the same objects (hello.c and plain.c: the same
# bytes), the same messages.
for f in hello tables; do
	compile "$f.srv" -v --no-cache "$tmp/$f.c" -o "$tmp/$f.srv.o"
	grep -q "by the compile server" "$tmp/$f.srv.msg" && ok || bad "$f.c not compiled by the server: $(cat "$tmp/$f.srv.msg")"
	same_object "$tmp/$f.ref.o" "$tmp/$f.srv.o" && ok || bad "$f.c: the server's object differs"
done
cmp -s "$tmp/hello.ref.o" "$tmp/hello.srv.o" && ok || bad "hello.c: the server's object has other bytes"
compile plain.srv -v --no-cache --plain "$tmp/plain.c" -o "$tmp/plain.srv.o" -- -DVALUE=7
grep -q "by the compile server" "$tmp/plain.srv.msg" && cmp -s "$tmp/plain.ref.o" "$tmp/plain.srv.o" && ok \
	|| bad "plain.c through the server: $(cat "$tmp/plain.srv.msg")"
for f in bad bad2; do
	compile "$f.srv" "$tmp/$f.c" -o "$tmp/$f.o"; st=$?
	[ $st = 1 ] && diff -u "$tmp/$f.ref.msg" "$tmp/$f.srv.msg" >"$tmp/diff" && ok \
		|| bad "$f.c through the server: status $st: $(cat "$tmp/diff")"
done
# Relative paths are the client's: the source's own directory ("..."
# includes) and -I DIR, from a directory of its own, and a relative cache.
mkdir -p "$tmp/proj/inc"
printf '#define GREETING "from inc.h\\n"\n' >"$tmp/proj/inc.h"
printf '#define ANSWER 42\n' >"$tmp/proj/inc/answer.h"
printf '#include "inc.h"\n#include <answer.h>\nint kprobe__sys_clone(void *ctx)\n{\n\tbpf_trace_printk(GREETING);\n\treturn ANSWER;\n}\n' >"$tmp/proj/rel.c"
(cd "$tmp" && VISOR_COMPILE_SERVER=0 "$visor" compile --no-cache proj/rel.c -o proj/rel.ref.o -- -I proj/inc) >"$tmp/rel.ref.msg" 2>&1 \
	&& ok || bad "relative paths without a server: $(cat "$tmp/rel.ref.msg")"
(cd "$tmp" && "$visor" compile -v --no-cache proj/rel.c -o proj/rel.srv.o -- -I proj/inc) >"$tmp/rel.srv.msg" 2>&1
grep -q "by the compile server" "$tmp/rel.srv.msg" && same_object "$tmp/proj/rel.ref.o" "$tmp/proj/rel.srv.o" && ok \
	|| bad "relative paths through the server: $(cat "$tmp/rel.srv.msg")"
# clang's environment is the client's: CPATH finds answer.h.
(cd "$tmp" && CPATH=$tmp/proj/inc "$visor" compile -v --no-cache proj/rel.c -o proj/rel.env.o) >"$tmp/rel.env.msg" 2>&1
grep -q "by the compile server" "$tmp/rel.env.msg" && same_object "$tmp/proj/rel.ref.o" "$tmp/proj/rel.env.o" && ok \
	|| bad "CPATH through the server: $(cat "$tmp/rel.env.msg")"
(cd "$tmp" && VISOR_CACHE_DIR=cache "$visor" compile-server status) | grep -q "^compile server: pid $pid," && ok \
	|| bad "a relative VISOR_CACHE_DIR does not find the server"
served=$("$visor" compile-server status | sed -n 's/.* \([0-9]*\) compiles* served.*/\1/p')
[ "${served:-0}" -ge 5 ] && ok || bad "status says ${served:-no} compiles served, want 5 or more"
# ... and an unset one too: a server started with CPATH set does not lend
# it to a client without it.
"$visor" compile-server stop >/dev/null
CPATH=$tmp/proj/inc "$visor" compile-server start >/dev/null && ok || bad "restart with CPATH"
pid=$(server_pid); pids+=("$pid")
(cd "$tmp" && "$visor" compile --no-cache proj/rel.c -o proj/rel.noenv.o) >"$tmp/rel.noenv.msg" 2>&1
[ $? = 1 ] && grep -q "'answer.h' file not found" "$tmp/rel.noenv.msg" && ok \
	|| bad "without CPATH or -I, answer.h was found: $(cat "$tmp/rel.noenv.msg")"
"$visor" compile-server status | grep -q " 1 compile served" && ok || bad "the failing compile did not go to the server"
# What the module does not do, visor does not send: response files.
printf -- '-DVALUE=7\n' >"$tmp/flags"
compile plain.rsp -v --no-cache --plain "$tmp/plain.c" -o "$tmp/plain.rsp.o" -- "@$tmp/flags"
! grep -q "by the compile server" "$tmp/plain.rsp.msg" && cmp -s "$tmp/plain.ref.o" "$tmp/plain.rsp.o" && ok \
	|| bad "a response file: $(cat "$tmp/plain.rsp.msg")"
# Cached objects need no server (nor do they start one).
compile hello.cached -v "$tmp/hello.c" -o "$tmp/hello.c2.o"; grep -q "cached object" "$tmp/hello.cached.msg" && ok || bad "not cached"
# VISOR_COMPILE_SERVER=0 keeps a running server unused.
VISOR_COMPILE_SERVER=0 compile hello.off -v --no-cache "$tmp/hello.c" -o "$tmp/hello.off.o"
! grep -q "by the compile server" "$tmp/hello.off.msg" && cmp -s "$tmp/hello.ref.o" "$tmp/hello.off.o" && ok \
	|| bad "VISOR_COMPILE_SERVER=0 used the server: $(cat "$tmp/hello.off.msg")"

# Another build (here: another module file) has its own server; this one's stays.
cp "$module" "$tmp/other.so" && touch -d '2001-01-01' "$tmp/other.so"
VISOR_CLANG_MODULE=$tmp/other.so compile other -v --no-cache "$tmp/hello.c" -o "$tmp/hello.other.o"
! grep -q "by the compile server" "$tmp/other.msg" && cmp -s "$tmp/hello.ref.o" "$tmp/hello.other.o" && ok \
	|| bad "another build used this build's server: $(cat "$tmp/other.msg")"
if wait_until 30 has_other; then
	opid=$(other_pid); pids+=("$opid")
	[ "$opid" != "$pid" ] && ok || bad "two builds share a server"
	expect 0 "compile server stopped" "" -- env VISOR_CLANG_MODULE="$tmp/other.so" "$visor" compile-server stop
	wait_until 5 gone "$opid" && ok || bad "the other build's server $opid survived stop"
else
	bad "visor compile did not start a server for the other build"
fi
[ "$(server_pid)" = "$pid" ] && ok || bad "this build's server went away"

# A killed server: compiles fall back (its socket file stays behind), and
# visor compile starts a new one after a compile that had none.
kill -9 "$pid"
wait_until 5 gone "$pid" && ok || bad "server $pid does not die"
"$visor" compile-server status >"$tmp/out" 2>&1; [ $? = 1 ] && grep -qx "no compile server runs" "$tmp/out" && ok || bad "status without a server: $(cat "$tmp/out")"
compile hello.dead -v --no-cache "$tmp/hello.c" -o "$tmp/hello.dead.o"
! grep -q "by the compile server" "$tmp/hello.dead.msg" && cmp -s "$tmp/hello.ref.o" "$tmp/hello.dead.o" && ok \
	|| bad "compile with a dead server's socket: $(cat "$tmp/hello.dead.msg")"
if wait_until 30 has_server; then ok; else bad "visor compile started no server"; fi
pid=$(server_pid); pids+=("$pid")
compile hello.auto2 -v --no-cache "$tmp/hello.c" -o "$tmp/hello.auto2.o"
grep -q "by the compile server" "$tmp/hello.auto2.msg" && ok || bad "the started server was not used: $(cat "$tmp/hello.auto2.msg")"
# ... and it stops, cleanly.
expect 0 "compile server stopped" "" -- "$visor" compile-server stop
wait_until 5 gone "$pid" && ok || bad "server $pid survived stop"
ls "$VISOR_CACHE_DIR"/compile-server-*.sock >/dev/null 2>&1 && bad "stop left the socket" || ok

# Idle: it exits by itself.
expect 0 "compile server started" "" -- "$visor" compile-server start --idle 3
pid=$(server_pid); pids+=("$pid")
[ -n "$pid" ] && wait_until 30 gone "$pid" && ok || bad "server '$pid' did not exit when idle"
# Its socket removed (the cache cleared): it exits.
expect 0 "compile server started" "" -- "$visor" compile-server start
pid=$(server_pid); pids+=("$pid")
rm -f "$VISOR_CACHE_DIR"/compile-server-*.sock
[ -n "$pid" ] && wait_until 30 gone "$pid" && ok || bad "server '$pid' did not exit without its socket"
# run in the foreground, stopped by SIGTERM.
"$visor" compile-server run --idle 60 2>"$tmp/run.err" &
fg=$!; pids+=("$fg")
wait_until 30 has_server && ok || bad "compile-server run did not come up: $(cat "$tmp/run.err")"
expect 1 "" "visor: compile-server: a compile server already runs" -- "$visor" compile-server run
kill -TERM "$fg"; wait "$fg"; st=$?
[ $st = 0 ] && ok || bad "compile-server run exited $st on SIGTERM: $(cat "$tmp/run.err")"

# Nothing of ours is left running.
for p in "${pids[@]}"; do [ -z "$p" ] || gone "$p" || bad "process $p still runs"; done
left=$(ours); [ -z "$left" ] && ok || bad "processes of this test still run: $(for p in $left; do tr '\0' ' ' </proc/$p/cmdline; echo " (pid $p, parent $(awk '{print $4}' /proc/$p/stat))"; done)"

finish cli_test_compile_server
