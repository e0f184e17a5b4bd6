#!/usr/bin/env bash
# Build keel as shipped: release profile (LTO, stripped), statically linked
# and not position-independent. Prints the binary's path.
#
# Static and non-PIE because keel is a short-lived command run thousands of
# times a day: no dynamic loader, no relocations to apply and no shared
# libraries to map cut its CPU time per call by about a quarter and its
# peak RSS by about 0.8 MiB (hack/bench.sh; README, "Performance").
# --target is explicit so that the flags reach keel only, not the build
# scripts and proc-macros cargo builds for the host.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
	cargo build --release --target "$triple" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$triple/release/keel"
