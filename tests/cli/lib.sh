# Shared by the tests/cli/test_*.sh scripts: counters, expect, the summary.
# The sourcing script sets $tmp (a scratch directory) first.
pass=0; fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect STATUS OUT_SUBSTRING ERR_SUBSTRING -- command...
# Runs the command without stdin; checks its exit status, that stdout and
# stderr contain the given strings (empty: not checked), and that a failure
# (status 1) says why in exactly one line.
expect() {
	local want_status=$1 want_out=$2 want_err=$3; shift 4
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local st=$?
	if [ "$st" != "$want_status" ]; then bad "$* -> status $st, want $want_status ($(head -c 300 "$tmp/err"))"; return; fi
	if [ -n "$want_out" ] && ! grep -qF -- "$want_out" "$tmp/out"; then bad "$* -> stdout lacks '$want_out': $(head -c 300 "$tmp/out")"; return; fi
	if [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$tmp/err"; then bad "$* -> stderr lacks '$want_err': $(head -c 300 "$tmp/err")"; return; fi
	if [ "$want_status" = 1 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then bad "$* -> error is not one line: $(cat "$tmp/err")"; return; fi
	ok
}

# finish NAME: the summary line, and the exit status.
finish() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
