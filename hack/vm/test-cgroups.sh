#!/usr/bin/env bash
# Run keel's cgroup, lifecycle and events integration tests in the test VM, on a pure
# cgroup v2 host (the default) or a pure v1 one, which this project's hybrid
# machines cannot be; and the AppArmor tests, since the guest has AppArmor
# and this project's hosts do not.
#
#   hack/vm/test-cgroups.sh [--v2|--v1] [--timeout SECONDS] [--suites LIST]
#                           [TEST ARGS...]
#
# LIST: the test files to run, comma-separated (default
# cgroups,lifecycle,events,apparmor; `--suites apparmor` runs just that).
# TEST ARGS go to every test binary (a name filter, --exact, ...). The
# binaries are built here on the host and run in the guest from the same
# absolute paths, which they have built in: the keel binary
# (CARGO_BIN_EXE_keel), hack/mkbundle.sh and the bundle template under the
# target's tmp directory (CARGO_TARGET_TMPDIR). The guest may write to that
# tmp directory (a tmpfs overlay); the host's copy is left as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."

layout=--v2
timeout=1800
suites=cgroups,lifecycle,events,apparmor
while [ $# -gt 0 ]; do
	case $1 in
	--v1 | --v2) layout=$1 ;;
	--timeout) timeout=$2; shift ;;
	--suites) suites=$2; shift ;;
	*) break ;;
	esac
	shift
done
IFS=, read -r -a tests <<<"$suites"

# tests/apparmor.rs loads its test profile with apparmor_parser, which the
# guest runs from the host's /usr: the package is installed here, on the
# host. Unlike the engines' daemons (integration/lib/setup.sh) it needs no
# policy-rc.d guard: its maintainer scripts enable the apparmor unit but
# never start it (no invoke-rc.d), and reload profiles only where AppArmor
# is on, which this project's hosts' kernel does not have.
# A removed apparmor whose config was kept counts as missing (pkg.sh):
# without apparmor_parser the AppArmor tests would skip silently.
if [[ ",$suites," == *,apparmor,* ]]; then
	. hack/lib/pkg.sh
	ensure_packages apparmor
fi
# cargo names each artifact it builds; the test harness executables and
# keel's own binary are the ones needed.
plan=$(cargo test --no-run --message-format=json "${tests[@]/#/--test=}" |
	python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    target = msg["target"]
    print(target["kind"][0], target["name"], msg["executable"])
')
binary() {
	awk -v kind="$1" -v name="$2" '$1 == kind && $2 == name { print $3 }' <<<"$plan"
}
keel=$(binary bin keel)
[ -n "$keel" ] || { echo "$0: cargo built no keel binary" >&2; exit 1; }
target=${keel%/*/keel}
run=()
for test in "${tests[@]}"; do
	path=$(binary test "$test")
	[ -n "$path" ] || { echo "$0: cargo built no $test test binary" >&2; exit 1; }
	run+=("$path")
done

# The bundle template is made with the host's busybox-static by whichever
# side runs the suite first; a template the host's suite already made is
# reused by the guest (the same keel binary, so the same stamp). dpkg's
# database lets mkbundle.sh see that busybox-static is installed.
mkdir -p "$target/tmp"
share=(--share /var/lib/dpkg --writable "$target/tmp")
case $target/ in
"$PWD"/*) ;;
*) share+=(--share "$target") ;;
esac

# One guest for both binaries: booting costs more than either suite's setup.
exec hack/vm/run.sh "$layout" --timeout "$timeout" "${share[@]}" -- \
	hack/vm/guest-tests.sh "${#run[@]}" "${run[@]}" "$@"
