#!/usr/bin/env bash
# Make sure everything the test VM boots from is on this machine, and print
# the directory that holds it.
#
#   hack/vm/image.sh
#
# Installs qemu-system-x86 and busybox-static if missing, and caches one
# Debian kernel under $KEEL_VM_CACHE (default /var/cache/keel-vm/KVER, with
# a link `current` to it):
#   vmlinux      the uncompressed kernel: qemu boots it through its PVH entry,
#                which saves the guest decompressing bzImage under emulation
#   modules/     the few modules the guest needs (9p over virtio-pci, overlay)
#   modules.load those modules' file names, in an order insmod can follow
# The kernel package is only unpacked (dpkg -x), never installed: the host's
# /boot and /lib/modules stay as they are. Safe to run concurrently (a lock).
# Once a kernel is cached it is used without asking apt, so runs do not
# change kernels (or wait for a download) when the package lists move on;
# remove the `current` link to pick up a newer one.
set -euo pipefail

# The modules the guest loads itself (their dependencies are added from
# modules.dep): 9p file sharing over virtio-pci, and overlay to make
# read-only shares writable in the guest.
wanted=(virtio_pci 9pnet_virtio 9p overlay)

if [ "$(id -u)" -ne 0 ]; then
	echo "$0: installing packages needs root" >&2
	exit 1
fi

. "$(dirname "$0")/../lib/pkg.sh"
ensure_packages qemu-system-x86:qemu-system-x86_64 busybox-static xz-utils:xz

cache=${KEEL_VM_CACHE:-/var/cache/keel-vm}
if [ -f "$cache/current/modules.load" ]; then
	readlink -f "$cache/current"
	exit 0
fi

# The versioned image package linux-image-amd64 points at, e.g.
# linux-image-6.1.0-56-amd64: its name is the kernel release.
pkg=$(apt-cache depends --important linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
if [ -z "$pkg" ]; then
	pkg_apt update
	pkg=$(apt-cache depends --important linux-image-amd64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
fi
kver=${pkg#linux-image-}
dir=$cache/$kver

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
# Another run may have cached the same kernel while this one waited.
if [ -f "$dir/modules.load" ]; then
	ln -sfn "$kver" "$cache/current"
	echo "$dir"
	exit 0
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
echo "hack/vm: fetching and unpacking $pkg (once)" >&2
# apt-get download writes into the current directory, as the _apt user
# where it can (it warns, and falls back to root, where it cannot).
mkdir "$work/deb"
! id _apt >/dev/null 2>&1 || chown _apt "$work/deb"
(cd "$work/deb" && apt-get download -q "$pkg" >&2)
dpkg -x "$work/deb/$pkg"_*.deb "$work/root"

# bzImage is a decompressor stub followed by the kernel as one xz stream
# (Debian builds with CONFIG_KERNEL_XZ): find the stream and decompress it,
# ignoring what follows it.
bzimage=$work/root/boot/vmlinuz-$kver
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | head -n 1 | cut -d: -f1)
[ -n "$offset" ] || { echo "$0: no xz stream in $bzimage" >&2; exit 1; }
mkdir "$work/out"
# Through a file, not a pipe: xz stops reading at the end of the stream,
# which would kill tail with SIGPIPE.
tail -c +"$((offset + 1))" "$bzimage" >"$work/payload.xz"
xz -dc --single-stream "$work/payload.xz" >"$work/out/vmlinux"
[ "$(head -c 4 "$work/out/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
	{ echo "$0: $bzimage did not decompress to an ELF kernel" >&2; exit 1; }

# The package ships no modules.dep (its postinst runs depmod); busybox's
# depmod writes one without touching the host.
modroot=$work/root/lib/modules/$kver
busybox depmod -b "$work/root" "$kver"

# Each modules.dep line lists all of a module's dependencies; loading them
# depth first, each before the modules that need it, is an order insmod can
# follow whatever order a line lists them in.
declare -A deps done
while IFS=: read -r mod rest; do
	deps[$mod]=$rest
done <"$modroot/modules.dep"
declare -A byname
for mod in "${!deps[@]}"; do
	name=${mod##*/}
	byname[${name%.ko}]=$mod
done
order=()
visit() {
	local mod=$1 dep
	[ -z "${done[$mod]:-}" ] || return 0
	done[$mod]=1
	for dep in ${deps[$mod]}; do
		visit "$dep"
	done
	order+=("$mod")
}
for name in "${wanted[@]}"; do
	[ -n "${byname[$name]:-}" ] || { echo "$0: $kver has no module $name" >&2; exit 1; }
	visit "${byname[$name]}"
done
mkdir "$work/out/modules"
for mod in "${order[@]}"; do
	cp "$modroot/$mod" "$work/out/modules/"
	echo "${mod##*/}" >>"$work/out/modules.load"
done
cp "$modroot/modules.dep" "$work/root/boot/config-$kver" "$work/out/"

mv "$work/out" "$dir"
ln -sfn "$kver" "$cache/current"
echo "$dir"
