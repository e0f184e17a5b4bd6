//! Terminal helpers: receiving a pty master as engines do, and reading a
//! pty until some output shows up.

use super::sys::poll_readable;
use super::TIMEOUT;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::Instant;

/// Accept one connection on `listener` and receive the fd it sends with
/// SCM_RIGHTS, as containerd's shim does. Fails after `TIMEOUT`.
pub fn receive_pty_master(listener: &UnixListener) -> OwnedFd {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    assert!(
        poll_readable(listener.as_raw_fd(), deadline),
        "nobody connected to the console socket"
    );
    let (conn, _) = listener.accept().expect("accept console socket connection");
    conn.set_nonblocking(false).unwrap();
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on console socket");
    for cmsg in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            assert_eq!(fds.len(), 1, "want one fd, got {fds:?}");
            // SAFETY: the kernel just installed this fd in our table for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("console socket message carried no fd");
}

/// Read from `fd` until `pattern` shows up; returns all that was read.
pub fn read_until(fd: &mut File, pattern: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(pattern) {
        let text = String::from_utf8_lossy(&seen).into_owned();
        assert!(
            poll_readable(fd.as_raw_fd(), deadline),
            "timed out waiting for {pattern:?}; got {text:?}"
        );
        let mut chunk = [0u8; 4096];
        match fd.read(&mut chunk) {
            Ok(0) => panic!("end of output before {pattern:?}; got {text:?}"),
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read before {pattern:?}: {e}; got {text:?}"),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}
