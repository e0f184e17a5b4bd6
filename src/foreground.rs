//! A process in the foreground: keel waits for it, forwards the signals it
//! receives, and relays its terminal to keel's own stdio. Used by `run` and
//! `exec` without `--detach`.

use crate::console;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Block every signal before the child exists, so none is lost and its exit
/// is seen through the signalfd; the child unblocks its own copy. As a
/// subreaper keel also collects what the container orphans.
pub fn prepare() -> nix::Result<()> {
    SigSet::all().thread_block()?;
    nix::sys::prctl::set_child_subreaper(true)
}

/// A connected pair: keel keeps one end to receive the pty master of a
/// terminal process, which the child sends over the other.
pub fn socketpair() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
}

/// Forward signals and relay the terminal until the init exits; returns its
/// exit code (128+N when killed by signal N).
pub fn wait_for_exit(pid: i32, master: Option<OwnedFd>) -> anyhow::Result<i32> {
    let sfd = SignalFd::with_flags(
        &SigSet::all(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match &master {
        Some(m) => {
            console::copy_winsize(stdin.as_fd(), m.as_fd())?;
            console::RawMode::enter(stdin.as_fd())?
        }
        None => None,
    };
    let mut stdin_open = master.is_some();
    loop {
        let (sig_ready, in_ready, master_ready) =
            poll(&sfd, stdin_open.then(|| stdin.as_fd()), master.as_ref())?;
        if sig_ready {
            if let Some(code) = handle_signals(&sfd, pid, master.as_ref())? {
                if let Some(m) = &master {
                    drain(m.as_fd(), stdout.as_fd());
                }
                return Ok(code);
            }
        }
        if let (true, Some(m)) = (in_ready, &master) {
            stdin_open = console::pump(stdin.as_fd(), m.as_fd()).unwrap_or(false);
        }
        if let (true, Some(m)) = (master_ready, &master) {
            let _ = console::pump(m.as_fd(), stdout.as_fd());
        }
    }
}

fn poll(
    sfd: &SignalFd,
    stdin: Option<BorrowedFd>,
    master: Option<&OwnedFd>,
) -> nix::Result<(bool, bool, bool)> {
    let fd = |f: Option<i32>| libc::pollfd {
        fd: f.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [
        fd(Some(sfd.as_raw_fd())),
        fd(stdin.map(|s| s.as_raw_fd())),
        fd(master.map(|m| m.as_raw_fd())),
    ];
    loop {
        // SAFETY: three pollfds; a negative fd is ignored by poll.
        match unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } {
            n if n >= 0 => {
                return Ok((
                    fds[0].revents != 0,
                    fds[1].revents != 0,
                    fds[2].revents != 0,
                ))
            }
            _ if nix::errno::Errno::last() == nix::errno::Errno::EINTR => continue,
            _ => return Err(nix::errno::Errno::last()),
        }
    }
}

/// Reap on SIGCHLD, resize the terminal on SIGWINCH, forward the rest.
fn handle_signals(
    sfd: &SignalFd,
    pid: i32,
    master: Option<&OwnedFd>,
) -> anyhow::Result<Option<i32>> {
    while let Some(info) = sfd.read_signal()? {
        let signo = info.ssi_signo as i32;
        match (signo, master) {
            (libc::SIGCHLD, _) => {
                // One sent with kill(2) is for the container like any other
                // signal; a child's exit may have merged into it, so reap
                // either way.
                if info.ssi_code <= 0 {
                    forward(pid, signo);
                }
                if let Some(code) = reap(pid)? {
                    return Ok(Some(code));
                }
            }
            // The resize makes the kernel signal the terminal's foreground
            // processes; without a terminal SIGWINCH is forwarded as it is.
            (libc::SIGWINCH, Some(m)) => {
                let _ = console::copy_winsize(std::io::stdin().as_fd(), m.as_fd());
            }
            _ => forward(pid, signo),
        }
    }
    Ok(None)
}

fn forward(pid: i32, signo: i32) {
    // SAFETY: kill(2) on our own child's pid, which we have not reaped.
    unsafe { libc::kill(pid, signo) };
}

/// Reap every exited child (we are a subreaper); report the init's status.
fn reap(init: i32) -> nix::Result<Option<i32>> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == init => result = Some(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == init => {
                result = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return Ok(result),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Copy what the container wrote before it exited.
fn drain(master: BorrowedFd, stdout: BorrowedFd) {
    let mut pfd = libc::pollfd {
        fd: master.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, no wait.
    while unsafe { libc::poll(&mut pfd, 1, 0) } > 0 && pfd.revents & libc::POLLIN != 0 {
        if !console::pump(master, stdout).unwrap_or(false) {
            break;
        }
    }
}
