#!/usr/bin/env bash
# Build keel and run a busybox container that prints "hello from keel".
#
#   hack/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "hack/demo.sh: containers need root; run it with sudo" >&2; exit 1; }

# busybox-static fills the container; a C toolchain links the Rust build.
# gcc only recommends the C library's headers and crt files the link needs.
. hack/lib/pkg.sh
ensure_packages busybox-static python3:python3 gcc:cc libc6-dev

cargo build
keel=$PWD/target/debug/keel
bundle=$(mktemp -d)
state=$(mktemp -d /run/keel-demo.XXXXXX)
trap '"$keel" --root "$state" delete --force demo >/dev/null 2>&1 || true; rm -rf "$bundle" "$state"' EXIT

hack/mkbundle.sh "$bundle" "$keel"
echo "+ keel run --bundle $bundle demo" >&2
"$keel" --root "$state" run --bundle "$bundle" demo
