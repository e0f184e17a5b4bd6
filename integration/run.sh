#!/usr/bin/env bash
# End-to-end suite: containerd (ctr), podman (conmon) and dockerd run
# containers through the runtime under test, called by path with runc's
# command line. Prints an engine × operation table; exits 1 if any check
# failed or anything was left behind.
#
#   integration/run.sh                          # keel (target/debug/keel)
#   RUNTIME=/usr/sbin/runc integration/run.sh   # the same suite with runc
#   ENGINES="podman docker" integration/run.sh  # a subset
#   ONLY="run_tty run_tty" integration/run.sh    # chosen checks (repeats run again)
set -euo pipefail
INTEGRATION=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$INTEGRATION")
. "$INTEGRATION/lib/common.sh"
. "$INTEGRATION/lib/setup.sh"

[ "$(id -u)" -eq 0 ] || { say "$0: the engines need root"; exit 1; }
ENGINES=${ENGINES:-containerd podman docker}
RUNTIME=${RUNTIME:-$REPO/target/debug/keel}
if [ "$RUNTIME" = "$REPO/target/debug/keel" ] && [ ! -x "$RUNTIME" ]; then
	(cd "$REPO" && cargo build)
fi
RUNTIME=$(realpath "$RUNTIME")
[ -x "$RUNTIME" ] || { say "$0: runtime $RUNTIME is not executable"; exit 1; }

if [ -z "${E2E_SUBREAPER:-}" ]; then
	LOGS=$(mktemp -d /tmp/engines-logs.XXXXXX)
	install_engines
	# Shims and conmon daemonize; as the subreaper of everything it starts,
	# this script gets them back, reaps them, and can end any that is left
	# (pid 1 here reaps orphans late).
	export E2E_SUBREAPER=1 LOGS RUNTIME ENGINES
	exec python3 -c '
import ctypes, os, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
os.execv("/bin/bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi

cleanup() {
	set +e
	for engine in $ENGINES; do
		[ "$(type -t "${engine}_stop")" != function ] || "${engine}_stop"
	done
	[ "$(type -t containerd_daemon_stop)" != function ] || containerd_daemon_stop
	kill_leftover_children
	unmount_leftovers
	remove_engine_cgroups
	remove_host_paths
	# containerd's shims keep their sockets in /run/containerd/s whatever
	# the config says, and podman calls runc without --root (/run/runc):
	# these go if the suite made them and they are empty.
	local dir
	for dir in /run/containerd/s /run/containerd /run/runc; do
		case " $RUN_DIRS_BEFORE " in *" $dir "*) ;; *) rmdir "$dir" 2>/dev/null ;; esac
	done
	local left
	left=$(leftovers)
	if [ -n "$left" ]; then
		say "left behind:"
		say "$left"
		LEFT_BEHIND=1
	else
		rm -rf --one-file-system "$T"
	fi
}

# What was there before the suite, so that clean-up removes only its own.
CGROUP_TOPS_BEFORE=$(echo /sys/fs/cgroup/*)
HOST_PATHS_BEFORE=$(host_paths_present | tr '\n' ' ')
RUN_DIRS_BEFORE=$(for d in /run/containerd/s /run/containerd /run/runc; do [ ! -d "$d" ] || echo "$d"; done)
T=$(mktemp -d /tmp/engines.XXXXXX)
trap 'exit 130' INT TERM
trap 'cleanup' EXIT
RESULTS=$LOGS/results.tsv
ROOTFS_TAR=$T/busybox-rootfs.tar
: >"$RESULTS"
for engine in $ENGINES; do
	. "$INTEGRATION/engines/$engine.sh"
done
[[ " $ENGINES " == *" docker "* ]] && . "$INTEGRATION/engines/containerd.sh"
. "$INTEGRATION/lib/checks.sh"
if [ -n "${ONLY:-}" ]; then
	# shellcheck disable=SC2207,SC2086 # check names are single words
	CHECKS=($(printf '%s\n' $ONLY | awk '!seen[$0]++'))
fi

VERSION=$("$RUNTIME" --version)
VERSION=${VERSION%%$'\n'*}
say "runtime under test: $RUNTIME ($VERSION)"
make_rootfs_tar
runtime_missing_program_error

[ "$(type -t containerd_daemon_start)" != function ] || containerd_daemon_start
for engine in $ENGINES; do
	say "=== $engine"
	if ! "${engine}_start"; then
		say "$engine could not be set up: every check fails"
		for check in "${CHECKS[@]}"; do printf '%s\t%s\tfail\n' "$engine" "$check" >>"$RESULTS"; done
		continue
	fi
	for check in ${ONLY:-${CHECKS[*]}}; do # ONLY may repeat a check
		run_check "$engine" "$check"
	done
	"${engine}_stop"
done

trap - EXIT
LEFT_BEHIND=
cleanup

echo
echo "Engines with $VERSION ($(date -u +%F)):"
echo
rc=0
# shellcheck disable=SC2086 # one word per engine
print_table $ENGINES || rc=1
passed=$(grep -c 'pass$' "$RESULTS" || true)
failed=$(grep -c 'fail$' "$RESULTS" || true)
skipped=$(grep -c 'n/a$' "$RESULTS" || true)
echo
if [ -n "$LEFT_BEHIND" ]; then
	echo "the suite left things behind (listed above)"
	rc=1
fi
echo "engines: $passed passed, $failed failed, $skipped skipped"
if [ "$rc" -eq 0 ] && [ -z "${KEEP_LOGS:-}" ]; then rm -rf "$LOGS"; else echo "logs: $LOGS"; fi
exit "$rc"
