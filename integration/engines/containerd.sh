# containerd 1.6 driven by ctr: containerd-shim-runc-v2 calls the runtime
# given with --runc-binary. The same containerd serves dockerd (its own
# namespace, moby), so it is started whenever either engine is tested.

CONTAINERD_DIR=$T/containerd
CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock
CTR_IMAGE=localhost/busybox:e2e
# ctr puts a container in the cgroup /NAMESPACE/ID: a keel-e2e namespace makes
# it one that hack/check-leftovers.sh looks for.
CTR=(ctr --address "$CONTAINERD_SOCK" --namespace keel-e2e)
ctr_cli() { bounded "${CTR[@]}" "$@"; }

# Everything containerd keeps (content, snapshots, task bundles, sockets) is
# under $T; plugins that would look outside it (CRI, /opt) are disabled.
containerd_daemon_start() {
	mkdir -p "$CONTAINERD_DIR"
	cat >"$CONTAINERD_DIR/config.toml" <<-TOML
		version = 2
		root = "$CONTAINERD_DIR/root"
		state = "$CONTAINERD_DIR/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
		  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
		  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
		[grpc]
		  address = "$CONTAINERD_SOCK"
		[ttrpc]
		  address = "$CONTAINERD_SOCK.ttrpc"
		[debug]
		  address = "$CONTAINERD_DIR/debug.sock"
		  level = "info"
	TOML
	containerd --config "$CONTAINERD_DIR/config.toml" >"$LOGS/containerd.log" 2>&1 &
	CONTAINERD_PID=$!
	poll 120 ctr_cli version || { tail -n 20 "$LOGS/containerd.log" >&2; return 1; }
}

containerd_start() {
	python3 "$INTEGRATION/lib/oci-image.py" "$ROOTFS_TAR" "$T/busybox-oci.tar" "$CTR_IMAGE"
	ctr_cli images import "$T/busybox-oci.tar" >&2
	ctr_cli images ls -q | grep -qx "$CTR_IMAGE" || fail "ctr did not import $CTR_IMAGE"
}

# Remove every task and container of the suite's namespace.
containerd_stop() {
	[ -n "${CONTAINERD_PID:-}" ] || return 0
	local id
	for id in $(ctr_cli containers ls -q 2>/dev/null); do
		ctr_cli tasks delete --force "$id" >&2 || true
		ctr_cli containers delete "$id" >&2 || true
	done
}

containerd_daemon_stop() {
	[ -n "${CONTAINERD_PID:-}" ] || return 0
	stop_daemon "$CONTAINERD_PID" containerd
	CONTAINERD_PID=
}

EXEC_SEQ=0
containerd_argv() {
	local op=$1 name=$2 flags=() io=(--fifo-dir "$CONTAINERD_DIR/fifo")
	shift 2
	parse_opts "$@"
	[ -z "$OPT_TTY" ] || flags+=(--tty)
	[ -z "$OPT_READONLY" ] || flags+=(--read-only)
	[ -z "$OPT_MEMORY" ] || flags+=(--memory-limit "$OPT_MEMORY")
	[ -z "$OPT_USER" ] || flags+=(--user "$OPT_USER") # ctr has it for exec only
	[ -z "$OPT_WORKDIR" ] || flags+=(--cwd "$OPT_WORKDIR")
	[ -z "$OPT_ENV" ] || flags+=(--env "$OPT_ENV")
	local run=(--runc-binary "$RUNTIME" --runc-root "$CONTAINERD_DIR/runc" "${io[@]}" "${flags[@]}")
	ARGV=("${CTR[@]}")
	case "$op" in
	run_fg) ARGV+=(run --rm "${run[@]}" "$CTR_IMAGE" "$name" "${CMD[@]}") ;;
	run_bg) ARGV+=(run -d --null-io "${run[@]}" "$CTR_IMAGE" "$name" "${CMD[@]}") ;;
	exec)
		EXEC_SEQ=$((EXEC_SEQ + 1))
		ARGV+=(tasks exec "${io[@]}" "${flags[@]}" --exec-id "e$BASHPID-$EXEC_SEQ" "$name" "${CMD[@]}")
		;;
	ps) ARGV+=(tasks ps "$name") ;;
	pause) ARGV+=(tasks pause "$name") ;;
	unpause) ARGV+=(tasks resume "$name") ;;
	stop) ARGV+=(tasks kill "$name") ;; # SIGTERM: ctr has no stop of its own
	# A stopped task is deleted before the container gets a new one.
	start) ARGV=(sh -c '"$@" tasks delete "$0" && "$@" tasks start -d --null-io "$0"' "$name" "${CTR[@]}") ;;
	kill) ARGV+=(tasks kill -s "SIG${CMD[0]}" "$name") ;;
	update) ARGV=() ;; # ctr 1.6 has no command for the task's Update
	rm_f) ARGV=(sh -c '"$@" tasks delete --force "$0" && "$@" containers delete "$0"' "$name" "${CTR[@]}") ;;
	esac
}

# `ctr tasks ls`: TASK PID STATUS
containerd_task_field() {
	ctr_cli tasks ls | awk -v n="$1" -v f="$2" '$1 == n { print $f }'
}
containerd_pid() { containerd_task_field "$1" 2; }
containerd_known() { ctr_cli containers ls -q | grep -qx "$1"; }
containerd_state() { containerd_task_field "$1" 3 | tr '[:upper:]' '[:lower:]'; }
# ctr maps nothing: a create that fails is ctr's own failure, status 1.
containerd_missing_status() { echo 1; }
