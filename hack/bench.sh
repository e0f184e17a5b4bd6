#!/usr/bin/env bash
# Benchmark keel against runc and crun on the same busybox bundle.
#
#   hack/bench.sh [ITERATIONS [PARALLEL [SCALE]]]
#       ITERATIONS  paired lifecycle iterations (default 30)
#       PARALLEL    containers in the parallel test (default 100; 0 skips)
#       SCALE       keel's list/state scaling counts, e.g. 1,100,1000
#                   (default: skipped)
#
# Times `run /bin/true` (also with podman's default seccomp profile),
# `create`, `start`, `state`, `kill`, `delete` and `delete --force` of a
# running container for each runtime, with the CPU time and peak RSS of
# each command. Each iteration runs them for every runtime back to back,
# in an order that goes through every permutation of the runtimes in turn
# (hack/bench.py), so that each follows each other equally often. Then
# PARALLEL containers created, started and force-deleted 8 at a time, in 3
# rounds whose runtime order is rotated. Prints medians and the ratios
# keel/runc and keel/crun.
# KEEL_BIN=path benchmarks that binary instead of building keel as shipped
# (hack/build-release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-30}
parallel=${2:-100}
scale=${3:-}

[ "$(id -u)" -eq 0 ] || { echo "hack/bench.sh: run it as root (sudo)" >&2; exit 1; }

. hack/lib/pkg.sh
# cc builds the maxrss launcher below.
ensure_packages runc:runc crun:crun busybox-static python3:python3 gcc:cc libc6-dev

if [ -z "${KEEL_BIN:-}" ]; then
	KEEL_BIN=$(hack/build-release.sh)
fi
ls -l "$KEEL_BIN" | awk '{print "keel binary: " $5 " bytes"}'

work=$(mktemp -d /run/keel-bench.XXXXXX)
# crun makes its default run dir even when given --root; remove it if we caused it.
crun_rundir_existed=no
[ -e /run/crun ] && crun_rundir_existed=yes
cleanup() {
	for state in "$work"/state-*; do
		[ -d "$state" ] || continue
		rt=${state##*/state-}
		bin=$KEEL_BIN
		[ "$rt" = keel ] || bin=$rt
		for id in $(ls "$state" 2>/dev/null); do
			"$bin" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	# Only the benchmark's own cgroups go: /keel-bench/<runtime>/<id>.
	for dir in /sys/fs/cgroup/*/keel-bench; do
		[ -d "$dir" ] || continue
		find "$dir" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$dir" 2>/dev/null || true
	done
	rm -rf "$work"
	[ "$crun_rundir_existed" = yes ] || rmdir /run/crun 2>/dev/null || true
}
trap cleanup EXIT

hack/mkbundle.sh "$work/template" "$KEEL_BIN" >/dev/null
cc -O2 -static -o "$work/maxrss" hack/maxrss.c

# Each runtime's binary starts out of the page cache, as on a machine where
# it was installed a while ago. A binary just written (a fresh build, a copy)
# sits in the cache in large folios, and the kernel then maps more of it
# around each page a call touches: keel's peak RSS reads 250-350 KiB higher.
sync
python3 - "$KEEL_BIN" "$(command -v runc)" "$(command -v crun)" <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
export BENCH_LAUNCHER=$work/maxrss

# crun 1.8 refuses a hybrid cgroup host unless cgroup2 looks controller-less:
# the whole benchmark, every runtime alike, runs in a private mount namespace
# where an empty file hides cgroup2's controllers (-n: util-linux would
# otherwise create /run/mount/utab on the host).
: >"$work/empty"
runtimes=(--runtime "keel=$KEEL_BIN" --runtime "runc=$(command -v runc)")
runtimes+=(--runtime "crun=$(command -v crun)")
unshare -m --propagation private sh -c \
	'mount -n --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$work/empty" \
	python3 hack/bench.py --work "$work" --template "$work/template" "${runtimes[@]}" \
	--iterations "$iterations" --parallel "$parallel" ${scale:+--scale "$scale"} \
	--seccomp tests/fixtures/podman-create-config.json
