//! Thin wrappers over raw syscalls that nix does not cover.
//!
//! Each returns `std::io::Error` from errno so callers add their own context.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A path (or any OS string) for a syscall; one with a NUL byte cannot
/// be passed, so it is refused as invalid input.
pub fn cstring(s: &std::ffi::OsStr) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// fork(2) with namespace flags: `clone(flags | SIGCHLD)` without a new stack,
/// so the child continues on a copy-on-write copy of the caller's stack like a
/// fork. Returns 0 in the child and the child's pid in the parent.
///
/// # Safety
/// The caller must be single-threaded, as after fork.
pub unsafe fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    let ret = libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize);
    check(ret).map(|pid| pid as libc::pid_t)
}

/// The kernel's struct clone_args, up to the cgroup field
/// (CLONE_ARGS_SIZE_VER2); fields left at zero are unused.
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// clone3(2) without a new stack: like `clone_fork`, the child continues
/// on a copy of the caller's stack. Returns 0 in the child and the
/// child's pid in the parent.
///
/// # Safety
/// As for fork in a process that may hold locks: the caller must be
/// single-threaded, or the child must only exec or _exit.
pub unsafe fn clone3(args: &CloneArgs) -> io::Result<libc::pid_t> {
    let size = std::mem::size_of::<CloneArgs>();
    let ret = libc::syscall(libc::SYS_clone3, args as *const CloneArgs, size);
    check(ret).map(|pid| pid as libc::pid_t)
}

/// A pidfd for `pid`, readable once the process has exited.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the kernel hands us a new fd to own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Signal the process behind a pidfd, immune to pid reuse.
pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall with a valid fd and a null siginfo.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            0usize,
            0u32,
        )
    };
    check(ret).map(|_| ())
}

/// A copy of fd `target` of the process behind `pidfd` (needs ptrace
/// access to it, which the parent of a container init has).
pub fn pidfd_getfd(pidfd: &OwnedFd, target: RawFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall; on success the kernel hands us a new fd to own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0u32) };
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Mark every fd from `first` up as close-on-exec, so only stdio and the
/// preserved fds reach the container process (and only what a hook is
/// given reaches the hook).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain syscall; it only changes fd flags.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    match check(ret) {
        // A seccomp profile loaded already may refuse close_range (older
        // profiles, such as runtime-tools' default, predate it), and
        // kernels before 5.11 lack it or its flag: do it fd by fd with
        // calls every profile allows. Not through /proc/self/fd, which by
        // then may be the container's.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ENOSYS | libc::EINVAL)
            ) =>
        {
            cloexec_by_fcntl(first)
        }
        other => other.map(|_| ()),
    }
}

/// The fallback of `cloexec_from`: every fd below the soft RLIMIT_NOFILE.
/// Async-signal-safe (getrlimit and fcntl only), for a forked hook child.
pub fn cloexec_by_fcntl(first: u32) -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `limit`; fcntl on a closed fd is EBADF.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        let end = limit.rlim_cur.min(1 << 20) as libc::c_int;
        // FD_CLOEXEC is the only fd flag: one call a slot.
        for fd in first as libc::c_int..end {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// Wait until the process behind `pidfd` exits, or `timeout_ms` passes
/// (negative: forever). Returns whether it exited.
pub fn pidfd_wait(pidfd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let ret = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if ret >= 0 {
            return Ok(ret > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// setxattr(2): set extended attribute `name` of `path` (links followed,
/// so a /proc/self/fd path reaches the file its fd holds).
pub fn setxattr(path: &std::path::Path, name: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
    let c = cstring(path.as_os_str())?;
    // SAFETY: valid C strings and buffer for the duration of the call.
    let ret = unsafe {
        libc::setxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    check(ret.into()).map(|_| ())
}

/// openat2(2) relative to `dir`, always close-on-exec; `resolve` holds the
/// RESOLVE_* flags that keep the lookup where it belongs.
pub fn openat2(
    dir: std::os::fd::BorrowedFd<'_>,
    path: &std::path::Path,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let c = cstring(path.as_os_str())?;
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    // SAFETY: valid pointers for the duration of the call; size matches.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    // SAFETY: on success the kernel hands us a new fd to own.
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) on the mount `fd` refers to (`at_flags`: AT_RECURSIVE
/// for the mounts below it too).
pub fn mount_setattr(
    fd: std::os::fd::BorrowedFd<'_>,
    at_flags: libc::c_uint,
    set: u64,
    clear: u64,
) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    setattr(fd, at_flags, &attr)
}

/// mount_setattr(2) with MOUNT_ATTR_IDMAP: give the detached mount `fd`
/// refers to the id mapping of the user namespace `userns`.
pub fn mount_setattr_idmap(
    fd: std::os::fd::BorrowedFd<'_>,
    at_flags: libc::c_uint,
    userns: std::os::fd::BorrowedFd<'_>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    setattr(fd, at_flags, &attr)
}

fn setattr(
    fd: std::os::fd::BorrowedFd<'_>,
    at_flags: libc::c_uint,
    attr: &libc::mount_attr,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: empty path with AT_EMPTY_PATH; attr lives across the call and
    // its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | at_flags,
            attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    check(ret).map(|_| ())
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at
/// `path` (relative to the current directory), with the mounts below it
/// when `recursive`. Close-on-exec.
pub fn open_tree_clone(path: &std::path::Path, recursive: bool) -> io::Result<OwnedFd> {
    let c = cstring(path.as_os_str())?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: plain syscall on a NUL-terminated path.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    // SAFETY: on success the kernel hands us a new fd to own.
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// move_mount(2) of the detached tree `from` onto the file or directory
/// `to` (an O_PATH fd is enough) refers to.
pub fn move_mount(
    from: std::os::fd::BorrowedFd<'_>,
    to: std::os::fd::BorrowedFd<'_>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: two valid fds with empty paths, as the flags say.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    check(ret).map(|_| ())
}

/// The id of the mount `fd` is on: `(id, true)` is the never-reused
/// 64-bit id (STATX_MNT_ID_UNIQUE, Linux 6.8), `(id, false)` the one
/// mountinfo shows, which the kernel hands out again once it is free.
pub fn mount_id(fd: std::os::fd::BorrowedFd<'_>, unique: bool) -> io::Result<(u64, bool)> {
    use std::os::fd::AsRawFd;
    let mask = if unique {
        libc::STATX_MNT_ID_UNIQUE
    } else {
        libc::STATX_MNT_ID
    };
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: empty path with AT_EMPTY_PATH on a valid fd; stx outlives it.
    let ret = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            mask,
            &mut stx,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if stx.stx_mask & libc::STATX_MNT_ID_UNIQUE != 0 && unique {
        return Ok((stx.stx_mnt_id, true));
    }
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    Ok((stx.stx_mnt_id, false))
}

/// Set signal `sig` to SIG_DFL with rt_sigaction(2) itself: glibc's
/// sigaction refuses the real-time signals it keeps for itself.
pub fn default_signal(sig: libc::c_int) -> io::Result<()> {
    // The kernel's struct sigaction: handler (0 is SIG_DFL), flags,
    // restorer and mask, all zero.
    let action = [0u64; 4];
    // SAFETY: a valid, fully initialised kernel sigaction, and no old one
    // asked for; the mask size is the kernel's (64 signals).
    let ret =
        unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, action.as_ptr(), 0usize, 8usize) };
    check(ret).map(drop)
}

/// capset(2) of the calling thread's effective, permitted and inheritable
/// sets at once (_LINUX_CAPABILITY_VERSION_3: two 32-bit words per set).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let word = |i: u32| Data {
        effective: (effective >> (32 * i)) as u32,
        permitted: (permitted >> (32 * i)) as u32,
        inheritable: (inheritable >> (32 * i)) as u32,
    };
    let data = [word(0), word(1)];
    // SAFETY: both pointers are to live, correctly laid out kernel structs.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    check(ret).map(drop)
}
