# podman 4.3 through conmon, the runtime given by path. All state lives under
# $T/podman; conmon's exit command (`podman container cleanup`) gets the same
# global flags from podman and the same containers.conf from the environment.

PODMAN_DIR=$T/podman
PODMAN_IMAGE=localhost/busybox:e2e
PODMAN_CGROUP=/keel-e2e-podman
# In $PODMAN_DIR: conmon 2.1.6, given no persist dir by podman 4.3, writes a
# file "oom" into its working directory when the container meets an OOM kill.
PODMAN=(env -C "$PODMAN_DIR" "CONTAINERS_CONF=$PODMAN_DIR/containers.conf"
	"CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf"
	podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp"
	--network-config-dir "$PODMAN_DIR/networks" --volumepath "$PODMAN_DIR/volumes"
	--storage-driver overlay --cgroup-manager cgroupfs --events-backend file
	--runtime "$RUNTIME")
podman_cli() { bounded "${PODMAN[@]}" "$@"; }

# Root's hard NOFILE limit here is 20000 and CAP_SYS_RESOURCE is missing, so
# podman's default (1048576) cannot be set: its ulimits are brought under the
# machine's. There is no systemd: cgroupfs, events in a file, no network.
# podman asks a runtime for runc's JSON log (--log-format=json --log FILE,
# whose last msg becomes the user's error) only if the runtime's name is in
# runtime_supports_json; keel writes that log as runc does, so it is listed.
# (Unlisted, podman shows the runtime's stderr line as it is, in logrus
# text format, for runc as for keel.)
podman_start() {
	mkdir -p "$PODMAN_DIR/networks" "$PODMAN_DIR/tmp"
	cat >"$PODMAN_DIR/containers.conf" <<-CONF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		netns = "none"
		log_driver = "k8s-file"

		[engine]
		runtime_supports_json = ["crun", "runc", "keel", "$(basename "$RUNTIME")"]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$PODMAN_DIR/events.log"
	CONF
	echo 'unqualified-search-registries = []' >"$PODMAN_DIR/registries.conf"
	podman_cli import "$ROOTFS_TAR" "$PODMAN_IMAGE" >&2
}

podman_stop() {
	[ -d "$PODMAN_DIR/root" ] || return 0
	podman_cli rm -a -f -t 0 >&2 || true
}

podman_argv() {
	parse_opts "${@:3}"
	ARGV=("${PODMAN[@]}")
	docker_style_argv "$1" "$2" "$PODMAN_IMAGE" --network none --cgroup-parent "$PODMAN_CGROUP"
	# rm -f without podman's 10 s wait for a SIGTERM that `sleep` as pid 1 ignores
	[ "$1" != rm_f ] || ARGV+=(--time 0)
}

podman_pid() { podman_cli inspect -f '{{.State.Pid}}' "$1"; }
podman_known() { podman_cli container exists "$1"; }
podman_state() {
	local s
	s=$(podman_cli inspect -f '{{.State.Status}}' "$1")
	[ "$s" = exited ] && s=stopped
	echo "$s"
}
# podman maps the runtime's "no such file or directory" to 127.
podman_missing_status() { echo 127; }
