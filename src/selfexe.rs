//! Keeping containers from overwriting keel's own binary (CVE-2019-5736
//! class).
//!
//! Every keel process that enters a container (the init until it execs,
//! an `exec`'d process until it execs) runs keel's binary, and a container
//! process allowed to ptrace it (root with CAP_SYS_PTRACE and no user
//! namespace passes the check, non-dumpable or not) can take a handle on
//! that binary through /proc/PID/exe and reopen it for writing once keel
//! has exited. So `create`, `run` and `exec` first re-exec keel from a
//! read-only bind mount of itself in a mount namespace of their own: the
//! binary any keel process exposes is then only reachable read-only. No
//! copy of the binary is made; the cost is one mount namespace, two mounts
//! and one execve.
//!
//! The private namespace is a slave of the host's, so the host's mounts
//! still appear in it; hooks that run in the runtime's namespace (prestart,
//! createRuntime, poststart, poststop) are put back into the host's mount
//! namespace before they exec.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

/// Set for the re-exec'd keel: the fd of the host's mount namespace.
const HOST_NS_ENV: &str = "_KEEL_HOST_MNTNS";

/// The host's mount namespace and the (dev, inode) of keel's private one.
static HOST_NS: OnceLock<(OwnedFd, (u64, u64))> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum SelfExeError {
    #[error("protect keel's binary: {what}: {source}")]
    Sys {
        what: &'static str,
        source: std::io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> SelfExeError {
    move |source| SelfExeError::Sys { what, source }
}

fn errno(what: &'static str) -> impl FnOnce(nix::Error) -> SelfExeError {
    move |e| SelfExeError::Sys {
        what,
        source: e.into(),
    }
}

/// Re-exec keel from a read-only bind of its binary, unless this process
/// already is that re-exec (then just note the host's mount namespace).
/// Only root can: an unprivileged caller's keel is not the caller's to
/// overwrite, and its containers have no privilege over host files.
pub fn protect() -> Result<(), SelfExeError> {
    if let Some(fd) = std::env::var(HOST_NS_ENV).ok().and_then(|v| v.parse().ok()) {
        std::env::remove_var(HOST_NS_ENV);
        return adopt_host_ns(fd);
    }
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let host = std::fs::File::open("/proc/self/ns/mnt").map_err(sys("open /proc/self/ns/mnt"))?;
    // Across our own exec only; adopt_host_ns makes it close-on-exec again.
    nix::fcntl::fcntl(&host, nix::fcntl::F_SETFD(nix::fcntl::FdFlag::empty()))
        .map_err(errno("keep the mount namespace fd"))?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(errno("unshare the mount namespace"))?;
    seal_binary()?;
    let host_fd = OwnedFd::from(host).into_raw_fd();
    std::env::set_var(HOST_NS_ENV, host_fd.to_string());
    let exe = std::fs::read_link("/proc/self/exe").map_err(sys("read /proc/self/exe"))?;
    let path = CString::new(exe.as_os_str().as_bytes()).expect("paths have no NUL");
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).expect("arguments have no NUL"))
        .collect();
    let err = nix::unistd::execv(&path, &args).unwrap_err();
    Err(errno("re-exec keel from its read-only binding")(err))
}

/// In the new namespace: follow the host's mounts, then bind the binary
/// onto itself and make that binding read-only.
fn seal_binary() -> Result<(), SelfExeError> {
    use nix::mount::{mount, MsFlags};
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
        .map_err(errno("make the private mount namespace a slave"))?;
    // The source is the path, not /proc/self/exe: that names a mount of
    // the namespace we left, which the kernel will not bind from.
    let exe = std::fs::read_link("/proc/self/exe").map_err(sys("read /proc/self/exe"))?;
    mount(Some(&exe), &exe, none, MsFlags::MS_BIND, none)
        .map_err(errno("bind keel's binary onto itself"))?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
    mount(none, &exe, none, ro, none).map_err(errno("make keel's binary read-only"))?;
    // The path might name another file by now (an upgrade): only our own
    // binary may be exec'd in our place.
    let same = ns_id("/proc/self/exe").ok() == exe.to_str().and_then(|p| ns_id(p).ok());
    if !same {
        let e = std::io::Error::other(format!("{} is no longer this binary", exe.display()));
        return Err(sys("check the binary to re-exec")(e));
    }
    Ok(())
}

fn adopt_host_ns(fd: RawFd) -> Result<(), SelfExeError> {
    // SAFETY: the fd was opened for us by the keel that exec'd us; we take
    // it over and move it out of the low numbers preserved fds may use.
    let inherited = unsafe { OwnedFd::from_raw_fd(fd) };
    let high = nix::fcntl::fcntl(&inherited, nix::fcntl::F_DUPFD_CLOEXEC(256))
        .map_err(errno("move the mount namespace fd"))?;
    drop(inherited);
    // SAFETY: fcntl just made this fd for us.
    let host = unsafe { OwnedFd::from_raw_fd(high) };
    let ours = ns_id("/proc/self/ns/mnt").map_err(sys("stat /proc/self/ns/mnt"))?;
    let _ = HOST_NS.set((host, ours));
    Ok(())
}

fn ns_id(path: &str) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// The host's mount namespace, for a hook about to run from keel's private
/// one (not from the container's, where createContainer hooks run).
pub fn host_mount_ns() -> Option<BorrowedFd<'static>> {
    let (fd, private) = HOST_NS.get()?;
    let here = ns_id("/proc/self/ns/mnt").ok()?;
    (here == *private).then(|| {
        use std::os::fd::AsFd;
        fd.as_fd()
    })
}
