//! Building the hook's process: argv, a clean environment, piped stdio, and
//! a child that starts from a neutral signal and fd state.

use oci_spec::runtime::Hook;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Signals 1..=64 cover every standard and real-time signal (x86, arm, riscv).
const LAST_SIGNAL: libc::c_int = 64;

/// A `Command` for `hook`; spawning it gives a child with piped stdio.
pub(super) fn command(hook: &Hook) -> Command {
    let mut cmd = Command::new(hook.path());
    // execv semantics: args[0] is argv[0]; with no args (runc/Go behaviour)
    // argv[0] is the path itself, which Command already does.
    if let Some((arg0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for entry in hook.env().as_deref().unwrap_or_default() {
        // An entry without '=' names nothing getenv(3) could find, so there is
        // nothing to pass; Command cannot express it anyway.
        if let Some((key, value)) = entry.split_once('=') {
            cmd.env(key, value);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure only makes async-signal-safe syscalls and touches
    // no memory shared with the parent.
    unsafe { cmd.pre_exec(reset_child) };
    cmd
}

/// Runs in the forked child before exec. Our caller may have signals blocked
/// or ignored (it forwards signals to the container), and may hold fds it
/// inherited without CLOEXEC (e.g. from containerd); the hook must see none
/// of that.
fn reset_child() -> std::io::Result<()> {
    // The raw syscall reaches the signals glibc reserves for itself (32, 33),
    // which an ancestor may also have left ignored. An all-zero kernel
    // sigaction is SIG_DFL with no flags and an empty mask on every layout.
    let dfl = [0u64; 4];
    for sig in 1..=LAST_SIGNAL {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction reads `dfl`; the old action is not wanted.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null::<u64>(),
                    8,
                )
            };
        }
    }
    // SAFETY: sigprocmask with an empty set only changes our own mask.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    crate::syscall::cloexec_from(3)
}
