//! Container terminals: the pty, the console socket, and the relay.
//!
//! runc's contract, which conmon and containerd-shim rely on: the runtime
//! allocates a pty inside the container, makes the slave the container
//! process's controlling terminal and stdio, and passes the master over the
//! `--console-socket` unix socket with SCM_RIGHTS.

mod mount;
mod pty;
mod relay;
mod socket;

#[cfg(test)]
mod tests;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub use mount::bind_console;
pub use pty::{make_controlling, setup_pty};
pub use relay::{copy_winsize, pump, RawMode};
pub use socket::{connect_socket, recv_master, send_master};

/// A freshly allocated pty. Both ends are CLOEXEC.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// `/dev/pts/N`: where the slave is seen from the mount namespace that
    /// opened `/dev/ptmx`; also the name sent with the master.
    pub slave_path: PathBuf,
}

/// Errors carry their cause in the message rather than as `source()`, so that
/// `{:#}` chains do not print the cause twice.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("create console socket: {error}")]
    Socket { error: std::io::Error },
    #[error("connect to console socket {path:?}: {error}")]
    Connect {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("open {path:?}: {error}")]
    Open {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path:?} is not the pty multiplexer (5:2): it is a {found}")]
    NotPtmx { path: PathBuf, found: String },
    #[error("{path:?} is not the slave of pty {number}: it is a {found}")]
    NotPtySlave {
        path: PathBuf,
        number: u32,
        found: String,
    },
    #[error("{path:?} is not a pty slave: it is a {found}")]
    NotPty { path: PathBuf, found: String },
    #[error("{path:?} is a symlink; refusing to mount the console over it")]
    ConsoleSymlink { path: PathBuf },
    #[error("bind {source_path:?} onto {target:?}: {error}")]
    Mount {
        source_path: PathBuf,
        target: PathBuf,
        error: std::io::Error,
    },
    #[error("{what}: {error}")]
    Tty {
        what: &'static str,
        error: std::io::Error,
    },
    #[error("send console master fd: {error}")]
    Send { error: std::io::Error },
    #[error("receive console master fd: {error}")]
    Recv { error: std::io::Error },
    #[error("receive console master fd: expected 1 fd, got {found}")]
    FdCount { found: usize },
    #[error("relay console: {what}: {error}")]
    Relay {
        what: &'static str,
        error: std::io::Error,
    },
}

/// `Tty { what, .. }` from an errno, for `map_err`.
fn tty_err(what: &'static str) -> impl Fn(nix::errno::Errno) -> ConsoleError {
    move |e| ConsoleError::Tty {
        what,
        error: e.into(),
    }
}

/// A human description of an inode for error messages, e.g. "char device 1:3".
fn describe(st: &nix::sys::stat::FileStat) -> String {
    use nix::sys::stat::{major, minor};
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFCHR => "char device",
        libc::S_IFBLK => "block device",
        libc::S_IFREG => return "regular file".to_string(),
        libc::S_IFDIR => return "directory".to_string(),
        libc::S_IFLNK => return "symlink".to_string(),
        libc::S_IFIFO => return "fifo".to_string(),
        libc::S_IFSOCK => return "socket".to_string(),
        _ => return format!("file of type {:o}", st.st_mode & libc::S_IFMT),
    };
    format!("{kind} {}:{}", major(st.st_rdev), minor(st.st_rdev))
}
