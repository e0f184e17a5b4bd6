# Setting up and tearing down what the engines need: packages, the busybox
# rootfs, the runtime's own error text, daemons, and the clean-up of what the
# engines leave behind (cgroups, mounts, processes). Sourced by run.sh.

# Only what is missing is installed, without recommends (apparmor, buildah,
# needrestart... are not needed). Services are kept from starting: the suite
# starts its own daemons, and there is no init system to stop them.
install_engines() {
	. "$REPO/hack/lib/pkg.sh"
	local missing
	mapfile -t missing < <(pkg_missing podman conmon containerd docker.io \
		busybox-static python3 bsdutils:script iptables:iptables)
	[ ${#missing[@]} -gt 0 ] || return 0
	say "installing ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
	fi
	local rc=0
	ensure_packages "${missing[@]}" >"$LOGS/apt.log" 2>&1 || rc=$?
	[ -z "$made_policy" ] || rm -f "$policy"
	[ "$rc" -eq 0 ] || { tail -n 20 "$LOGS/apt.log" >&2; return "$rc"; }
}

# The image's content: keel's own test bundle (hack/mkbundle.sh), as a tar.
make_rootfs_tar() {
	"$REPO/hack/mkbundle.sh" "$T/bundle" "$RUNTIME" >&2
	tar -C "$T/bundle/rootfs" -cf "$ROOTFS_TAR" .
}

# RUNTIME_ERROR: what the runtime itself says when the program is missing,
# as containerd's shim reads it (the msg of the last line of --log in json).
# The check error_message looks for these words in each engine's output.
runtime_missing_program_error() {
	python3 - "$T/bundle/config.json" <<-'PY'
		import json, sys
		path = sys.argv[1]
		config = json.load(open(path))
		config["process"]["args"] = ["/nonexistent-e2e"]
		json.dump(config, open(path, "w"))
	PY
	local log=$T/runtime-error.json
	if bounded "$RUNTIME" --root "$T/runtime-root" --log "$log" --log-format json \
		create --bundle "$T/bundle" e2e-probe 2>/dev/null; then
		bounded "$RUNTIME" --root "$T/runtime-root" delete --force e2e-probe || true
		fail "the runtime created a container whose program is missing"
		return 1
	fi
	bounded "$RUNTIME" --root "$T/runtime-root" delete --force e2e-probe >/dev/null 2>&1 || true
	RUNTIME_ERROR=$(tail -n 1 "$log" | python3 -c 'import json, sys; print(json.load(sys.stdin)["msg"])')
	say "the runtime's error for a missing program: $RUNTIME_ERROR"
	[ -n "$RUNTIME_ERROR" ]
}

# stop_daemon PID NAME: SIGTERM, and wait for it (bounded); SIGKILL if it
# does not go.
stop_daemon() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! poll 60 eval "! kill -0 $pid"; then
		say "$2 ($pid) ignored SIGTERM for 60 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# The cgroups the engines leave: each engine's parent (keel-e2e-docker,
# keel-e2e-podman, the ctr namespace keel-e2e) in every hierarchy, including
# the plain directories podman and conmon make under /sys/fs/cgroup for
# controllers that are not mounted here. Children first; rmdir only, so a
# cgroup that still has processes stays and is reported. The machine's
# memory/process_api is never entered.
remove_engine_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -path /sys/fs/cgroup/memory/process_api -prune \
		-o -type d -name 'keel-e2e*' -print 2>/dev/null |
		while IFS= read -r dir; do
			find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
		done
	local top
	for top in /sys/fs/cgroup/*; do
		[ -d "$top" ] || continue
		case " $CGROUP_TOPS_BEFORE " in *" $top "*) continue ;; esac
		# A controller directory an engine made on the tmpfs, now empty.
		mountpoint -q "$top" || rmdir "$top" 2>/dev/null || true
	done
}

# Mounts under $T (overlays, shm, netns) that an engine failed to remove:
# deepest first, lazily, so the directory can go.
unmount_leftovers() {
	local mnt
	awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while IFS= read -r mnt; do
			say "unmounting leftover $mnt"
			umount -l "$mnt" || true
		done
}

# Processes the engines left (shims, conmon, containers): this script is
# their subreaper, so they are its children; each is killed by pid and waited.
kill_leftover_children() {
	local pid left
	left=$(cat /proc/$$/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true)
	for pid in $left; do
		[ -e "/proc/$pid" ] || continue
		say "leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# What the engines write outside the temporary directory whatever their
# flags say: dockerd 20.10 its trust key, podman its blob-info cache and
# netavark's run directory. Those that were not there before the suite go.
HOST_PATHS=(/etc/docker/key.json /var/lib/containers /run/containers)
host_paths_present() {
	local p
	for p in "${HOST_PATHS[@]}"; do [ ! -e "$p" ] || echo "$p"; done
}
remove_host_paths() {
	local p
	for p in $(host_paths_present); do
		case " $HOST_PATHS_BEFORE " in *" $p "*) ;; *) rm -rf --one-file-system "$p" ;; esac
	done
}

# leftovers: print what the suite failed to clean (its own check; keel's
# hack/check-leftovers.sh runs after it in CI).
leftovers() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path /sys/fs/cgroup/memory/process_api -prune \
		-o -type d -name 'keel-e2e*' -print 2>/dev/null | sed 's/^/cgroup: /'
	local top
	for top in /sys/fs/cgroup/*; do
		case " $CGROUP_TOPS_BEFORE " in *" $top "*) ;; *) echo "cgroup: $top (new)" ;; esac
	done
	awk -v t="$T/" 'index($5, t) == 1 { print "mount: " $5 }' /proc/self/mountinfo
	for top in $(host_paths_present); do
		case " $HOST_PATHS_BEFORE " in *" $top "*) ;; *) echo "file: $top" ;; esac
	done
	local proc cmd
	for proc in /proc/[0-9]*; do
		[ "${proc#/proc/}" != "$BASHPID" ] || continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline") || continue
		case "$cmd" in *"$T/"*) echo "process ${proc#/proc/}: $cmd" ;; esac
	done
}
