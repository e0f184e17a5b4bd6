#!/usr/bin/env bash
# Run a command as root in a throwaway qemu VM with a pure cgroup v2 (or pure
# v1) layout, which this project's hybrid hosts cannot provide.
#
#   hack/vm/run.sh [--v2|--v1] [--share DIR]... [--writable DIR]...
#                  [--timeout SECONDS] [--verbose] -- COMMAND [ARG]...
#
# The guest sees the host's /usr and the project directory read-only at the
# same paths (so binaries and the paths built into them work unchanged),
# plus each --share DIR. A --writable DIR (inside a share) gets a tmpfs
# overlay: the guest may write to it, and the writes vanish with the guest.
# COMMAND runs in the current directory if the guest has it, with the
# guest's stdout and stderr on this script's stdout and stderr; the exit
# status is COMMAND's, 124 if the VM ran out of time, 125 if it failed to
# boot or died before COMMAND finished. --verbose shows the kernel console.
# Nothing is left behind: the temporary directory goes and qemu is ended by
# its pid, also on failure, timeout or interrupt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)

usage() {
	sed -n '5,6p' "$0" | sed 's/^# *//' >&2
	exit 2
}
cgroup=v2
timeout=1800
verbose=
shares=(/usr "$project")
writable=()
while [ $# -gt 0 ]; do
	case $1 in
	--v1) cgroup=v1 ;;
	--v2) cgroup=v2 ;;
	--share) [ $# -ge 2 ] || usage; shares+=("$(realpath -e "$2")"); shift ;;
	--writable) [ $# -ge 2 ] || usage; writable+=("$(realpath -e "$2")"); shift ;;
	--timeout) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage; timeout=$2; shift ;;
	--verbose) verbose=1 ;;
	--) shift; break ;;
	*) usage ;;
	esac
	shift
done
[ $# -gt 0 ] || usage
# The init reads these as whitespace-separated lines.
for dir in "${shares[@]}" "${writable[@]}"; do
	[[ ! $dir =~ [[:space:]] ]] || { echo "$0: cannot share a path with whitespace: $dir" >&2; exit 2; }
done

image=$("$here/image.sh")

tmp=$(mktemp -d /tmp/keel-vm.XXXXXX)
qemu=
readers=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	# $qemu is timeout(1), our child, so its pid cannot have been reused;
	# it passes the signal on to qemu, whose pid it knows, and waits for it.
	if [ -n "$qemu" ]; then
		kill "$qemu" 2>/dev/null || true
		wait "$qemu" 2>/dev/null || true
	fi
	for pid in "${readers[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The initramfs: busybox, the modules in load order, and the init script.
initrd=$tmp/initramfs
mkdir -p "$initrd/bin" "$initrd/dev" "$initrd/proc" "$initrd/sys" "$initrd/modules"
cp /bin/busybox "$initrd/bin/busybox"
for applet in sh mount insmod mkdir ln cp chmod cat switch_root; do
	ln -s busybox "$initrd/bin/$applet"
done
# The kernel opens the console for init before init can mount devtmpfs.
mknod "$initrd/dev/console" c 5 1
cp "$image/modules/"*.ko "$initrd/modules/"
cp "$image/modules.load" "$initrd/modules.load"
cp "$here/init" "$initrd/init"
chmod 755 "$initrd/init"
(cd "$initrd" && find . | busybox cpio -o -H newc --quiet) >"$tmp/initramfs.cpio"
rm -rf "$initrd"

# The shared directory: what the init needs to know, and where the exit
# status comes back.
vm=$tmp/vm
mkdir -p "$vm/etc"
args=()
i=0
for dir in "${shares[@]}"; do
	args+=(-virtfs "local,path=$dir,mount_tag=s$i,security_model=none,readonly=on,multidevs=remap")
	printf 's%d %s ro\n' "$i" "$dir" >>"$vm/shares"
	i=$((i + 1))
done
printf '%s\n' "${writable[@]}" >"$vm/writable"
echo "$cgroup" >"$vm/cgroup"
# A minimal /etc: users and groups for ps and the tests, the loader's cache
# for the host binaries, name lookups.
for file in passwd group shadow nsswitch.conf hosts ld.so.cache localtime; do
	[ ! -e "/etc/$file" ] || cp -L "/etc/$file" "$vm/etc/"
done
{
	printf 'cd %q 2>/dev/null || cd /\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$vm/cmd"

# Boot time under emulation: no self-tests of the crypto algorithms, no
# speculation mitigations (nothing in the guest is untrusted), and PCI
# interrupts routed without ACPI, whose interpreter took seconds per
# virtio device. A panic (init failing) ends qemu at once (-no-reboot).
cmdline="console=ttyS0 panic=-1 cryptomgr.notests mitigations=off pci=noacpi"
# AppArmor as the major LSM, as on a Debian host (the kernel's default
# too; said here so that tests/apparmor.rs has it whatever that becomes).
cmdline+=" apparmor=1 security=apparmor"
[ -n "$verbose" ] || cmdline+=" quiet loglevel=3"
[ "$cgroup" = v1 ] || cmdline+=" cgroup_no_v1=all"

# The guest's ttyS1 and ttyS2 are the command's stdout and stderr. qemu
# writes them to fifos, copied to ours by cat: that works whatever our
# stdout is (a terminal, a pipe, a file qemu must not truncate).
mkfifo "$tmp/stdout" "$tmp/stderr"
cat "$tmp/stdout" &
readers+=($!)
cat "$tmp/stderr" >&2 &
readers+=($!)
if [ -n "$verbose" ]; then
	mkfifo "$tmp/console"
	cat "$tmp/console" >&2 &
	readers+=($!)
fi

# Software emulation: there is no KVM here. The uncompressed kernel boots
# through its PVH entry point, skipping decompression.
timeout -s TERM "$timeout" qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -no-reboot \
	-machine pc -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
	-kernel "$image/vmlinux" -initrd "$tmp/initramfs.cpio" -append "$cmdline" \
	-serial "file:$tmp/console" -serial "file:$tmp/stdout" -serial "file:$tmp/stderr" \
	-virtfs "local,path=$vm,mount_tag=vmctl,security_model=none" \
	"${args[@]}" </dev/null &
qemu=$!
status=0
wait "$qemu" || status=$?
qemu=
# A reader whose fifo qemu never opened (it failed first) would wait for a
# writer forever: be one for an instant. Opening read-write never blocks.
for fifo in "$tmp/stdout" "$tmp/stderr" ${verbose:+"$tmp/console"}; do
	exec {fd}<>"$fifo"
	exec {fd}>&-
done
for pid in "${readers[@]}"; do
	wait "$pid"
done
readers=()

if [ "$status" -eq 124 ]; then
	echo "hack/vm/run.sh: the VM did not finish within ${timeout}s" >&2
	exit 124
fi
if [ "$status" -ne 0 ] || ! [[ "$(cat "$vm/status" 2>/dev/null)" =~ ^[0-9]+$ ]]; then
	echo "hack/vm/run.sh: the VM failed (qemu exit status $status) before the command finished" >&2
	[ -n "$verbose" ] || tail -n 40 "$tmp/console" >&2 || true
	exit 125
fi
exit "$(cat "$vm/status")"
