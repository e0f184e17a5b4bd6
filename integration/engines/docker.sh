# dockerd 20.10 with the runtime under test added as "tested" and made the
# default; it drives the suite's own containerd (namespace moby), so its
# runtime calls come from containerd-shim-runc-v2 as in production.

DOCKER_DIR=$T/docker
DOCKER_IMAGE=localhost/busybox:e2e
DOCKER_CGROUP=keel-e2e-docker
# An array, not a function: timeout(1) and script(1) must be able to run it.
DOCKER=(env "DOCKER_CONFIG=$DOCKER_DIR/client" docker --host "unix://$DOCKER_DIR/docker.sock")
docker_cli() { bounded "${DOCKER[@]}" "$@"; }

docker_start() {
	mkdir -p "$DOCKER_DIR/client"
	echo '{}' >"$DOCKER_DIR/daemon.json"
	dockerd --config-file "$DOCKER_DIR/daemon.json" \
		--data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
		--pidfile "$DOCKER_DIR/docker.pid" --host "unix://$DOCKER_DIR/docker.sock" \
		--containerd "$CONTAINERD_SOCK" \
		--iptables=false --ip-masq=false --bridge=none --userland-proxy=false \
		--storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
		--cgroup-parent "$DOCKER_CGROUP" \
		--add-runtime "tested=$RUNTIME" --default-runtime tested \
		>"$LOGS/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	poll 120 docker_cli version || { tail -n 20 "$LOGS/dockerd.log" >&2; return 1; }
	docker_cli import "$ROOTFS_TAR" "$DOCKER_IMAGE" >&2
}

# Remove every container (their task goes through the runtime's delete),
# then stop dockerd and wait for it.
docker_stop() {
	[ -n "${DOCKERD_PID:-}" ] || return 0
	local ids
	ids=$(docker_cli ps -aq) || true
	# shellcheck disable=SC2086 # one id per word
	[ -z "$ids" ] || docker_cli rm -f $ids >&2 || true
	stop_daemon "$DOCKERD_PID" dockerd
	DOCKERD_PID=
}

docker_argv() {
	parse_opts "${@:3}"
	ARGV=("${DOCKER[@]}")
	docker_style_argv "$1" "$2" "$DOCKER_IMAGE" --runtime tested --network none
}

docker_pid() { docker_cli inspect -f '{{.State.Pid}}' "$1"; }
docker_known() { docker_cli inspect "$1" >/dev/null 2>&1; }
docker_state() {
	local s
	s=$(docker_cli inspect -f '{{.State.Status}}' "$1")
	[ "$s" = exited ] && s=stopped
	echo "$s"
}
# dockerd maps the runtime's "no such file or directory" to 127.
docker_missing_status() { echo 127; }
