//! A container without a mount namespace shares the runtime's (runtime-spec:
//! a namespace type absent from `linux.namespaces` is inherited). It sees
//! the runtime's mnt namespace, its mounts are made there below its rootfs
//! while it lives, `exec` enters its root, and once it is deleted (also
//! after a create that failed or was killed midway) the runtime's mount
//! table is byte for byte what it was before.
//!
//! Each test runs on a thread of its own in a private mount namespace of
//! its own, which plays the runtime's: only the test changes that table,
//! so comparing it whole is exact however busy the machine is, and nothing
//! of these containers can reach the host's table.

mod common;
// Only some of the fault helpers are needed here.
#[allow(dead_code)]
#[path = "faults/support.rs"]
mod faults_support;

use common::sandbox::BASE;
use common::sys::wait_pid_gone;
use common::{is_keel, Sandbox};
use faults_support::{assert_container_gone, kill_runtime};
use serde_json::json;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Run `test` on a new thread in a new private mount namespace. Copies of
/// other sandboxes' mounts (another test's tmpfs, say) are dropped from it
/// first: the harness would take a process of ours holding them for theirs.
fn in_own_mount_namespace(test: impl FnOnce() + Send + 'static) {
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare of this thread's own fs context and mount
        // namespace; the other threads of the process keep theirs.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNS): {}",
            io::Error::last_os_error()
        );
        // SAFETY: mount(2) with static C strings, on our new namespace only.
        let rc = unsafe {
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_PRIVATE | libc::MS_REC,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "make / rprivate: {}", io::Error::last_os_error());
        for point in mount_points_under(BASE).iter().rev() {
            let c = CString::new(point.as_os_str().as_bytes()).unwrap();
            // SAFETY: umount2 with a valid C string, in our namespace only.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        test();
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// This thread's mount table (`/proc/self` would be the main thread's).
fn mount_table() -> String {
    fs::read_to_string("/proc/thread-self/mountinfo").expect("read mountinfo")
}

fn mount_points_under(dir: &str) -> Vec<PathBuf> {
    mount_table()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn own_mnt_ns() -> String {
    let link = fs::read_link("/proc/thread-self/ns/mnt").expect("readlink ns/mnt");
    link.to_string_lossy().into_owned()
}

/// The sandbox's rootfs as the mount table names it.
fn rootfs(sb: &Sandbox) -> String {
    let path = sb.bundle.rootfs().canonicalize().expect("canonical rootfs");
    path.to_string_lossy().into_owned()
}

/// Whether `table` has a mount of type `fstype` at `point`.
fn has_mount(table: &str, point: &str, fstype: &str) -> bool {
    table.lines().any(|l| {
        let (left, right) = l.split_once(" - ").unwrap_or_default();
        left.split(' ').nth(4) == Some(point) && right.split(' ').next() == Some(fstype)
    })
}

/// Fail unless the table is what it was; runc leaves its mounts behind
/// (and makes "/" rslave), so only keel is held to it.
fn assert_table_restored(before: &str) {
    if is_keel() {
        assert_eq!(mount_table(), before, "the mount table changed");
    }
}

#[test]
fn a_container_without_a_mount_namespace_shares_ours_and_leaves_no_mount() {
    in_own_mount_namespace(|| {
        let before = mount_table();
        let mut sb = Sandbox::new("shared_mntns");
        let (mut events, mut gate) = (sb.fifo("events"), sb.fifo("gate"));
        sb.bundle
            .remove_namespace("mount")
            .sh("readlink /proc/self/ns/mnt > /shared/events; \
             grep -q ' /proc .* - proc ' /proc/self/mountinfo && echo proc > /shared/events; \
             read x < /shared/gate");
        let id = sb.id.clone();
        sb.create_and_start(&id);
        assert_eq!(events.read_line("the container's mnt ns"), own_mnt_ns());
        assert_eq!(events.read_line("its /proc"), "proc", "no procfs at /proc");
        let proc = format!("{}/proc", rootfs(&sb));
        assert!(
            has_mount(&mount_table(), &proc, "proc"),
            "no proc mount at {proc} while the container runs:\n{}",
            mount_table()
        );
        gate.write_line("go");
        sb.wait_exit(&id);
        sb.rt.ok(&["delete", &id]);
        assert_table_restored(&before);
    });
}

#[test]
fn exec_enters_the_root_of_a_container_without_a_mount_namespace() {
    in_own_mount_namespace(|| {
        let mut sb = Sandbox::new("shared_mntns_exec");
        fs::write(sb.bundle.rootfs().join("marker"), "in the rootfs\n").unwrap();
        sb.bundle.remove_namespace("mount").args(&["sleep", "1000"]);
        let id = sb.id.clone();
        sb.create_and_start(&id);
        let script = "cat /marker; pwd; readlink /proc/self/ns/mnt";
        let out = sb
            .rt
            .ok(&["exec", "--cwd", "/etc", &id, "sh", "-c", script]);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines, ["in the rootfs", "/etc", &own_mnt_ns()], "{out}");
    });
}

#[test]
fn a_create_killed_midway_without_a_mount_namespace_is_undone_by_delete_force() {
    in_own_mount_namespace(|| {
        let before = mount_table();
        let mut sb = Sandbox::new("shared_mntns_killed");
        let (mut events, mut block) = (sb.fifo("events"), sb.fifo("block"));
        let shared = sb.shared.display().to_string();
        // A createContainer hook runs in the init once every mount is
        // made: the create is stopped there.
        let script = format!("echo hook > {shared}/events; read x < {shared}/block");
        sb.bundle
            .remove_namespace("mount")
            .sh_hook("createContainer", &script)
            .args(&["true"]);
        let id = sb.id.clone();
        sb.prepare(&id);
        let bundle = sb.bundle.dir.to_str().unwrap().to_string();
        let create = sb.rt.spawn(&["create", "--bundle", &bundle, &id]);
        events.read_line("the createContainer hook to run");
        let init = sb.rt.pid(&id);
        let proc = format!("{}/proc", rootfs(&sb));
        assert!(
            has_mount(&mount_table(), &proc, "proc"),
            "nothing mounted yet"
        );
        kill_runtime(create);
        wait_pid_gone(init, "the init of the killed create");
        block.write_line("go");
        sb.rt.ok(&["delete", "--force", &id]);
        assert_container_gone(&sb, &id, Some(init));
        assert_table_restored(&before);
    });
}

#[test]
fn a_failed_create_without_a_mount_namespace_leaves_no_mount() {
    in_own_mount_namespace(|| {
        let before = mount_table();
        let mut sb = Sandbox::new("shared_mntns_failed");
        // The devices come after every mount: this one fails there (an
        // existing file that is not the device asked for).
        let device = json!({"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3});
        sb.bundle
            .remove_namespace("mount")
            .args(&["true"])
            .push("/linux/devices", device);
        let id = sb.id.clone();
        sb.create_fails_cleanly(&id, &["/etc/passwd"]);
        assert_table_restored(&before);
    });
}

#[test]
fn a_user_namespace_without_a_mount_namespace_is_refused() {
    keel_only!();
    let mut sb = Sandbox::new("shared_mntns_userns");
    sb.bundle
        .remove_namespace("mount")
        .push("/linux/namespaces", json!({"type": "user"}))
        .set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .args(&["true"]);
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, "linux.namespaces", &["mount namespace"]);
}
