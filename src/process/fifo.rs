//! The exec fifo: how `start` releases a created init, and how the init
//! tells `start` whether the user process really started.
//!
//! The init blocks in open(O_WRONLY) until `start` opens the read end. It
//! then writes [`STARTED`], runs the startContainer hooks and execs; the
//! write end is close-on-exec, so a successful exec reads as end-of-file
//! right after that byte. Anything after the byte is the reason it failed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const STARTED: u8 = b'S';

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("open exec fifo {path:?}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wait for the container init: {0}")]
    Poll(std::io::Error),
    #[error("the container init exited before it could start the process")]
    InitGone,
    #[error("{0}")]
    Failed(String),
}

/// Init side, before pivot_root: a handle that still names the fifo after
/// the host's filesystem is out of reach.
pub fn open_handle(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)?;
    Ok(f.into())
}

/// Init side: block until `start` opens the fifo, then say we are alive.
/// The fifo is reopened through `fds`, in a procfs keel verified: the path
/// "/proc/self/fd" in the container could lead anywhere by now.
pub fn wait_for_start(
    handle: &OwnedFd,
    fds: &crate::procfs::FdDir,
) -> Result<File, crate::procfs::ProcError> {
    use std::os::fd::AsFd;
    let fd = fds.reopen(handle.as_fd(), libc::O_WRONLY)?;
    let mut file = File::from(fd);
    file.write_all(&[STARTED])
        .map_err(|source| crate::procfs::ProcError::Io {
            path: "exec fifo".into(),
            source,
        })?;
    Ok(file)
}

/// `start` side: release the init and learn how it went. `init` is a pidfd
/// of the init, so an init that died before opening the fifo is noticed.
pub fn release(path: &Path, init: &OwnedFd) -> Result<(), StartError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| StartError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let mut data = Vec::new();
    loop {
        let (fifo_ready, init_gone) = poll2(&fifo, init).map_err(StartError::Poll)?;
        if (fifo_ready || init_gone) && drain(&mut fifo, &mut data).map_err(StartError::Poll)? {
            break;
        }
        if init_gone && !fifo_ready {
            // The init exited; whatever it wrote is already in the pipe.
            drain(&mut fifo, &mut data).map_err(StartError::Poll)?;
            break;
        }
    }
    outcome(&data)
}

fn outcome(data: &[u8]) -> Result<(), StartError> {
    match data.split_first() {
        None => Err(StartError::InitGone),
        Some((&STARTED, [])) => Ok(()),
        Some((&STARTED, why)) => Err(StartError::Failed(
            String::from_utf8_lossy(why).trim().to_string(),
        )),
        Some(_) => Err(StartError::Failed(
            String::from_utf8_lossy(data).trim().to_string(),
        )),
    }
}

/// Read what is there. Returns true at end-of-file after a writer was seen.
fn drain(fifo: &mut File, data: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        match fifo.read(&mut buf) {
            Ok(0) => return Ok(!data.is_empty()),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn poll2(fifo: &File, init: &OwnedFd) -> std::io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: init.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } >= 0 {
            return Ok((fds[0].revents != 0, fds[1].revents != 0));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_reads_the_protocol() {
        assert!(outcome(b"S").is_ok());
        assert!(matches!(outcome(b""), Err(StartError::InitGone)));
        let e = outcome(b"Sexec: \"x\": not found\n").unwrap_err();
        assert_eq!(e.to_string(), "exec: \"x\": not found");
    }
}
