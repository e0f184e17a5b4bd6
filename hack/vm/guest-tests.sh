#!/usr/bin/env bash
# The guest side of test-cgroups.sh: run each test binary, then check that
# nothing was left behind, which in the guest also covers its v2 or v1
# cgroups. Exits 1 if anything failed.
#
#   hack/vm/guest-tests.sh N BINARY... [TEST ARGS...]   (N: how many binaries)
set -uo pipefail
cd "$(dirname "$0")/../.."

n=$1
shift
binaries=("${@:1:n}")
args=("${@:n+1}")
layout=v1
[ -e /sys/fs/cgroup/cgroup.controllers ] && layout=v2

status=0
for test in "${binaries[@]}"; do
	name=${test##*/}
	echo "== ${name%-*} (pure cgroup $layout guest)"
	# Two test threads, as on the host: the guest has two CPUs.
	"$test" --test-threads 2 "${args[@]}" || status=1
done

# The VM's shares are mounts, and their paths may well contain "keel",
# which the check would take for a container's. It looks from a copy of
# the mount namespace without the project's share and the VM's own
# directory; mounts a test leaked are copied too, so they are still seen.
cp hack/check-leftovers.sh /tmp/check-leftovers.sh
unshare --mount --propagation private \
	sh -c 'cd / && umount -l "$1" /vm && /tmp/check-leftovers.sh' check "$PWD" || status=1
exit "$status"
