//! clone3(CLONE_INTO_CGROUP): a child that starts life in the container's
//! cgroup2 directory, so no instruction of it runs elsewhere and no
//! cgroup.procs write (or its wait) is needed for that hierarchy. Linux
//! 5.7+; callers fall back to clone and a cgroup.procs write on any error.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::syscall::{clone3, CloneArgs};

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork like `clone(flags | SIGCHLD)` (the child continues on a copy of
/// the stack and gets 0), started in the cgroup2 directory `cgroup`.
///
/// # Safety
/// As for fork in a process that may hold locks: the caller must be
/// single-threaded, or the child must only exec or _exit.
pub unsafe fn clone_into(flags: libc::c_int, cgroup: BorrowedFd) -> io::Result<libc::pid_t> {
    clone3(&CloneArgs {
        flags: u64::from(flags as u32) | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    })
}
