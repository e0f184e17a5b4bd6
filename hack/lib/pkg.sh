# Installing the Debian packages keel's scripts need. Sourced, not run:
#
#   . "$repo/hack/lib/pkg.sh"
#   ensure_packages busybox-static gcc:cc python3:python3
#
# Each argument is PKG (wanted unless dpkg has it installed) or PKG:CMD
# (also satisfied by CMD on PATH, e.g. a python3 that is not Debian's).
# Only what is missing is installed, without recommends; nothing is asked
# of apt when nothing is missing, so calling it again is cheap. apt's
# output goes to stderr: some callers print their result on stdout.

# How long to wait for another apt or dpkg (another engineer's install, a
# parallel CI step) to let go of its lock before failing.
PKG_LOCK_TIMEOUT=${PKG_LOCK_TIMEOUT:-600}

# Whether PKG is installed. `dpkg -s` is not enough: it also succeeds for
# a package removed with its configuration kept ("deinstall ok
# config-files"), whose files are gone. A held package ("hold ok
# installed") is installed; a multi-arch one prints one status a line.
pkg_installed() {
	local status
	status=$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null) || return 1
	[[ $'\n'$status$'\n' == *" ok installed"$'\n'* ]]
}

# Whether an argument (PKG or PKG:CMD) is satisfied.
pkg_present() {
	if [[ $1 == *:* ]] && command -v "${1#*:}" >/dev/null; then
		return 0
	fi
	pkg_installed "${1%%:*}"
}

# The packages among the arguments that are missing, one a line.
pkg_missing() {
	local arg
	for arg in "$@"; do
		pkg_present "$arg" || echo "${arg%%:*}"
	done
}

# apt-get "$@", waiting for apt's and dpkg's locks. DPkg::Lock::Timeout
# makes install wait for dpkg's lock, but `apt-get update` takes the lists
# lock without waiting, so a run that failed only for a lock is retried.
pkg_apt() {
	local err deadline=$((SECONDS + PKG_LOCK_TIMEOUT)) rc said=
	err=$(mktemp)
	while true; do
		rc=0
		# stdout to our stderr, stderr to a file to look for the lock in.
		LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get -q \
			-o DPkg::Lock::Timeout="$PKG_LOCK_TIMEOUT" "$@" >&2 2>"$err" || rc=$?
		if [ "$rc" -eq 0 ] || ! grep -q 'Could not get lock' "$err" ||
			[ "$SECONDS" -ge "$deadline" ]; then
			cat "$err" >&2
			rm -f "$err"
			return "$rc"
		fi
		# apt's locks are fcntl locks, which no shell tool can wait on.
		[ -n "$said" ] || echo "pkg.sh: waiting for another apt or dpkg to finish" >&2
		said=1
		sleep 5
	done
}

# Install whichever of the arguments (PKG or PKG:CMD) is missing. The
# package lists are refreshed only when an install fails without that.
ensure_packages() {
	local arg missing=()
	for arg in "$@"; do
		pkg_present "$arg" || missing+=("${arg%%:*}")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "pkg.sh: ${missing[*]} missing; install as root" >&2
		return 1
	fi
	echo "pkg.sh: installing ${missing[*]}" >&2
	local install=(install -y --no-install-recommends "${missing[@]}")
	pkg_apt "${install[@]}" || { pkg_apt update && pkg_apt "${install[@]}"; }
}
