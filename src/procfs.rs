//! A procfs keel can trust for its own writes into the container's /proc
//! (sysctls, oom_score_adj, timens_offsets) and the parent's into the
//! init's (uid_map, gid_map, setgroups): CVE-2025-52881 class.
//!
//! After pivot_root, "/proc" is whatever the container's rootfs holds at
//! that name. Something that shares the rootfs (another container writing
//! to the same volume, a hook) can rename the real procfs mount point away
//! and plant a directory of symlinks in its place, so that a write meant for
//! /proc/sys/net/... lands on any file it names, e.g. a host-global procfs
//! file such as kernel/core_pattern that the container must never set.
//!
//! So keel never writes through the path "/proc": it makes a private procfs
//! instance (fsopen/fsmount, never attached anywhere, so nothing can be
//! mounted over or renamed inside it) and opens files from its root with
//! openat2 refusing symlinks, magic links and mount crossings, then checks
//! the opened file is on procfs. Where a fresh procfs is not allowed (a user
//! namespace without a fully visible /proc), the container's /proc is used
//! only after proving it is the root of a procfs.

use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// <linux/mount.h>; not every libc version exports them.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
/// The inode number procfs gives its root directory.
const PROC_ROOT_INO: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("open a procfs to write to: {0}")]
    Root(io::Error),
    #[error("\"/proc\" is not the root of a procfs; refusing to write through it")]
    NotProcRoot,
    #[error("/proc/{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("/proc/{path} is not on procfs; refusing to write to it")]
    NotProc { path: String },
}

impl ProcError {
    /// The errno behind an I/O failure, for callers that tell causes apart.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            ProcError::Root(e) | ProcError::Io { source: e, .. } => e.raw_os_error(),
            _ => None,
        }
    }
}

/// A directory fd on the root of a procfs instance keel verified.
pub struct ProcRoot {
    fd: OwnedFd,
}

/// A tree posing as procfs, for the tests of every writer that takes a
/// `ProcRoot`: each must refuse to write into it.
#[cfg(test)]
pub(crate) mod planted;
pub mod read;
pub mod stat;

/// The hexadecimal mask of a /proc/PID/status line such as "SigIgn:" or
/// "CapBnd:".
pub fn status_mask(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix(field))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

fn check(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) })
}

fn fstatfs_type(fd: BorrowedFd<'_>) -> io::Result<libc::c_long> {
    // SAFETY: statfs is plain data filled in by the kernel.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and buffer.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_type as libc::c_long)
}

fn is_proc(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(fstatfs_type(fd)? == libc::PROC_SUPER_MAGIC as libc::c_long)
}

/// A new procfs superblock for our pid namespace, as a detached mount.
fn fresh() -> io::Result<OwnedFd> {
    // SAFETY: static C string; flags as documented for fsopen(2).
    let ctx = check(unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) })?;
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            null,
            null,
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a configured fs context; no mount attributes.
    check(unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, 0) })
}

/// The container's own /proc, accepted only if it is the root of a procfs
/// (not a planted directory, and not some procfs subdirectory bound there).
fn mounted() -> Result<OwnedFd, ProcError> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: static C string.
    let fd =
        check(unsafe { libc::open(c"/proc".as_ptr(), flags) }.into()).map_err(ProcError::Root)?;
    // SAFETY: stat is plain data filled in by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and buffer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(ProcError::Root(io::Error::last_os_error()));
    }
    if !is_proc(fd.as_fd()).map_err(ProcError::Root)? || st.st_ino != PROC_ROOT_INO {
        return Err(ProcError::NotProcRoot);
    }
    Ok(fd)
}

/// That "/proc" is still the root of a procfs (not renamed away and
/// replaced since keel mounted it).
pub fn check_mounted() -> Result<(), ProcError> {
    mounted().map(drop)
}

impl ProcRoot {
    /// A private procfs; the container's /proc (verified) if the kernel
    /// does not let us make one.
    pub fn open() -> Result<ProcRoot, ProcError> {
        let fd = match fresh() {
            Ok(fd) => fd,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => mounted()?,
            Err(e) => return Err(ProcError::Root(e)),
        };
        Ok(ProcRoot { fd })
    }

    /// `rel` (below the procfs root) opened with `flags`: no symlink, magic
    /// link or mount point may take part, and the file must be procfs's.
    pub fn open_file(&self, rel: &str, flags: libc::c_int) -> Result<OwnedFd, ProcError> {
        let io_err = |source| ProcError::Io {
            path: rel.to_string(),
            source,
        };
        let resolve = libc::RESOLVE_BENEATH
            | libc::RESOLVE_NO_SYMLINKS
            | libc::RESOLVE_NO_MAGICLINKS
            | libc::RESOLVE_NO_XDEV;
        let fd = crate::syscall::openat2(
            self.fd.as_fd(),
            Path::new(rel),
            flags | libc::O_NOFOLLOW,
            0,
            resolve,
        )
        .map_err(io_err)?;
        if !is_proc(fd.as_fd()).map_err(io_err)? {
            return Err(ProcError::NotProc {
                path: rel.to_string(),
            });
        }
        Ok(fd)
    }

    /// Write `value` to `rel` in one write(2), as sysctl files expect.
    pub fn write(&self, rel: &str, value: &str) -> Result<(), ProcError> {
        let fd = self.open_file(rel, libc::O_WRONLY)?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|source| ProcError::Io {
                path: rel.to_string(),
                source,
            })
    }

    /// Our own directory, `<pid>`, in this procfs's pid namespace: what
    /// its `self` link says (read, never followed).
    pub fn self_dir(&self) -> Result<PathBuf, ProcError> {
        self.read_link(c"self")
    }

    /// The calling thread's directory, `<pid>/task/<tid>`: what the
    /// `thread-self` link says (read, never followed). Some files (the LSM
    /// attributes) belong to a thread, not to the process.
    pub fn thread_self_dir(&self) -> Result<PathBuf, ProcError> {
        self.read_link(c"thread-self")
    }

    fn read_link(&self, name: &std::ffi::CStr) -> Result<PathBuf, ProcError> {
        let mut buf = [0u8; 64];
        // SAFETY: valid descriptor, C string and buffer.
        let n = unsafe {
            libc::readlinkat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(ProcError::Io {
                path: name.to_string_lossy().into_owned(),
                source: io::Error::last_os_error(),
            });
        }
        let text = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        Ok(Path::new(&text).to_path_buf())
    }

    /// Write `value` to our own `/proc/self/<name>`.
    pub fn write_self(&self, name: &str, value: &str) -> Result<(), ProcError> {
        let dir = self.self_dir()?;
        self.write(&format!("{}/{name}", dir.display()), value)
    }

    /// Our own `<pid>/fd` directory in this procfs, reached without
    /// following any link, for `FdDir::reopen`.
    pub fn fd_dir(&self) -> Result<FdDir, ProcError> {
        let path = format!("{}/fd", self.self_dir()?.display());
        let dir = self.open_file(&path, libc::O_PATH | libc::O_DIRECTORY)?;
        Ok(FdDir { dir, path })
    }
}

/// Our own fd directory in a verified procfs, opened ahead of time: the
/// init opens it before its seccomp filter is loaded, and reopening the
/// exec fifo through it later takes only openat, which profiles older than
/// openat2 (runtime-tools' default, which refuses it) allow.
pub struct FdDir {
    dir: OwnedFd,
    path: String,
}

impl FdDir {
    /// A new open file description of our own `fd` (e.g. an O_PATH handle
    /// on the exec fifo, opened for writing): only the fd's own magic link,
    /// which procfs resolves, is followed.
    pub fn reopen(&self, fd: BorrowedFd<'_>, flags: libc::c_int) -> Result<OwnedFd, ProcError> {
        let path = format!("{}/{}", self.path, fd.as_raw_fd());
        let name = CString::new(fd.as_raw_fd().to_string()).expect("digits");
        loop {
            // SAFETY: valid descriptor and C string; we own the result.
            let ret = unsafe {
                libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC)
            };
            match check(ret.into()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|source| ProcError::Io { path, source }),
            }
        }
    }
}
