//! Passing the pty master over a unix socket: `--console-socket` (to conmon
//! or containerd-shim) or `keel run`'s own socketpair.

use super::ConsoleError;
use nix::errno::Errno;
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Longest name runc's receivers read along with the fd.
const NAME_MAX: usize = 4096;
/// Room for a few fds, so a peer sending extras is reported rather than
/// having them silently truncated away.
const MAX_FDS: usize = 4;

/// Connect to the unix stream socket given by `--console-socket`.
pub fn connect_socket(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let connect_err = |e: Errno| ConsoleError::Connect {
        path: path.into(),
        error: e.into(),
    };
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| ConsoleError::Socket { error: e.into() })?;
    let addr = UnixAddr::new(path).map_err(connect_err)?;
    loop {
        match connect(sock.as_raw_fd(), &addr) {
            Ok(()) => return Ok(sock),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(connect_err(e)),
        }
    }
}

/// Send `master` with SCM_RIGHTS in one message whose payload is `name`.
/// A stream socket cannot carry an fd without data, so an empty name is
/// sent as a single NUL byte.
pub fn send_master(socket: &OwnedFd, master: &OwnedFd, name: &str) -> Result<(), ConsoleError> {
    let payload: &[u8] = if name.is_empty() {
        b"\0"
    } else {
        name.as_bytes()
    };
    let iov = [IoSlice::new(payload)];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    loop {
        // MSG_NOSIGNAL: a receiver that went away is an error, not a SIGPIPE.
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::Send { error: e.into() }),
        }
    }
}

/// Receive the master fd sent by `send_master` (close-on-exec); the name
/// that comes with it is discarded.
pub fn recv_master(socket: &OwnedFd) -> Result<OwnedFd, ConsoleError> {
    let mut name = [0u8; NAME_MAX];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let flags = MsgFlags::MSG_CMSG_CLOEXEC;
    let msg = loop {
        match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Ok(msg) => break msg,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::Recv { error: e.into() }),
        }
    };
    let mut fds = Vec::new();
    let cmsgs = msg
        .cmsgs()
        .map_err(|e| ConsoleError::Recv { error: e.into() })?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // SAFETY: SCM_RIGHTS installed these fds in our table for us.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        let error = std::io::Error::other("control message truncated");
        return Err(ConsoleError::Recv { error });
    }
    if msg.bytes == 0 && fds.is_empty() {
        let error = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        return Err(ConsoleError::Recv { error });
    }
    match <[OwnedFd; 1]>::try_from(fds) {
        Ok([fd]) => Ok(fd),
        Err(fds) => Err(ConsoleError::FdCount { found: fds.len() }),
    }
}
