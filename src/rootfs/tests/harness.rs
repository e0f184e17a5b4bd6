//! Support for the root-only tests: temp dirs that clean up after
//! themselves, a busybox rootfs, and running a scenario in a forked child
//! with its own mount namespace (which vanishes when the child exits).

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::super::{mountinfo, sys};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A directory under /tmp removed on drop, unless something is still
/// mounted below it (then it is left alone rather than recursing into a
/// mount).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!(
            "/tmp/keel-rootfs-test-{}-{tag}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        let path = path.canonicalize().expect("canonicalize temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let busy = mountinfo::read_self()
            .map(|ms| ms.iter().any(|m| m.mount_point.starts_with(&self.path)));
        if busy.unwrap_or(true) {
            eprintln!(
                "not removing {:?}: mounts below it (or mountinfo unreadable)",
                self.path
            );
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("removing {:?}: {e}", self.path);
        }
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `dir`/rootfs with bin/busybox, bin/sh -> busybox and empty proc, sys,
/// dev, tmp and etc; returned canonicalized.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir in rootfs");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    symlink("busybox", root.join("bin/sh")).expect("symlink sh");
    root.canonicalize().expect("canonicalize rootfs")
}

/// Run `f` in a forked child that first unshares a mount namespace (plus
/// `extra`) and makes it rslave, so nothing it mounts reaches the host.
/// The child's error (or panic) message comes back as `Err`.
pub fn in_child(extra: CloneFlags, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child only runs `f` and then _exit()s; it never returns
    // into the test harness.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(rd);
            let run = || -> Result<(), String> {
                unshare(CloneFlags::CLONE_NEWNS | extra).map_err(|e| format!("unshare: {e}"))?;
                let flags = libc::MS_SLAVE | libc::MS_REC;
                sys::mount(None, Path::new("/"), None, flags, None)
                    .map_err(|e| format!("make / rslave: {e}"))?;
                f()
            };
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Err("child panicked".to_string()));
            let code = match res {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = std::fs::File::from(wr).write_all(msg.as_bytes());
                    1
                }
            };
            // SAFETY: leave without running the harness's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(wr);
            let mut msg = String::new();
            let _ = std::fs::File::from(rd).read_to_string(&mut msg);
            match waitpid(child, None).map_err(|e| format!("waitpid: {e}"))? {
                WaitStatus::Exited(_, 0) => Ok(()),
                WaitStatus::Exited(_, code) => Err(format!("child exited {code}: {msg}")),
                other => Err(format!("child ended with {other:?}: {msg}")),
            }
        }
    }
}

/// Turn a failed condition into the child's error message.
pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The topmost mount at `path` in the current mount namespace.
pub fn mount_at(path: &str) -> Result<mountinfo::MountInfo, String> {
    let mounts = mountinfo::read_self().map_err(|e| format!("read mountinfo: {e}"))?;
    mounts
        .into_iter()
        .rev()
        .find(|m| m.mount_point == Path::new(path))
        .ok_or_else(|| format!("nothing mounted at {path}"))
}

pub fn is_ro(m: &mountinfo::MountInfo) -> bool {
    m.mount_opts.split(',').any(|o| o == "ro")
}

/// Mode, uid, gid, rdev of `path` without following a final symlink.
pub fn lstat(path: &str) -> Result<libc::stat, String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(path).map_err(|e| format!("lstat {path}: {e}"))?;
    // SAFETY: plain data, filled field by field below.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_mode = md.mode();
    st.st_uid = md.uid();
    st.st_gid = md.gid();
    st.st_rdev = md.rdev();
    Ok(st)
}
