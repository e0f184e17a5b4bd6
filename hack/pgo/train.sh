#!/usr/bin/env bash
# The training run of keel's profile-guided build (hack/build-release.sh):
# an instrumented keel drives the commands engines call, on a busybox
# bundle, so that the compiler learns which code is hot and which is cold.
#
#   hack/pgo/train.sh KEEL RAWDIR [ROUNDS]
#
# Profiles go to RAWDIR/light, RAWDIR/create and RAWDIR/other (below), so
# that the build can lay out each group's code together.
#
# Run as root. Everything it makes lives under one temporary directory and
# the cgroup /keel-pgo-<pid>, and is removed on exit.
set -euo pipefail
keel=$1
raw=$2
rounds=${3:-5}
repo=$(cd "$(dirname "$0")/../.." && pwd)

work=$(mktemp -d /run/keel-pgo.XXXXXX)
root=$work/state
cgroup=/keel-pgo-$$
cleanup() {
	for id in $(ls "$root" 2>/dev/null); do
		"$keel" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done
	# Each v1 hierarchy's, and a pure cgroup2 host's one at /sys/fs/cgroup.
	for dir in /sys/fs/cgroup/*"$cgroup" /sys/fs/cgroup"$cgroup"; do
		[ -d "$dir" ] || continue
		find "$dir" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$dir" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

"$repo/hack/mkbundle.sh" "$work/bundle" "$keel" >/dev/null
# One config per container, as engines write them: an absolute cgroupsPath
# and a network namespace; one variant with podman's seccomp profile.
python3 - "$work" "$cgroup" "$repo/tests/fixtures/podman-create-config.json" <<'EOF'
import json, os, sys
work, cgroup, podman = sys.argv[1:4]
base = json.load(open(os.path.join(work, "bundle", "config.json")))
base["root"]["path"] = os.path.join(work, "bundle", "rootfs")
if not any(n["type"] == "network" for n in base["linux"]["namespaces"]):
    base["linux"]["namespaces"].append({"type": "network"})
seccomp = json.load(open(podman))["linux"]["seccomp"]
for kind, args in [("true", ["/bin/true"]), ("sleep", ["/bin/sleep", "1000"]),
                   ("seccomp", ["/bin/true"])]:
    config = json.loads(json.dumps(base))
    config["process"]["args"] = args
    if kind == "seccomp":
        config["linux"]["seccomp"] = seccomp
    config["linux"]["cgroupsPath"] = f"{cgroup}/{kind}"
    os.makedirs(os.path.join(work, kind))
    json.dump(config, open(os.path.join(work, kind, "config.json"), "w"))
EOF

# Each command's profile goes to the phase it belongs to: "light" for the
# commands that read the state and signal (start, state, kill, delete,
# list), "create" for create and run, "other" for the rest.
k() {
	local phase=$1
	shift
	LLVM_PROFILE_FILE="$raw/$phase/keel-%p.profraw" "$keel" --root "$root" "$@"
}
round() {
	k create run -b "$work/true" t >/dev/null
	k create run -b "$work/seccomp" s >/dev/null
	k create create -b "$work/sleep" --pid-file "$work/pid" c
	k light state c >/dev/null
	k light start c
	k light list >/dev/null
	k light list --format json >/dev/null
	k other ps --format json c >/dev/null
	k other ps c >/dev/null
	k other exec c /bin/true
	k other pause c
	k other resume c
	k other events --stats c >/dev/null
	k other update --pids-limit 100 c
	k light kill c KILL
	k light delete --force c
	k create create -b "$work/true" c
	k light start c
	k light delete c 2>/dev/null || k light delete --force c
	k other spec --bundle "$work" >/dev/null
	rm -f "$work/config.json"
	k other features >/dev/null
	# The paths a user's mistake takes.
	k other state missing >/dev/null 2>&1 || true
	k other create -b "$work/missing" bad >/dev/null 2>&1 || true
}
for _ in $(seq "$rounds"); do
	round
done
