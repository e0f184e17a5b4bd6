# Shared helpers of the engine suite: bounded engine calls, polling,
# assertions, the result table. Sourced by integration/run.sh.

# Every engine call is bounded: a hung daemon or runtime must fail the check
# it is in, not stall CI. -k: SIGKILL if SIGTERM is not enough.
CALL_TIMEOUT=${CALL_TIMEOUT:-120}
bounded() { timeout -k 10 "$CALL_TIMEOUT" "$@"; }

say() { printf '%s\n' "$*" >&2; }

# fail MESSAGE: record why the current check failed (the check then returns 1).
fail() {
	say "FAIL: $*"
	return 1
}

# poll SECONDS COMMAND...: run COMMAND until it succeeds or SECONDS pass.
# Waiting on a condition, not a sleep: the 0.1 s between tries only keeps the
# loop from spinning on a busy machine.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

expect_eq() { # WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

expect_contains() { # WHAT NEEDLE HAYSTACK
	case "$3" in
	*"$2"*) return 0 ;;
	esac
	fail "$1: '$2' not found in: $3"
}

# status COMMAND...: print COMMAND's exit status (its output goes to stderr,
# i.e. the check's log), so `rc=$(status ...)` works under `set -e`.
status() {
	local rc=0
	"$@" >&2 || rc=$?
	echo "$rc"
}

# A check's status when the engine has no command for its operation.
NOT_APPLICABLE=77

# Results: one line "engine<TAB>check<TAB>pass|fail" per check run.
RESULTS=${RESULTS:-}

# run_check ENGINE CHECK: run check_CHECK for ENGINE with its output in a log
# of its own, record the result, and show the log when the check fails.
run_check() {
	local engine=$1 check=$2 log rc=0
	log=$LOGS/$engine-$check.log
	say "--- $engine: $check"
	# In the background, then waited for: bash ignores set -e in a subshell
	# whose status is tested (`( ... ) || rc=$?`), and every check relies on
	# it to stop at the first failed step, inside $(...) too.
	(
		set -euo pipefail
		shopt -s inherit_errexit
		"check_$check" "$engine"
	) >"$log" 2>&1 </dev/null &
	wait $! || rc=$?
	if [ "$rc" -eq 0 ]; then
		printf '%s\t%s\tpass\n' "$engine" "$check" >>"$RESULTS"
	elif [ "$rc" -eq "$NOT_APPLICABLE" ]; then
		printf '%s\t%s\tn/a\n' "$engine" "$check" >>"$RESULTS"
	else
		printf '%s\t%s\tfail\n' "$engine" "$check" >>"$RESULTS"
		say "    failed (exit $rc); log $log:"
		tail -n 30 "$log" | sed 's/^/    | /' >&2
	fi
}

# print_table ENGINES...: the check × engine table, as Markdown so it can go
# into the README as it is. Returns 1 if any check failed.
print_table() {
	local engines=("$@") header="| operation |" rule="| --- |" check engine r failed=0
	for engine in "${engines[@]}"; do
		header+=" $engine |"
		rule+=" --- |"
	done
	echo "$header"
	echo "$rule"
	for check in "${CHECKS[@]}"; do
		local row
		row="| $(check_title "$check") |"
		for engine in "${engines[@]}"; do
			r=$(awk -F'\t' -v e="$engine" -v c="$check" '$1 == e && $2 == c { print $3 }' "$RESULTS")
			[ "$r" = pass ] || [ "$r" = n/a ] || failed=1
			row+=" ${r:-not run} |"
		done
		echo "$row"
	done
	return "$failed"
}
