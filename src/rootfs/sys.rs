//! Thin wrappers over the raw syscalls the rootfs code needs. They return
//! `io::Error` so that callers can attach the config context themselves.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libc::c_ulong;

/// `ST_NOSYMFOLLOW` from <linux/statfs.h>; libc does not export it.
const ST_NOSYMFOLLOW: c_ulong = 0x2000;

pub const ATIME_ENUM_FLAGS: c_ulong = libc::MS_NOATIME | libc::MS_RELATIME | libc::MS_STRICTATIME;
pub const ATIME_FLAGS: c_ulong = ATIME_ENUM_FLAGS | libc::MS_NODIRATIME;
/// Flags the kernel locks on mounts inherited from a more privileged mount
/// namespace (MNT_LOCK_*); a bind remount must keep them or it gets EPERM.
pub const LOCK_FLAGS: c_ulong =
    libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOSUID | ATIME_FLAGS;

pub use crate::syscall::cstring;

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The magic-link path that names `fd` in procfs; mount(2) follows it to the
/// exact inode the fd refers to.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub use crate::syscall::openat2;

/// O_PATH handle on the entry `name` of `dir` itself; a symlink there (or
/// anything escaping `dir`) is refused.
pub fn open_entry(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    let path = Path::new(OsStr::from_bytes(name.to_bytes()));
    openat2(
        dir,
        path,
        libc::O_PATH,
        0,
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
    )
}

/// Plain open(2) of an absolute or cwd-relative path.
pub fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(|s| cstring(s.as_os_str())).transpose()?;
    let target = cstring(target.as_os_str())?;
    let fstype = fstype.map(|s| cstring(OsStr::new(s))).transpose()?;
    let data = data
        .filter(|d| !d.is_empty())
        .map(|s| cstring(OsStr::new(s)))
        .transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: all pointers are NUL-terminated strings or null.
    check(unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    })
}

pub fn umount_detach(target: &Path) -> io::Result<()> {
    let c = cstring(target.as_os_str())?;
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) })
}

/// `struct mount_attr` from <linux/mount.h>.
/// mount_setattr(2) on the mount `fd` refers to and every mount below it.
pub fn mount_setattr_recursive(fd: BorrowedFd<'_>, set: u64, clear: u64) -> io::Result<()> {
    crate::syscall::mount_setattr(fd, libc::AT_RECURSIVE as libc::c_uint, set, clear)
}

pub fn pivot_root_dot() -> io::Result<()> {
    // SAFETY: both arguments are static C strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a valid descriptor.
    check(unsafe { libc::fchdir(fd.as_raw_fd()) })
}

pub fn chdir(path: &Path) -> io::Result<()> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: valid C string.
    check(unsafe { libc::chdir(c.as_ptr()) })
}

pub fn chroot_dot() -> io::Result<()> {
    // SAFETY: static C string.
    check(unsafe { libc::chroot(c".".as_ptr()) })
}

pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid descriptor and C string.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) })
}

pub fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    // SAFETY: valid descriptor and C string.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
}

pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: valid descriptor and C strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

pub fn unlinkat(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: valid descriptor and C string.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
}

/// Create `name` in `dir` as a new empty regular file (never following or
/// reusing an existing entry).
pub fn create_file_at(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_RDONLY | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor, closed right away.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data filled in by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and buffer.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

pub fn statfs(path: &Path) -> io::Result<libc::statfs> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: statfs is plain data filled in by the kernel.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and buffer.
    check(unsafe { libc::statfs(c.as_ptr(), &mut st) })?;
    Ok(st)
}

fn statvfs_raw(path: &Path) -> io::Result<libc::statvfs> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: statvfs is plain data filled in by the kernel.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and buffer.
    check(unsafe { libc::statvfs(c.as_ptr(), &mut st) })?;
    Ok(st)
}

/// The MS_* flags of the mount `path` is on, as statvfs(3) reports them.
pub fn mount_flags(path: &Path) -> io::Result<c_ulong> {
    Ok(statfs_to_mount_flags(statvfs_raw(path)?.f_flag))
}

/// The MS_* flags of the mount `fd` is on.
pub fn mount_flags_fd(fd: BorrowedFd<'_>) -> io::Result<c_ulong> {
    // SAFETY: statvfs is plain data filled in by the kernel.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and buffer.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    Ok(statfs_to_mount_flags(st.f_flag))
}

/// chmod through the fd's procfs magic link, which works for O_PATH fds.
pub fn fchmod_path(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    let c = cstring(fd_path(fd).as_os_str())?;
    // SAFETY: valid C string.
    check(unsafe { libc::chmod(c.as_ptr(), mode) })
}

pub fn fchown_empty(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: empty path with AT_EMPTY_PATH operates on the fd itself.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
}

pub fn dup2(from: BorrowedFd<'_>, to: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall; `to` is a standard descriptor number.
    check(unsafe { libc::dup2(from.as_raw_fd(), to) })
}

/// Where the fd points, as the kernel reports it relative to our root.
pub fn readlink_fd(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    std::fs::read_link(fd_path(fd))
}

pub fn is_dev_null(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
}

pub fn is_proc_super(st: &libc::statfs) -> bool {
    st.f_type == libc::PROC_SUPER_MAGIC
}

/// Translate statfs(2) `f_flags` into the MS_* flags that reproduce them.
pub fn statfs_to_mount_flags(st_flags: c_ulong) -> c_ulong {
    const MAP: [(c_ulong, c_ulong); 10] = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_MANDLOCK, libc::MS_MANDLOCK),
        (libc::ST_SYNCHRONOUS, libc::MS_SYNCHRONOUS),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
        (ST_NOSYMFOLLOW, libc::MS_NOSYMFOLLOW),
    ];
    let mut flags = MAP
        .iter()
        .filter(|(st, _)| st_flags & st == *st)
        .fold(0, |acc, (_, ms)| acc | ms);
    // strictatime is not stored on the mount, so statfs cannot report it: a
    // mount with none of the other atime modes is a strictatime mount.
    if flags & ATIME_ENUM_FLAGS == 0 {
        flags |= libc::MS_STRICTATIME;
    }
    flags
}

pub fn is_errno(err: &io::Error, errno: libc::c_int) -> bool {
    err.raw_os_error() == Some(errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statfs_flags_translate() {
        let f = statfs_to_mount_flags(libc::ST_RDONLY | libc::ST_NOSUID | libc::ST_RELATIME);
        assert_eq!(f, libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_RELATIME);
        assert_eq!(statfs_to_mount_flags(0), libc::MS_STRICTATIME);
        assert_eq!(
            statfs_to_mount_flags(ST_NOSYMFOLLOW) & libc::MS_NOSYMFOLLOW,
            libc::MS_NOSYMFOLLOW
        );
    }
}
