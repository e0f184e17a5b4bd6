//! Handing a compiled filter to the kernel.

use super::{Filter, SeccompError};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Load `filter` into the calling thread (all threads with
/// SECCOMP_FILTER_FLAG_TSYNC). The caller has set no_new_privs or holds
/// CAP_SYS_ADMIN. When the filter can return SCMP_ACT_NOTIFY it is loaded
/// with SECCOMP_FILTER_FLAG_NEW_LISTENER and the listener fd (close-on-exec)
/// is returned.
///
/// Allocates nothing on success, so it is safe between fork and exec.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>, SeccompError> {
    for &action in &filter.actions {
        check_available(action)?;
    }
    let flags = filter.load_flags();
    let prog = libc::sock_fprog {
        // compile() keeps programs within BPF_MAXINSNS (4096).
        len: filter.program.len() as u16,
        // seccompiler's sock_filter has the kernel's layout, as libc's does.
        filter: filter
            .program
            .as_ptr()
            .cast::<libc::sock_filter>()
            .cast_mut(),
    };
    // SAFETY: prog points at the filter's instructions, which outlive the
    // call; the kernel copies them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        let source = io::Error::last_os_error();
        let hint = match source.raw_os_error() {
            Some(libc::EACCES) => " (set no_new_privs or hold CAP_SYS_ADMIN first)",
            Some(libc::EINVAL) => " (a flag this kernel does not know?)",
            _ => "",
        };
        return Err(SeccompError::Load {
            flags,
            source,
            hint,
        });
    }
    if filter.notify {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }));
    }
    if rc > 0 {
        // TSYNC without TSYNC_ESRCH reports the thread that could not join.
        return Err(SeccompError::ThreadSync { tid: rc });
    }
    Ok(None)
}

/// Refuse an action the kernel would not carry out (an unknown return
/// value kills the process). Kernels without SECCOMP_GET_ACTION_AVAIL
/// (before 4.14), or a seccomp(2) blocked by an outer filter, are given the
/// benefit of the doubt: the load itself still checks what it can.
fn check_available(action: u32) -> Result<(), SeccompError> {
    // SAFETY: the kernel reads one u32 from the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    if rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EOPNOTSUPP) {
        return Err(SeccompError::ActionUnavailable {
            action: action_name(action),
        });
    }
    Ok(())
}

/// The OCI name of a seccomp return value's action.
pub fn action_name(ret: u32) -> &'static str {
    match ret & libc::SECCOMP_RET_ACTION_FULL {
        libc::SECCOMP_RET_KILL_PROCESS => "SCMP_ACT_KILL_PROCESS",
        libc::SECCOMP_RET_KILL_THREAD => "SCMP_ACT_KILL_THREAD",
        libc::SECCOMP_RET_TRAP => "SCMP_ACT_TRAP",
        libc::SECCOMP_RET_ERRNO => "SCMP_ACT_ERRNO",
        libc::SECCOMP_RET_USER_NOTIF => "SCMP_ACT_NOTIFY",
        libc::SECCOMP_RET_TRACE => "SCMP_ACT_TRACE",
        libc::SECCOMP_RET_LOG => "SCMP_ACT_LOG",
        libc::SECCOMP_RET_ALLOW => "SCMP_ACT_ALLOW",
        _ => "an unknown action",
    }
}
