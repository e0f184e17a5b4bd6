#!/usr/bin/env bash
# Fail if containers, state, mounts, processes or cgroups from keel or its
# tests are left on the machine. Run after the test suite (hack/test.sh does).
set -euo pipefail

problems=0
report() {
	echo "leftover: $*" >&2
	problems=$((problems + 1))
}

for dir in /run/keel-test /run/keel; do
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		report "$dir is not empty: $(ls -A "$dir" | tr '\n' ' ')"
	fi
done

# Mounts of a container or bundle left in the host's mount namespace.
# (Command substitution, not <(...): pid 1 here reaps no orphans, and bash
# does not wait for a process substitution.)
mounts=$(grep -E 'keel|bundle|rootfs' /proc/self/mountinfo || true)
while IFS= read -r line; do
	[ -n "$line" ] && report "mount: $line"
done <<<"$mounts"

# keel processes, and any process still working on a test's directories.
for proc in /proc/[0-9]*; do
	pid=${proc#/proc/}
	[ "$pid" = "$$" ] && continue
	# The braces put the redirection's own failure (a process that has
	# just exited) under 2>/dev/null too.
	cmd=$({ tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null || true)
	[ -n "$cmd" ] || continue
	first=${cmd%% *}
	case "${first##*/}" in keel*) report "process $pid: $cmd"; continue ;; esac
	case "$cmd" in *" /run/keel-test/"*) report "process $pid: $cmd" ;; esac
done

# Cgroups of tests (runc makes them under keel-test) or of keel itself. The
# machine's own memory/process_api hierarchy is neither read nor touched.
cgroups=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 \
	\( -path /sys/fs/cgroup/memory/process_api -prune \) -o \
	\( -type d -name 'keel*' -print \) 2>/dev/null || true)
while IFS= read -r dir; do
	[ -n "$dir" ] && report "cgroup: $dir"
done <<<"$cgroups"

if [ "$problems" -gt 0 ]; then
	echo "check-leftovers: $problems leftover(s) found" >&2
	exit 1
fi
echo "check-leftovers: nothing left behind"
