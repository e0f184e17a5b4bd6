//! Faults an engine meets: the runtime SIGKILLed at each step of `create`
//! (an OOM kill, a timeout), a container's init killed from outside, a
//! damaged state file, and a `--root` that is read-only or full. Each must
//! end in a clear error and in nothing left once `delete --force` ran.
//!
//! The runtime is stopped at a step by making it block there on something
//! the test holds (a fifo it must read or open, a hook that waits), and the
//! test learns it got there from the runtime's own traces (a hook's message,
//! inotify on the state directory), never from a sleep.

mod common;
#[path = "faults/support.rs"]
mod faults_support;

use common::sys::{wait_pid_gone, PidFd};
use common::{ExtraCgroups, Runtime, Sandbox, Spawned, TIMEOUT};
use faults_support::{
    assert_container_gone, cgroup_dirs, kill_runtime, open_in_thread, wait_in_dir, TmpfsGuard,
};
use serde_json::json;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Spawn `create` of the sandbox's container (already prepared).
fn spawn_create(sb: &Sandbox) -> Spawned {
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    sb.rt.spawn(&["create", "--bundle", &bundle, &sb.id])
}

#[test]
fn killed_while_reading_the_config_leaves_nothing() {
    let mut sb = Sandbox::new("fault_config");
    let id = sb.id.clone();
    sb.prepare(&id);
    // config.json is a fifo: the runtime blocks reading it until we write.
    let config = sb.bundle.config_path();
    fs::remove_file(&config).unwrap();
    mkfifo(&config);
    let create = spawn_create(&sb);
    // Our open for writing returns once the runtime has opened it to read.
    let writer = open_in_thread(&config, libc::O_WRONLY);
    let _writer = writer
        .recv_timeout(TIMEOUT)
        .expect("the runtime to open config.json");
    kill_runtime(create);
    sb.rt.ok(&["delete", "--force", &id]);
    assert_container_gone(&sb, &id, None);
}

#[test]
fn killed_after_claiming_the_id_before_the_init_exists() {
    keel_only!();
    let mut sb = Sandbox::new("fault_claimed");
    // A namespace to join whose path is a fifo: opening it blocks, and keel
    // opens namespaces after it has claimed the id, before the clone.
    let ns = sb.dir.join("ns-fifo");
    mkfifo(&ns);
    sb.bundle.remove_namespace("network");
    sb.bundle.push(
        "/linux/namespaces",
        serde_json::json!({"type": "network", "path": ns}),
    );
    let id = sb.id.clone();
    sb.prepare(&id);
    fs::create_dir_all(&sb.rt.root).unwrap();
    let create = spawn_create(&sb);
    let dir = sb.state_dir(&id);
    wait_in_dir(&sb.rt.root, || dir.exists(), "the state dir to be claimed");
    kill_runtime(create);
    sb.rt.ok(&["delete", "--force", &id]);
    assert_container_gone(&sb, &id, None);
}

#[test]
fn killed_after_making_the_cgroup_before_the_init_exists() {
    keel_only!();
    let mut sb = Sandbox::new("fault_cgroup_made");
    // A console socket whose accept queue is full: keel's connect blocks,
    // and keel connects after it made the cgroup, before the clone and
    // before any state.json exists. Only its cgroup record names the
    // cgroup then.
    let sock = sb.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // SAFETY: listen(2) again on our own socket only sets its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let _queued = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    sb.bundle.set("/process/terminal", json!(true));
    let id = sb.id.clone();
    sb.prepare(&id);
    let parent = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .iter()
        .map(|h| Path::new(h).join("keel-test"))
        .find(|p| p.parent().unwrap().join("cgroup.procs").exists())
        .expect("a cgroup hierarchy to watch");
    fs::create_dir_all(&parent).unwrap();
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let socket = sock.to_str().unwrap();
    let create = sb.rt.spawn(&[
        "create",
        "--bundle",
        &bundle,
        "--console-socket",
        socket,
        &id,
    ]);
    let made = parent.join(&id);
    wait_in_dir(
        &parent,
        || made.is_dir(),
        "the container's cgroup to be made",
    );
    kill_runtime(create);
    assert!(!sb.state_dir(&id).join("state.json").exists());
    let out = sb.rt.fails(&["delete", &id]);
    assert!(
        out.stderr.contains("its create did not finish"),
        "delete without --force: {out}"
    );
    sb.rt.ok(&["delete", "--force", &id]);
    assert_container_gone(&sb, &id, None);
}

/// Kill `create` while the hook of `kind` runs, and check `delete --force`
/// removes all of it. A prestart hook runs on the host while the init
/// waits; a createContainer hook runs in the init, after its mounts are
/// made and before pivot_root (the middle of the rootfs set-up).
fn kill_during_hook(test: &str, kind: &str) {
    let mut sb = Sandbox::new(test);
    let (mut events, mut block) = (sb.fifo("events"), sb.fifo("block"));
    let shared = sb.shared.display().to_string();
    let script = format!(
        "cat > {shared}/hook-state.json; echo hook $$ > {shared}/events; read x < {shared}/block"
    );
    sb.bundle.sh_hook(kind, &script).args(&["true"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    let create = spawn_create(&sb);
    let line = events.read_line(&format!("the {kind} hook to run"));
    let hook: i32 = line
        .strip_prefix("hook ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("hook reported {line:?}"));
    // A createContainer hook runs in the container's pid namespace and is
    // told the init's pid there (1, as runc does): ask the runtime instead.
    let init = match kind {
        "createContainer" => sb.rt.pid(&id),
        _ => sb.init_pid_from_hook_state(),
    };
    // $$ of a hook in the container's pid namespace is not a host pid; that
    // hook dies with its namespace's init, and the sandbox's process scan
    // would find it (its command line names the sandbox) if it did not.
    let hook_fd = (kind != "createContainer")
        .then(|| PidFd::open(hook))
        .flatten();
    kill_runtime(create);
    // The init dies with its runtime; a hook on the host is orphaned to us.
    wait_pid_gone(init, "the init of the killed create");
    block.write_line("go");
    if let Some(h) = hook_fd {
        h.wait_gone("hook");
    }
    sb.rt.ok(&["delete", "--force", &id]);
    assert_container_gone(&sb, &id, Some(init));
}

#[test]
fn killed_while_prestart_hooks_run() {
    kill_during_hook("fault_prestart", "prestart");
}

#[test]
fn killed_while_the_init_sets_up_the_rootfs() {
    kill_during_hook("fault_rootfs", "createContainer");
}

#[test]
fn killed_after_the_init_is_ready_before_create_returns() {
    keel_only!();
    let mut sb = Sandbox::new("fault_pidfile");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    fs::create_dir_all(&sb.rt.root).unwrap();
    // keel writes the pid file last, through `.NAME.<its pid>.tmp`; a fifo
    // there (the shell knows the pid it is about to exec keel as) blocks it
    // after it recorded the container as created.
    let pid_dir = sb.dir.join("pid");
    fs::create_dir(&pid_dir).unwrap();
    let script = format!("mkfifo {}/.pid.$$.tmp && exec \"$@\"", pid_dir.display());
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let pid_file = pid_dir.join("pid");
    let args = ["create", "--bundle", &bundle, "--pid-file"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend([pid_file.to_str().unwrap(), id.as_str()]);
    let create = sb.rt.command_via_sh(&script, &args).spawn();
    let dir = sb.state_dir(&id);
    wait_in_dir(&sb.rt.root, || dir.exists(), "the state dir to be claimed");
    let created = || {
        fs::read_to_string(dir.join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|s| s["created_done"] == true)
    };
    wait_in_dir(&dir, created, "the state to say created");
    let init = sb.note_init(&id);
    kill_runtime(create);
    // The init outlives its runtime once created, as a container must.
    assert_eq!(sb.rt.status(&id), "created");
    sb.rt.ok(&["delete", "--force", &id]);
    assert_container_gone(&sb, &id, Some(init));
}

#[test]
fn an_init_killed_from_outside_is_stopped() {
    let (sb, id) = Sandbox::with_running_container("fault_outside_kill");
    let init = sb.init_pid(&id);
    // SAFETY: kill(2) of the container's init, which we track by pidfd.
    assert_eq!(unsafe { libc::kill(init, libc::SIGKILL) }, 0);
    sb.reap_init(&id);
    assert_eq!(sb.rt.status(&id), "stopped");
    sb.rt.ok(&["delete", &id]);
    assert_container_gone(&sb, &id, Some(init));
}

/// Damage a created container's state.json with `damage`, then check that
/// state, kill and start fail with one line naming the file, and that
/// `delete --force` removes the state dir and, when something still names
/// the init (`findable`: the damaged file, or the cgroup record create
/// wrote beside it), the init and its cgroup too. Not findable, the
/// record is removed as well, as a keel that wrote none would leave it.
fn damaged_state(test: &str, damage: Damage, findable: bool) {
    keel_only!();
    let mut sb = Sandbox::new(test);
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create(&id);
    let init = sb.init_pid(&id);
    let path = sb.state_dir(&id).join("state.json");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, damage(&text)).unwrap();
    if !findable {
        fs::remove_file(sb.state_dir(&id).join("cgroup.json")).unwrap();
    }
    for args in [
        vec!["state", &id],
        vec!["kill", &id, "KILL"],
        vec!["start", &id],
    ] {
        let out = sb.rt.fails(&args);
        // The file, and the way out.
        common::assert_keel_error(&out, &["state.json", "delete --force"]);
    }
    sb.rt.ok(&["delete", "--force", &id]);
    if findable {
        assert_container_gone(&sb, &id, Some(init));
        return;
    }
    // Nothing says which process was the init: the state dir goes, the
    // init is left to whoever started it (here, the sandbox).
    assert!(!sb.state_dir(&id).exists(), "state dir left behind");
    let left = PidFd::open(init).expect("the init is still there");
    assert!(
        !left.has_exited(),
        "keel found an init the file does not name"
    );
    left.kill(libc::SIGKILL);
}

#[test]
fn a_truncated_state_file_is_a_clear_error_and_force_deletes_all() {
    damaged_state("fault_truncated_state", truncated, true);
}

type Damage = fn(&str) -> String;

fn truncated(text: &str) -> String {
    text[..text.len() / 2].to_string()
}

fn garbage(_: &str) -> String {
    "\u{1}not json\n".into()
}

#[test]
fn a_garbage_state_file_is_a_clear_error_and_force_deletes_all() {
    damaged_state("fault_garbage_state", garbage, true);
}

#[test]
fn a_garbage_state_file_without_a_cgroup_record_force_deletes_the_dir() {
    damaged_state("fault_garbage_no_record", garbage, false);
}

/// A `linux.cgroupsPath` that does not end in the container's id (podman's
/// `/machine.slice/libpod-<id>`): `delete --force` of a container whose
/// state file is damaged still removes its cgroup, and kills its init
/// even when the file no longer names it.
#[test]
fn a_damaged_state_file_with_a_cgroup_named_otherwise_force_deletes_all() {
    keel_only!();
    let damages = [
        ("fault_cg_truncated", truncated as Damage),
        ("fault_cg_garbage", garbage),
    ];
    for (test, damage) in damages {
        // The sandbox removes /keel-test/ID only, which a leaf keel left
        // would keep. Declared before the sandbox, so it goes after it: a
        // cgroup keel left is empty by then.
        let mut leftover = ExtraCgroups::default();
        let mut sb = Sandbox::new(test);
        sb.bundle.args(&["sleep", "1000"]);
        let id = sb.id.clone();
        sb.prepare(&id);
        let leaf = format!("{id}/ctr");
        leftover
            .add(format!("/keel-test/{leaf}"))
            .add(format!("/keel-test/{id}"));
        sb.bundle
            .set("/linux/cgroupsPath", json!(format!("/keel-test/{leaf}")));
        sb.bundle.save();
        let bundle = sb.bundle.dir.to_str().unwrap().to_string();
        sb.rt.ok(&["create", "--bundle", &bundle, &id]);
        let init = sb.note_init(&id);
        assert!(!cgroup_dirs(&leaf).is_empty(), "create made no cgroup");
        let path = sb.state_dir(&id).join("state.json");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, damage(&text)).unwrap();
        sb.rt.ok(&["delete", "--force", &id]);
        let left = cgroup_dirs(&leaf);
        assert!(left.is_empty(), "{test}: cgroups left behind: {left:?}");
        // delete waited for the processes it killed: the init has exited.
        let init = PidFd::open(init).expect("the init, a zombie of ours");
        assert!(
            init.has_exited(),
            "{test}: the init survived delete --force"
        );
        assert!(!sb.state_dir(&id).exists(), "{test}: state dir left behind");
        sb.assert_no_process_or_mount();
    }
}

#[test]
fn a_read_only_root_is_a_clear_error_and_leaves_nothing() {
    let mut sb = Sandbox::new("fault_ro_root");
    let fs_dir = sb.dir.join("ro");
    let guard = TmpfsGuard::mount(&fs_dir, "size=1m");
    guard.remount_read_only();
    check_bad_root(
        &mut sb,
        guard,
        &fs_dir.join("root"),
        "Read-only file system",
    );
}

#[test]
fn a_full_root_is_a_clear_error_and_leaves_nothing() {
    let mut sb = Sandbox::new("fault_full_root");
    let fs_dir = sb.dir.join("full");
    let guard = TmpfsGuard::mount(&fs_dir, "size=64k");
    // The state dir itself may fit (tmpfs directories take no pages);
    // state.json will not.
    fs::create_dir(fs_dir.join("root")).unwrap();
    guard.fill();
    check_bad_root(
        &mut sb,
        guard,
        &fs_dir.join("root"),
        "No space left on device",
    );
}

/// `create` under `root` (on the filesystem `fs`) must fail with one line
/// saying `why`, and leave no state dir, cgroup, process or mount.
fn check_bad_root(sb: &mut Sandbox, fs: TmpfsGuard, root: &Path, why: &str) {
    let id = sb.id.clone();
    sb.save_config(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let rt = Runtime::new(
        common::runtime_path(),
        root.to_path_buf(),
        sb.dir.join("out-bad"),
    );
    let out = rt.run(&["create", "--bundle", &bundle, &id]);
    out.assert_failed();
    common::assert_keel_error(&out, &[why]);
    assert!(!root.join(&id).exists(), "state dir left under {root:?}");
    let leftovers: Vec<_> = fs::read_dir(root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "left in {root:?}: {leftovers:?}");
    drop(fs);
    assert_container_gone(sb, &id, None);
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {path:?}: {}",
        std::io::Error::last_os_error()
    );
}
