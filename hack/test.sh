#!/usr/bin/env bash
# keel's one test command: install what the tests need, build, run every
# test (unit and integration, as root) and a short soak, prove nothing was
# left behind, run the cgroup, lifecycle and events tests again in a pure cgroup v2
# VM (with the AppArmor tests, which need its kernel), then the engine suite
# (containerd, podman, docker through keel).
#
#   hack/test.sh [extra cargo test arguments, e.g. a test name filter]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "hack/test.sh: containers need root; run it with sudo" >&2
	exit 1
fi

# The test bundles are made from Debian's static busybox by mkbundle.sh,
# which also needs python3; a C toolchain links the build and the static
# attacker of tests/binary_overwrite.rs; `keel ps` runs ps; the rootless
# tests map a delegated range with newuidmap/newgidmap; the netDevices test
# makes a veth pair with ip. Install only what is missing.
. hack/lib/pkg.sh
ensure_packages busybox-static python3:python3 gcc:cc libc6-dev procps:ps \
	uidmap:newuidmap iproute2:ip passwd:useradd

cargo build
# Two threads: the test machines have two cores, and each test starts
# real containers.
cargo test "$@" -- --test-threads 2
# A short soak (the full one is `hack/soak.sh`, 1000 cycles): 100 container
# cycles, then the host must be as it was. Seconds on the 2-core VM.
hack/soak.sh 100
hack/check-leftovers.sh

# This machine's cgroups are hybrid; the cgroup, lifecycle and events suites also run
# on a pure cgroup v2 host, a qemu guest (hack/vm/), and so does the AppArmor
# suite, which this machine's kernel cannot run. Bounded: run.sh ends the
# VM, by its pid, after 30 minutes. KEEL_TEST_VM=0 skips it.
if [ "${KEEL_TEST_VM:-1}" != 0 ]; then
	hack/vm/test-cgroups.sh --v2 --timeout 1800
fi

# containerd, podman and docker run containers through keel
# (integration/README.md). Bounded: a hung daemon must not eat CI's time; on
# SIGTERM the suite still stops its daemons and removes what they left.
# KEEL_TEST_ENGINES=0 skips it.
if [ "${KEEL_TEST_ENGINES:-1}" != 0 ]; then
	timeout -k 120 1800 integration/run.sh
	hack/check-leftovers.sh
fi
