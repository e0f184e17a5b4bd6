#!/usr/bin/env bash
# Time a foreground `run` of a container of /bin/true: keel against runc,
# and crun where it can run on this host.
#
#   hack/bench.sh [RUNS_PER_ROUND [ROUNDS]]     (defaults: 10 and 5)
#
# The runtimes take turns round by round (keel and runc share one hyperfine
# call per round, crun has its own), so a slow phase of the machine hits all
# of them. Each run deletes its container before it returns, so the same id
# is free again for the next run and no shell is needed to make ids (-N).
# Prints the median per runtime over all rounds and the ratios to keel.
# KEEL_BIN=path benchmarks that binary instead of building keel in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
rounds=${2:-5}

[ "$(id -u)" -eq 0 ] || { echo "hack/bench.sh: run it as root (sudo)" >&2; exit 1; }

missing=()
for pkg in runc crun hyperfine busybox-static python3; do
	dpkg -s "$pkg" >/dev/null 2>&1 || command -v "$pkg" >/dev/null || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [ -z "${KEEL_BIN:-}" ]; then
	cargo build --release
	KEEL_BIN=$PWD/target/release/keel
fi

work=$(mktemp -d /run/keel-bench.XXXXXX)
# crun makes its default run dir even when given --root; remove it if we caused it.
crun_rundir_existed=no
[ -e /run/crun ] && crun_rundir_existed=yes
cleanup() {
	for rt in keel runc crun; do
		[ -d "$work/state-$rt" ] || continue
		bin=$KEEL_BIN
		[ "$rt" = keel ] || bin=$rt
		"$bin" --root "$work/state-$rt" delete --force "bench-$rt" >/dev/null 2>&1 || true
	done
	# runc and crun make cgroups under keel-bench; only those go.
	for dir in /sys/fs/cgroup/*/keel-bench; do
		[ -d "$dir" ] || continue
		rmdir "$dir"/* 2>/dev/null || true
		rmdir "$dir" 2>/dev/null || true
	done
	rm -rf "$work"
	[ "$crun_rundir_existed" = yes ] || rmdir /run/crun 2>/dev/null || true
}
trap cleanup EXIT

# One rootfs, and a config per runtime that differs only in cgroupsPath:
# runc and crun always create cgroups, keel does not manage them yet.
hack/mkbundle.sh "$work/template" "$KEEL_BIN" >/dev/null
for rt in keel runc crun; do
	mkdir "$work/$rt"
	python3 - "$work/template/config.json" "$work/$rt/config.json" "$work/template/rootfs" "$rt" <<'PY'
import json, sys
src, dest, rootfs, runtime = sys.argv[1:]
with open(src) as f:
    config = json.load(f)
config["process"]["args"] = ["/bin/true"]
config["process"]["terminal"] = False
config["root"]["path"] = rootfs
linux = config["linux"]
linux.pop("resources", None)
if not any(ns["type"] == "network" for ns in linux["namespaces"]):
    linux["namespaces"].append({"type": "network"})
if runtime != "keel":
    linux["cgroupsPath"] = "/keel-bench/" + runtime
with open(dest, "w") as f:
    json.dump(config, f, indent="\t")
PY
done

# crun 1.8 refuses a hybrid cgroup host unless cgroup2 looks controller-less:
# hide the controllers behind an empty file, in a private mount namespace only
# (-n: util-linux would otherwise create /run/mount/utab on the host).
: >"$work/empty"
in_crun_ns() {
	unshare -m --propagation private sh -c \
		'mount -n --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$work/empty" "$@"
}
run_crun=yes
if ! in_crun_ns crun --root "$work/state-crun" run --bundle "$work/crun" bench-crun >/dev/null 2>&1; then
	echo "crun cannot run containers here; leaving it out" >&2
	run_crun=no
fi

for round in $(seq "$rounds"); do
	echo "round $round of $rounds" >&2
	hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$work/round-$round-main.json" \
		-n keel "$KEEL_BIN --root $work/state-keel run --bundle $work/keel bench-keel" \
		-n runc "runc --root $work/state-runc run --bundle $work/runc bench-runc" >&2
	if [ "$run_crun" = yes ]; then
		in_crun_ns hyperfine -N --style basic --warmup 2 --runs "$runs" \
			--export-json "$work/round-$round-crun.json" \
			-n crun "crun --root $work/state-crun run --bundle $work/crun bench-crun" >&2
	fi
done

python3 - "$work"/round-*.json <<'PY'
import json, statistics, sys
times = {}
for path in sys.argv[1:]:
    with open(path) as f:
        for result in json.load(f)["results"]:
            times.setdefault(result["command"], []).extend(result["times"])
medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
print(f"{'runtime':<8} {'runs':>5} {'median ms':>10} {'mean ms':>9} {'keel/this':>10}")
for name in ("keel", "runc", "crun"):
    if name not in times:
        continue
    mean = statistics.mean(times[name]) * 1000
    ratio = medians["keel"] / medians[name]
    print(f"{name:<8} {len(times[name]):>5} {medians[name]:>10.2f} {mean:>9.2f} {ratio:>10.3f}")
PY
