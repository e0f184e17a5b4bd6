//! cgroup2 as root, on any host with a cgroup2 hierarchy: on this hybrid
//! machine its `unified` mount offers only hugetlb, but device programs,
//! cgroup.freeze and cgroup.kill work on any of its directories. Each test
//! makes `/keel-test/<pid>-<n>` (the fixture removes it, programs and all).

use std::os::fd::RawFd;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::harness::{fixture_v2, proc_state, res, try_opens};
use crate::cgroups::v2::{devices, freezer};

fn nothing(_: &mut [i32; 4], _: RawFd) {}

/// errno (or 0) of opening /dev/null r, /dev/null w, /dev/zero r.
fn open_null_and_zero(out: &mut [i32; 4], _: RawFd) {
    try_opens(
        &[
            (b"/dev/null\0", libc::O_RDONLY),
            (b"/dev/null\0", libc::O_WRONLY),
            (b"/dev/zero\0", libc::O_RDONLY),
        ],
        out,
    );
}

#[test]
fn an_ebpf_device_program_denies_what_the_rules_deny() {
    let Some(fx) = fixture_v2() else { return };
    fx.cg.create(None).unwrap();
    let dir = fx.cg.unified_dir().unwrap();
    let deny_null_read = res(r#"{"devices":[{"allow":true,"access":"rwm"},
        {"allow":false,"type":"c","major":1,"minor":3,"access":"r"}]}"#);
    devices::apply(&dir, &deny_null_read).unwrap();
    assert_eq!(devices::attached(&dir), Ok(1));
    let child = fx.spawn(open_null_and_zero);
    fx.cg.add(child.pid).unwrap();
    assert_eq!(child.go()[..3], [libc::EPERM, 0, 0]);
    assert_eq!(child.finish(), 0);

    // An update replaces the program rather than adding a second one.
    let allow_all = res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
    devices::apply(&dir, &allow_all).unwrap();
    assert_eq!(devices::attached(&dir), Ok(1));
    let child = fx.spawn(open_null_and_zero);
    fx.cg.add(child.pid).unwrap();
    assert_eq!(child.go()[..3], [0, 0, 0]);
    assert_eq!(child.finish(), 0);
}

#[test]
fn the_default_device_list_as_a_program() {
    let Some(fx) = fixture_v2() else { return };
    fx.cg.create(None).unwrap();
    let dir = fx.cg.unified_dir().unwrap();
    // Deny all but /dev/zero read-only; /dev/null is not on this list.
    let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rw"},
        {"allow":false,"type":"c","major":1,"minor":5,"access":"w"}]}"#);
    devices::apply(&dir, &r).unwrap();
    let child = fx.spawn(open_null_and_zero);
    fx.cg.add(child.pid).unwrap();
    assert_eq!(child.go()[..3], [libc::EPERM, libc::EPERM, 0]);
    assert_eq!(child.finish(), 0);
}

#[test]
fn cgroup_freeze_stops_and_thaw_resumes() {
    let Some(fx) = fixture_v2() else { return };
    fx.cg.create(None).unwrap();
    let dir = fx.cg.unified_dir().unwrap();
    let child = fx.spawn(nothing);
    fx.cg.add(child.pid).unwrap();
    freezer::freeze(&dir).unwrap();
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
    assert_eq!(freezer::frozen_in(&events), Some(true), "{events}");
    assert!(freezer::is_frozen(&crate::cgroups::fs::Dir(dir.clone())));
    eprintln!("frozen child's State: {}", proc_state(child.pid));
    freezer::thaw(&dir).unwrap();
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
    assert_eq!(freezer::frozen_in(&events), Some(false), "{events}");
    // Running again: it reads `go`, reports and exits when released.
    assert_eq!(child.go(), [0; 4]);
    assert_eq!(child.finish(), 0);
}

#[test]
fn cgroup_kill_ends_every_process() {
    let Some(fx) = fixture_v2() else { return };
    fx.cg.create(None).unwrap();
    let child = fx.spawn(nothing);
    fx.cg.add(child.pid).unwrap();
    if !fx.cg.kill_all().unwrap() {
        eprintln!("skipped: this kernel has no cgroup.kill");
        return;
    }
    let pid = nix::unistd::Pid::from_raw(child.pid);
    assert_eq!(
        child.reap(),
        WaitStatus::Signaled(pid, Signal::SIGKILL, false)
    );
    assert!(fx.cg.pids().unwrap().is_empty());
}

#[test]
fn clone3_starts_the_child_in_the_cgroup() {
    let Some(fx) = fixture_v2() else { return };
    fx.cg.create(None).unwrap();
    let fd = fx.cg.unified_fd().expect("cgroup2 directory");
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (r_raw, w_raw) = (
        std::os::fd::AsRawFd::as_raw_fd(&r),
        std::os::fd::AsRawFd::as_raw_fd(&w),
    );
    // SAFETY: the child only reads and _exits (async-signal-safe).
    let pid = unsafe { crate::cgroups::clone_into(0, std::os::fd::AsFd::as_fd(&fd)) };
    let pid = match pid {
        Ok(0) => unsafe {
            libc::close(w_raw);
            let mut b = 0u8;
            libc::read(r_raw, (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        },
        Ok(pid) => pid,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            eprintln!("skipped: no clone3 here");
            return;
        }
        Err(e) => panic!("clone3: {e}"),
    };
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    drop(w);
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
    let path = fx.cg.path().display().to_string();
    assert!(own.lines().any(|l| l == format!("0::{path}")), "{own}");
    // Only cgroup2 is set by the clone; v1 hierarchies are the parent's.
    let v1_moved = own
        .lines()
        .any(|l| !l.starts_with("0:") && l.ends_with(&path));
    assert!(!v1_moved, "{own}");
    assert_eq!(
        status,
        WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
    );
}

/// A layout without v1 hierarchies over this host's cgroup2 mount: the
/// pure v2 paths (devices as a program, cgroup.freeze, cgroup.kill, ps
/// from cgroup.procs) end to end, with what that mount offers.
#[test]
fn a_pure_v2_layout_over_this_hosts_cgroup2() {
    let Some(fx) = fixture_v2() else { return };
    let mut layout = fx.cg.layout().clone();
    layout.v1.clear();
    let cg = crate::cgroups::Cgroup::with_layout(layout, Some(fx.cg.path()), "x").unwrap();
    assert_eq!(cg.kind(), crate::cgroups::Kind::V2);
    let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
        "memory":{"swappiness":10}}"#);
    let e = cg.create(Some(&r)).unwrap_err().to_string();
    assert!(
        e.starts_with("linux.resources.memory.swappiness: not supported"),
        "{e}"
    );
    assert!(
        !cg.unified_dir().unwrap().exists(),
        "a failed create leaves nothing"
    );
    let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#);
    cg.create(Some(&r)).unwrap();
    let child = fx.spawn(open_null_and_zero);
    cg.add(child.pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [child.pid]);
    assert_eq!(child.go()[..3], [0, 0, libc::EPERM]);
    cg.freeze().unwrap();
    assert!(cg.is_frozen());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen());
    if cg.kill_all().unwrap() {
        let pid = nix::unistd::Pid::from_raw(child.pid);
        assert_eq!(
            child.reap(),
            WaitStatus::Signaled(pid, Signal::SIGKILL, false)
        );
    } else {
        assert_eq!(child.finish(), 0);
    }
    cg.remove().unwrap();
    assert!(!cg.unified_dir().unwrap().exists());
}
