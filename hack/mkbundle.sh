#!/usr/bin/env bash
# Make a minimal OCI bundle from Debian's statically linked busybox.
#
#   hack/mkbundle.sh DIR [RUNTIME]
#
# DIR/rootfs gets busybox and its applet links, /etc/passwd and /etc/group
# (root, and an unprivileged "user" 1000:1000), and the empty mount points a
# container needs. DIR/config.json comes from `RUNTIME spec` (RUNTIME defaults
# to keel on PATH, else target/debug/keel) and is adjusted to run
# `echo hello from keel` without a terminal.
set -euo pipefail

usage() { echo "usage: $0 DIR [RUNTIME]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
repo=$(cd "$(dirname "$0")/.." && pwd)

runtime=${2:-}
if [ -z "$runtime" ]; then
	if command -v keel >/dev/null; then
		runtime=$(command -v keel)
	else
		runtime=$repo/target/debug/keel
	fi
fi
[ -x "$runtime" ] || { echo "$0: runtime $runtime is not executable (build keel first)" >&2; exit 1; }

# The rootfs must not depend on host libraries, so only the static build will do.
busybox=/bin/busybox
. "$repo/hack/lib/pkg.sh"
ensure_packages busybox-static python3:python3

[ -e "$dir/config.json" ] && { echo "$0: $dir/config.json already exists" >&2; exit 1; }
rootfs=$dir/rootfs
mkdir -p "$rootfs"
cd "$rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc root home/user proc sys dev tmp run var/tmp
chmod 1777 tmp var/tmp
cp "$busybox" bin/busybox
# `--list-full` names each applet with its usual directory (bin/sh, usr/bin/env...).
# One python process instead of a fork of ln per applet keeps this fast.
bin/busybox --list-full | python3 -c '
import os, sys
for applet in sys.stdin.read().split():
    if applet in ("bin/busybox", "linuxrc"):
        continue
    up = "../" * applet.count("/")
    if os.path.lexists(applet):
        os.remove(applet)
    os.symlink(up + "bin/busybox", applet)
'

cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
wheel:x:10:
users:x:100:
user:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 home/user

cd - >/dev/null
"$runtime" spec --bundle "$dir"
python3 - "$dir/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
process = config["process"]
process["terminal"] = False
process["args"] = ["sh", "-c", "echo hello from keel"]
with open(path, "w") as f:
    json.dump(config, f, indent="\t")
    f.write("\n")
PY
