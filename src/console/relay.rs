//! The foreground side of `keel run` with a terminal: our own tty in raw
//! mode, its size mirrored onto the container's pty, and bytes pumped
//! between the two.

use super::pty::set_winsize;
use super::{tty_err, ConsoleError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

const CHUNK: usize = 32 * 1024;

/// A tty put in raw mode; its previous settings come back on drop.
pub struct RawMode {
    // A duplicate, so the guard does not depend on the caller's fd living on.
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Raw mode for `fd`, or None if `fd` is not a terminal.
    pub fn enter(fd: BorrowedFd<'_>) -> Result<Option<RawMode>, ConsoleError> {
        let saved = match tcgetattr(fd) {
            Ok(t) => t,
            Err(Errno::ENOTTY) | Err(Errno::EINVAL) => return Ok(None),
            Err(e) => return Err(tty_err("get terminal attributes")(e)),
        };
        let dup = fd.try_clone_to_owned().map_err(|error| ConsoleError::Tty {
            what: "duplicate terminal fd",
            error,
        })?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(tty_err("put terminal in raw mode"))?;
        Ok(Some(RawMode { fd: dup, saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Nothing useful to do if the terminal went away meanwhile.
        let _ = tcsetattr(&self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Give `to` the window size of `from`; nothing to do if `from` is not a tty.
pub fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize.
    let rc = unsafe { libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    match Errno::result(rc) {
        Ok(_) => set_winsize(to, ws.ws_row, ws.ws_col),
        Err(Errno::ENOTTY) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(tty_err("get terminal window size")(e)),
    }
}

/// Copy what `from` has to offer now (one read) to `to`. Returns false once
/// either side is finished: EOF, or EIO, which is how a pty master reports
/// that every slave fd has been closed.
pub fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<bool, ConsoleError> {
    let mut buf = [0u8; CHUNK];
    let n = loop {
        match nix::unistd::read(from, &mut buf) {
            Ok(0) | Err(Errno::EIO) => return Ok(false),
            Ok(n) => break n,
            Err(Errno::EAGAIN) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => {
                return Err(ConsoleError::Relay {
                    what: "read",
                    error: e.into(),
                })
            }
        }
    };
    write_all(to, &buf[..n])
}

fn write_all(to: BorrowedFd<'_>, mut data: &[u8]) -> Result<bool, ConsoleError> {
    while !data.is_empty() {
        match nix::unistd::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EIO) => return Ok(false),
            Err(Errno::EINTR) => {}
            // A non-blocking destination that is full: wait until it drains.
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(to, PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => {
                        return Err(ConsoleError::Relay {
                            what: "poll",
                            error: e.into(),
                        })
                    }
                }
            }
            Err(e) => {
                return Err(ConsoleError::Relay {
                    what: "write",
                    error: e.into(),
                })
            }
        }
    }
    Ok(true)
}
