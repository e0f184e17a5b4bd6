//! Watching a running hook: feed its stdin, keep the tails of its stdout and
//! stderr, and enforce its deadline, all from one poll() loop over a pidfd and
//! the pipes, so that neither a silent, chatty nor stuck hook can block us.

use super::sigpipe::SigpipeGuard;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::Child;
use std::time::{Duration, Instant};

/// How much of each output stream is kept for the error message.
const TAIL: usize = 4096;
const CHUNK: usize = 16 * 1024;
/// Reads per stream once the hook has exited: a background grandchild that
/// inherited the pipe may keep it open (and busy) for ever.
const FINAL_READS: usize = 16;

pub(super) enum End {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

pub(super) struct Done {
    pub end: End,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A syscall failure while watching the hook (which has then been killed).
pub(super) struct Failure {
    pub what: &'static str,
    pub error: io::Error,
}

fn failure(what: &'static str) -> impl Fn(Errno) -> Failure {
    move |e| Failure {
        what,
        error: io::Error::from(e),
    }
}

fn io_failure(what: &'static str) -> impl Fn(io::Error) -> Failure {
    move |error| Failure { what, error }
}

/// The read end of an output pipe and the last `TAIL` bytes read from it.
struct Tail {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
}

impl Tail {
    fn new(fd: Option<OwnedFd>) -> Result<Tail, Failure> {
        if let Some(fd) = &fd {
            set_nonblocking(fd.as_fd())?;
        }
        Ok(Tail {
            fd,
            buf: Vec::new(),
        })
    }

    /// One read; returns whether more may follow right away.
    fn read_once(&mut self) -> Result<bool, Failure> {
        let Some(fd) = &self.fd else { return Ok(false) };
        let mut chunk = [0u8; CHUNK];
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => {
                self.fd = None;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                let excess = self.buf.len().saturating_sub(TAIL);
                self.buf.drain(..excess);
                Ok(true)
            }
            Err(Errno::EAGAIN) => Ok(false),
            Err(Errno::EINTR) => Ok(true),
            Err(e) => Err(failure("read hook output")(e)),
        }
    }

    fn drain(&mut self) -> Result<(), Failure> {
        for _ in 0..FINAL_READS {
            if !self.read_once()? {
                break;
            }
        }
        Ok(())
    }
}

/// The write end of the hook's stdin and the part of the state not yet sent.
struct Feeder<'a> {
    fd: Option<OwnedFd>,
    rest: &'a [u8],
}

impl Feeder<'_> {
    fn write_once(&mut self, sigpipe: &mut SigpipeGuard) -> Result<(), Failure> {
        let Some(fd) = &self.fd else { return Ok(()) };
        match nix::unistd::write(fd, self.rest) {
            Ok(n) => self.rest = &self.rest[n..],
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            // The hook closed stdin without reading it all: that is its call.
            Err(Errno::EPIPE) => {
                sigpipe.raised();
                self.rest = &[];
            }
            Err(e) => return Err(failure("write state to hook stdin")(e)),
        }
        if self.rest.is_empty() {
            // Closing signals EOF to a hook that reads to the end.
            self.fd = None;
        }
        Ok(())
    }
}

/// The hook's three pipes, seen from our side.
struct Pipes<'a> {
    stdout: Tail,
    stderr: Tail,
    stdin: Feeder<'a>,
}

/// Watch `child` until it exits or `timeout` passes (then it is killed);
/// either way it has been reaped when this returns.
pub(super) fn supervise(
    child: &mut Child,
    state: &[u8],
    timeout: Option<Duration>,
) -> Result<Done, Failure> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let result = watch_and_reap(child, state, deadline);
    if result.is_err() {
        // Never leave a hook running behind an error; the error already says
        // what went wrong, so kill/wait failures add nothing.
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

fn watch_and_reap(
    child: &mut Child,
    state: &[u8],
    deadline: Option<Instant>,
) -> Result<Done, Failure> {
    let pidfd = pidfd_open(child.id()).map_err(failure("pidfd_open"))?;
    let stdin = child
        .stdin
        .take()
        .map(OwnedFd::from)
        .filter(|_| !state.is_empty());
    if let Some(fd) = &stdin {
        set_nonblocking(fd.as_fd())?;
    }
    let mut pipes = Pipes {
        stdout: Tail::new(child.stdout.take().map(OwnedFd::from))?,
        stderr: Tail::new(child.stderr.take().map(OwnedFd::from))?,
        stdin: Feeder {
            fd: stdin,
            rest: state,
        },
    };
    let mut sigpipe = SigpipeGuard::new();
    let exited = watch(pidfd.as_fd(), &mut pipes, &mut sigpipe, deadline)?;
    // EOF for a hook still reading stdin, before it is waited for.
    pipes.stdin.fd = None;
    if !exited {
        child.kill().map_err(io_failure("kill hook"))?;
    }
    let status = child.wait().map_err(io_failure("wait for hook"))?;
    // What it wrote last best explains a failure or a hang.
    pipes.stdout.drain()?;
    pipes.stderr.drain()?;
    let end = if exited {
        end_of(status)
    } else {
        End::TimedOut
    };
    Ok(Done {
        end,
        stdout: pipes.stdout.buf,
        stderr: pipes.stderr.buf,
    })
}

fn end_of(status: std::process::ExitStatus) -> End {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => End::Exited(code),
        (None, Some(sig)) => End::Signaled(sig),
        // wait() only reports exits and deaths by signal.
        (None, None) => End::Exited(-1),
    }
}

/// Poll until the hook exits (true) or the deadline passes (false).
fn watch(
    pidfd: BorrowedFd<'_>,
    pipes: &mut Pipes<'_>,
    sigpipe: &mut SigpipeGuard,
    deadline: Option<Instant>,
) -> Result<bool, Failure> {
    loop {
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(d) => match remaining(d) {
                Some(t) => t,
                None => return Ok(false),
            },
        };
        let ready = {
            let out = fd_of(&pipes.stdout.fd);
            let err = fd_of(&pipes.stderr.fd);
            let slots = [Some(pidfd), out, err, fd_of(&pipes.stdin.fd)];
            poll_slots(&slots, wait)?
        };
        if ready[1] {
            pipes.stdout.read_once()?;
        }
        if ready[2] {
            pipes.stderr.read_once()?;
        }
        if ready[3] {
            pipes.stdin.write_once(sigpipe)?;
        }
        if ready[0] {
            return Ok(true);
        }
    }
}

fn fd_of(fd: &Option<OwnedFd>) -> Option<BorrowedFd<'_>> {
    fd.as_ref().map(|f| f.as_fd())
}

/// poll() over the present slots (slot 3 waits for writability); returns
/// which slots have an event. EINTR reports nothing ready.
fn poll_slots(
    slots: &[Option<BorrowedFd<'_>>; 4],
    wait: PollTimeout,
) -> Result<[bool; 4], Failure> {
    let mut fds = Vec::with_capacity(4);
    let mut index = Vec::with_capacity(4);
    for (i, slot) in slots.iter().enumerate() {
        if let Some(fd) = slot {
            let events = if i == 3 {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(*fd, events));
            index.push(i);
        }
    }
    let mut ready = [false; 4];
    match poll(&mut fds, wait) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok(ready),
        Err(e) => return Err(failure("poll hook")(e)),
    }
    for (pfd, i) in fds.iter().zip(index) {
        // POLLHUP/POLLERR count too: the following read or write sees why.
        ready[i] = pfd.revents().is_some_and(|r| !r.is_empty());
    }
    Ok(ready)
}

/// Time left until `deadline` as a poll timeout, rounded up so we never spin
/// on a sub-millisecond remainder; None once it has passed.
fn remaining(deadline: Instant) -> Option<PollTimeout> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128);
    Some(PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX))
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Failure> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(failure("get pipe flags"))?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(failure("set pipe non-blocking"))?;
    Ok(())
}

/// pidfd_open(2): the hook is our unreaped child, so its pid cannot have
/// been recycled and the pidfd refers to it.
fn pidfd_open(pid: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just gave us this fd (CLOEXEC by default).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}
