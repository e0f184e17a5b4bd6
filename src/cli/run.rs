//! `keel run`: create, start, and (unless detached) wait for the container,
//! forwarding signals to it and relaying its terminal when it has one.

use crate::console;
use crate::lifecycle;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

pub fn run(cli: &super::Cli, args: &super::RunArgs) -> anyhow::Result<i32> {
    let relay = !args.detach && args.create.console_socket.is_none();
    // Our own console socket: the init sends the pty master here if the
    // process has a terminal, and we relay it to our stdio.
    let pair = if relay { Some(socketpair()?) } else { None };
    if !args.detach {
        // Blocked before the init exists, so no signal or exit is lost; the
        // init unblocks its own copy.
        SigSet::all().thread_block()?;
        nix::sys::prctl::set_child_subreaper(true)?;
    }
    let created = super::create::create(
        cli,
        &args.create,
        pair.as_ref().map(|(_, theirs)| theirs.as_raw_fd()),
    )?;
    let terminal = created.state.pid > 0 && has_terminal(&created.state.bundle);
    let master = match (&pair, terminal) {
        (Some((ours, _)), true) => Some(console::recv_master(ours)?),
        _ => None,
    };
    drop(pair);
    if let Err(e) = lifecycle::start(&created.container, &created.state) {
        let _ = lifecycle::destroy(created.container, &created.state, true);
        return Err(e.into());
    }
    if args.detach {
        return Ok(0);
    }
    let st = created.state.clone();
    drop(created.container); // release the lock while we wait
    let code = wait_for_exit(st.pid, master)?;
    if !args.keep {
        let c = crate::state::open(&cli.root, &st.id)?;
        lifecycle::destroy(c, &st, true)?;
    }
    Ok(code)
}

fn socketpair() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
}

/// Whether the config that was created asks for a terminal. The bundle was
/// just validated, so a read failure means no terminal to relay.
fn has_terminal(bundle: &std::path::Path) -> bool {
    crate::config::load(bundle)
        .ok()
        .and_then(|b| b.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false)
}

/// Forward signals and relay the terminal until the init exits; returns its
/// exit code (128+N when killed by signal N).
fn wait_for_exit(pid: i32, master: Option<OwnedFd>) -> anyhow::Result<i32> {
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

/// Reap on SIGCHLD, resize on SIGWINCH, forward everything else.
fn handle_signals(
    sfd: &SignalFd,
    pid: i32,
    master: Option<&OwnedFd>,
) -> anyhow::Result<Option<i32>> {
    while let Some(info) = sfd.read_signal()? {
        let signo = info.ssi_signo as i32;
        match Signal::try_from(signo) {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap(pid)? {
                    return Ok(Some(code));
                }
            }
            Ok(Signal::SIGWINCH) => {
                if let Some(m) = master {
                    let _ = console::copy_winsize(std::io::stdin().as_fd(), m.as_fd());
                }
            }
            _ => {
                // SAFETY: kill(2) on our own child's pid, which we have not reaped.
                unsafe { libc::kill(pid, signo) };
            }
        }
    }
    Ok(None)
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
