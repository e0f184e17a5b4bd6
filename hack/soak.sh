#!/usr/bin/env bash
# Soak: N container cycles (default 1000), 8 at a time, then prove the host
# is as it was: no mount, cgroup, state dir, process or zombie of the soak
# left, and the fd count of a long foreground `keel run` unchanged.
#
#   hack/soak.sh [N]          (as root; KEEL=path/to/keel to pick a binary)
#
# Cycles take turns between four shapes an engine uses:
#   0  run              (foreground; the container exits on its own)
#   1  run -d, exec, delete --force
#   2  create, start, kill KILL, delete --force
#   3  create, start (the container exits on its own), delete --force
# Every container's cgroupsPath is /keel-soak/<id>.
set -euo pipefail
cd "$(dirname "$0")/.."

# Orphaned inits (and the exec'd processes of `run -d`) would go to pid 1,
# which on the test machines reaps late; as subreaper this shell reaps them,
# so any zombie left at the end is a real leak.
if [ -z "${KEEL_SOAK_SUBREAPER:-}" ]; then
	export KEEL_SOAK_SUBREAPER=1
	exec python3 -c 'import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
os.execvp("bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi

n=${1:-1000}
parallel=8
keel=${KEEL:-$PWD/target/debug/keel}
base=/run/keel-soak
root=$base/root
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root" >&2; exit 1; }
[ -x "$keel" ] || cargo build
[ -e "$base" ] && { echo "soak: $base exists (a soak running, or a leftover)" >&2; exit 1; }

mkdir -p "$base"
# On an early exit, remove what the soak made (the checks have not run).
abort_cleanup() {
	set +e
	[ -d "$base" ] || return 0
	[ -z "${long_pid:-}" ] || kill "$long_pid" 2>/dev/null
	for d in "$root"/*/; do
		[ ! -d "$d" ] || "$keel" --root "$root" delete --force "$(basename "$d")"
	done
	rmdir /sys/fs/cgroup/*/keel-soak/* /sys/fs/cgroup/*/keel-soak 2>/dev/null
	rm -rf "$base"
}
trap abort_cleanup EXIT
hack/mkbundle.sh "$base/image" "$keel" >/dev/null
# One read-only rootfs for all; each container gets its own config.json,
# since the cgroup path is per container. @ID@ and @ARGS@ are filled in.
python3 - "$base/image" <<'EOF'
import json, sys
d = sys.argv[1]
c = json.load(open(d + "/config.json"))
c["root"] = {"path": d + "/rootfs", "readonly": True}
c["process"]["args"] = ["@ARGS@"]
c["linux"]["cgroupsPath"] = "/keel-soak/@ID@"
text = json.dumps(c).replace('["@ARGS@"]', "@ARGS@")
open(d + "/config.template", "w").write(text)
EOF

bundle() { # bundle ID ARGS_JSON -> prints the bundle dir
	local dir=$base/bundles/$1
	mkdir -p "$dir"
	sed -e "s|@ID@|$1|" -e "s|@ARGS@|$2|" "$base/image/config.template" >"$dir/config.json"
	echo "$dir"
}

k() { "$keel" --root "$root" "$@"; }

cycle() { # cycle I: one container's life; prints nothing unless it fails
	local i=$1 id=soak-$1 b
	case $((i % 4)) in
	0)
		b=$(bundle "$id" '["sh","-c","exit 0"]')
		k run --bundle "$b" "$id" </dev/null >/dev/null
		;;
	1)
		b=$(bundle "$id" '["sleep","1000"]')
		k run -d --bundle "$b" "$id" </dev/null >/dev/null
		k exec "$id" true </dev/null
		k delete --force "$id"
		;;
	2)
		b=$(bundle "$id" '["sleep","1000"]')
		k create --bundle "$b" "$id" </dev/null >/dev/null
		k start "$id"
		k kill "$id" KILL
		k delete --force "$id"
		;;
	3)
		b=$(bundle "$id" '["true"]')
		k create --bundle "$b" "$id" </dev/null >/dev/null
		k start "$id"
		k delete --force "$id"
		;;
	esac
	rm -rf "$base/bundles/$id"
}

snapshot() { # mount points that must be the same before and after (the
	# tests of others sharing the machine mount under /run/keel-test)
	grep -v -e "$base" -e /run/keel-test/ /proc/self/mountinfo | cut -d' ' -f5 | sort
}

mounts_before=$(snapshot)

# A long foreground run alongside the soak: its fds at the start and end.
# It says "up" through one fifo and waits on another (one fifo would let
# the container read back its own word).
long=$base/long
mkdir "$long"
mkfifo "$long/up" "$long/done"
b=$(bundle soak-long '["sh","-c","echo up > /long/up; read x < /long/done"]')
python3 - "$b/config.json" "$long" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["mounts"].append({"destination": "/long", "type": "bind", "source": sys.argv[2], "options": ["rbind"]})
json.dump(c, open(sys.argv[1], "w"))
EOF
exec 8<>"$long/up" 9<>"$long/done"
k run --bundle "$b" soak-long </dev/null >/dev/null &
long_pid=$!
read -r -t 120 up <&8 || up="nothing within 120s"
[ "$up" = up ] || { echo "soak: long run said $up" >&2; exit 1; }
fds_start=$(ls /proc/$long_pid/fd | wc -l)

export -f cycle bundle k
export keel root base
start=$(date +%s.%N)
failed=0
seq 0 $((n - 1)) | xargs -P "$parallel" -I{} bash -c 'cycle {} || { echo "soak: cycle {} failed" >&2; exit 255; }' ||
	failed=1
end=$(date +%s.%N)

fds_end=$(ls /proc/$long_pid/fd | wc -l)
echo done >&9
wait "$long_pid" || { echo "soak: the long run failed" >&2; failed=1; }
exec 8>&- 9>&-

problems=0
problem() { echo "soak: leftover: $*" >&2; problems=$((problems + 1)); }

[ "$fds_start" -eq "$fds_end" ] || problem "long run fds: $fds_start at start, $fds_end at end"
left=$(ls -A "$root" 2>/dev/null || true)
[ -z "$left" ] || problem "state dirs: $left"
for h in /sys/fs/cgroup/*/; do
	[ -d "$h/keel-soak" ] || continue
	kids=$(find "$h/keel-soak" -mindepth 1 -type d)
	[ -z "$kids" ] || problem "cgroups: $kids"
	rmdir "$h/keel-soak" 2>/dev/null || true
done
grep -q -e "$base" /proc/self/mountinfo && problem "mounts: $(grep -e "$base" /proc/self/mountinfo)"
[ "$(snapshot)" = "$mounts_before" ] || problem "mount table changed: $(diff <(echo "$mounts_before") <(snapshot) || true)"
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	stat=$(cat "$p/stat" 2>/dev/null) || continue
	rest=${stat##*) }
	read -r state ppid _ <<<"$rest"
	cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null || true)
	if [ "$ppid" = $$ ] && [ "$state" = Z ]; then
		problem "zombie $pid"
	elif [[ $cmd == *"$base"* ]] || grep -q /keel-soak/ "$p/cgroup" 2>/dev/null; then
		# a keel call of the soak (its --root is under $base), or a
		# container process still in a soak cgroup
		problem "process $pid: $cmd"
	fi
done

rm -rf "$base"
trap - EXIT
wall=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
echo "soak: $n cycles ($(((n + 3) / 4)) run, $(((n + 2) / 4)) run -d+exec, $(((n + 1) / 4)) create/start/kill, $((n / 4)) exit-by-itself), $parallel at a time, in ${wall}s; long run fds $fds_start -> $fds_end; $problems leftover(s)"
[ "$failed" -eq 0 ] && [ "$problems" -eq 0 ]
