#!/usr/bin/env bash
# Build keel as shipped: release profile (LTO, stripped), statically linked,
# not position-independent, and profile-guided. Prints the binary's path.
#
# Static and non-PIE because keel is a short-lived command run thousands of
# times a day: no dynamic loader, no relocations to apply and no shared
# libraries to map cut its CPU time per call by about a quarter and its
# peak RSS by about 0.8 MiB (hack/bench.sh; README, "Performance").
#
# Profile-guided (as root, where apt has the llvm-profdata matching rustc's
# LLVM): an instrumented keel first runs hack/pgo/train.sh, and the final
# build uses what it counted. Most of a call's resident memory is the
# binary's own code, and the kernel maps it 64 KiB at a time around each
# page touched, so the layout matters as much as the size: the linker is
# given an order: the functions that start, state, kill, delete and list
# ran, the prebuilt (glibc, Rust std) functions keel runs (hack/pgo/libc-hot.txt),
# those create and run added, those the other commands added, and then the
# rest (error paths, code no command reaches), where no call maps it. KEEL_PGO=0, or no
# root, builds without a profile.
#
# --target is explicit so that the flags reach keel only, not the build
# scripts and proc-macros cargo builds for the host.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
target=${CARGO_TARGET_DIR:-$PWD/target}
flags="-C target-feature=+crt-static -C relocation-model=static"

# Each step can fail (set -e does not apply inside `if pgo=$(...)`).
profile_flags() {
	local pgo=$target/pgo profdata=llvm-profdata-$llvm phase
	. hack/lib/pkg.sh
	ensure_packages "llvm-$llvm:$profdata" python3:python3 >&2 || return 1
	# The instrumented build links glibc dynamically: its profiling runtime
	# keeps nix's termios wrappers, whose versioned glibc symbols a static
	# link cannot resolve. The code the profile describes is the same.
	RUSTFLAGS="-C relocation-model=static -C profile-generate=$pgo/raw" \
		CARGO_TARGET_DIR=$pgo/target cargo build --release --target "$triple" >&2 || return 1
	rm -rf "$pgo/raw"
	hack/pgo/train.sh "$pgo/target/$triple/release/keel" "$pgo/raw" >&2 || return 1
	for phase in light create other; do
		"$profdata" merge -o "$pgo/$phase.profdata" "$pgo/raw/$phase"/*.profraw || return 1
	done
	"$profdata" merge -o "$pgo/keel.profdata" "$pgo"/{light,create,other}.profdata || return 1
	# Instrumented names of file-local functions carry their unit's name.
	for phase in light create other; do
		"$profdata" show --covered "$pgo/$phase.profdata" | sed 's/^.*;//' \
			> "$pgo/$phase.txt" || return 1
	done
	cat "$pgo/light.txt" hack/pgo/libc-hot.txt "$pgo/create.txt" "$pgo/other.txt" |
		awk '!seen[$0]++' > "$pgo/order.txt" || return 1
	rm -rf "$pgo/raw"
	echo "-C profile-use=$pgo/keel.profdata" \
		"-C link-arg=-Wl,--symbol-ordering-file=$pgo/order.txt" \
		"-C link-arg=-Wl,--no-warn-symbol-ordering"
}

if [ "${KEEL_PGO:-1}" != 0 ] && [ "$(id -u)" -eq 0 ]; then
	if pgo=$(profile_flags); then
		flags="$flags $pgo"
	else
		echo "build-release.sh: no profile (llvm-$llvm missing?); building without one" >&2
	fi
fi
RUSTFLAGS="$flags" cargo build --release --target "$triple" >&2
echo "$target/$triple/release/keel"
