//! Helpers of the fault tests: stopping the runtime at a step, watching a
//! directory without polling, a tmpfs the test owns, and the final check
//! that a container is gone without a trace.

use crate::common::sys::{self, wait_pid_gone};
use crate::common::{Sandbox, Spawned, TIMEOUT};
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// SIGKILL a runtime call and check it died of it (and not of its own
/// accord, which would mean the test did not stop it where it meant to).
pub fn kill_runtime(call: Spawned) {
    // SAFETY: kill(2) of our own unreaped child.
    assert_eq!(unsafe { libc::kill(call.pid(), libc::SIGKILL) }, 0);
    let (out, _) = call.finish();
    assert_eq!(out.status.code(), None, "the runtime was not killed: {out}");
}

/// Open `path` with `flags` on a thread (a fifo open blocks until the other
/// side opens); the fd arrives when the open returns.
pub fn open_in_thread(path: &Path, flags: i32) -> mpsc::Receiver<OwnedFd> {
    let (tx, rx) = mpsc::channel();
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    std::thread::spawn(move || {
        // SAFETY: open with a valid C string; the fd is owned at once.
        let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            let _ = tx.send(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    });
    rx
}

/// Wait until `cond` holds, re-checking whenever an entry of `dir` is
/// created or renamed into it. The watch is set before the first check, so
/// no change is missed.
pub fn wait_in_dir(dir: &Path, cond: impl Fn() -> bool, what: &str) {
    // SAFETY: inotify_init1 returns a new fd or -1.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    assert!(
        fd >= 0,
        "inotify_init1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the fd is fresh and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE;
    // SAFETY: valid inotify fd and C string.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    assert!(
        wd >= 0,
        "watch {dir:?}: {}",
        std::io::Error::last_os_error()
    );
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(
            sys::poll_readable(fd.as_raw_fd(), deadline),
            "timed out waiting for {what} (watching {dir:?})"
        );
        let mut buf = [0u8; 4096];
        // SAFETY: read into a buffer we own; EAGAIN just means drained.
        unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

/// Cgroup directories of container `id` in any hierarchy (a pure cgroup2
/// host's one included).
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    crate::common::sandbox::cgroup_dirs(&format!("keel-test/{id}"))
}

/// Nothing of container `id` is left: no state dir, no init (by pid), no
/// cgroup directory, no process or mount of the sandbox.
pub fn assert_container_gone(sb: &Sandbox, id: &str, init: Option<i32>) {
    let dir = sb.state_dir(id);
    assert!(!dir.exists(), "state dir {dir:?} left behind");
    if let Some(pid) = init {
        wait_pid_gone(pid, "the container's init");
    }
    let cgroups = cgroup_dirs(id);
    assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
    sb.assert_no_process_or_mount();
}

/// A tmpfs mounted by the test, detached when dropped (declare it after
/// the sandbox, so it goes first and the sandbox finds no mount of ours).
pub struct TmpfsGuard {
    path: PathBuf,
}

impl TmpfsGuard {
    pub fn mount(path: &Path, options: &str) -> TmpfsGuard {
        fs::create_dir_all(path).unwrap();
        mount(path, Some("tmpfs"), 0, options);
        TmpfsGuard {
            path: path.to_path_buf(),
        }
    }

    pub fn remount_read_only(&self) {
        mount(&self.path, None, libc::MS_REMOUNT | libc::MS_RDONLY, "");
    }

    /// Write until the filesystem says it is full.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = fs::File::create(self.path.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill {:?}: {e}", self.path),
            }
        }
    }
}

impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let c = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: umount2 with a valid C string; MNT_DETACH never blocks.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

fn mount(path: &Path, fstype: Option<&str>, flags: libc::c_ulong, data: &str) {
    let target = CString::new(path.as_os_str().as_bytes()).unwrap();
    let source = CString::new("keel-fault-tmpfs").unwrap();
    let fstype = fstype.map(|t| CString::new(t).unwrap());
    let data = CString::new(data).unwrap();
    // SAFETY: mount(2) with valid C strings (or null for no fs type).
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
            flags,
            data.as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount {path:?}: {}", std::io::Error::last_os_error());
}
