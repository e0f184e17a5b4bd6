#!/usr/bin/env bash
# Regenerate hack/pgo/libc-hot.txt: the prebuilt functions keel's common
# commands run, glibc's and those of Rust's standard library, which
# hack/build-release.sh links next to keel's own hot code (the profile
# names only the functions of the crates cargo builds). The list depends
# on glibc's static library, the CPU's string-function variants and the
# Rust toolchain, hardly on keel's code, so it changes rarely: regenerate
# it when Debian's libc6-dev, the toolchain or the machine kind changes.
#
#   hack/pgo/libc-hot.sh KEEL
#
# KEEL is a static keel with its symbols, e.g. the output of
#   CARGO_PROFILE_RELEASE_STRIP=false KEEL_PGO=0 hack/build-release.sh
# Run as root; gdb follows each command (about a minute each).
set -euo pipefail
keel=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pkg.sh"
ensure_packages gdb binutils:nm busybox-static

work=$(mktemp -d /run/keel-libc-hot.XXXXXX)
root=$work/state
trap '"$keel" --root "$root" delete --force c >/dev/null 2>&1 || true; rm -rf "$work"; rmdir /sys/fs/cgroup/*/keel-libc-hot-$$ /sys/fs/cgroup/keel-libc-hot-$$ 2>/dev/null || true' EXIT
"$here/../mkbundle.sh" "$work/bundle" "$keel" >/dev/null
python3 - "$work/bundle/config.json" "/keel-libc-hot-$$" <<'PY'
import json, sys
path, cgroup = sys.argv[1:3]
config = json.load(open(path))
config["process"]["args"] = ["/bin/sleep", "1000"]
config["linux"]["cgroupsPath"] = cgroup
if not any(n["type"] == "network" for n in config["linux"]["namespaces"]):
    config["linux"]["namespaces"].append({"type": "network"})
json.dump(config, open(path, "w"))
PY

out=$work/hits
# gdb's chatter goes to a log, shown when a trace fails.
trace() {
	TRACE_OUT=$out gdb -q -batch -x "$here/trace-libc.py" --args "$keel" --root "$root" "$@" \
		>"$work/gdb.log" 2>&1 || { cat "$work/gdb.log" >&2; echo "libc-hot.sh: tracing $* failed" >&2; return 1; }
}
trace create -b "$work/bundle" c
trace state c
trace start c
trace list
trace ps c
trace exec c /bin/true
trace kill c KILL
trace delete --force c
trace run -d -b "$work/bundle" c
trace delete --force c
sort -u "$out" > "$here/libc-hot.txt"
wc -l < "$here/libc-hot.txt"
