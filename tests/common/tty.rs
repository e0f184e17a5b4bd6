//! Terminal helpers: receiving a pty master as engines do, and reading a
//! pty until some output shows up.

use super::sys::poll_readable;
use super::{Output, Sandbox, TIMEOUT};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::{self, File};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// `create` of `id` with a console socket in the sandbox, receiving the pty
/// master concurrently (a runtime that waits for the receiver cannot
/// deadlock the test). The master is None if the runtime sent none.
pub fn create_with_console(sb: &mut Sandbox, id: &str) -> (Output, Option<File>) {
    let socket = unique_path(sb, "console.sock");
    let listener = UnixListener::bind(&socket).expect("bind console socket");
    let arg = socket.to_str().unwrap().to_string();
    std::thread::scope(|s| {
        let receiver = s.spawn(|| receive_pty_master(&listener));
        let out = sb.try_create(id, &["--console-socket", &arg]);
        (out, receiver.join().ok().map(File::from))
    })
}

/// A fresh path in the sandbox's directory. Not named after the container:
/// a socket's path must fit in sun_path's 108 bytes, and the sandbox's
/// directory already holds the (up to 40-character) sandbox name.
fn unique_path(sb: &Sandbox, name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    sb.dir.join(format!("{n}.{name}"))
}

/// `create` of `id` with a console socket, which must succeed and send the
/// pty master.
pub fn create_with_pty(sb: &mut Sandbox, id: &str) -> File {
    let (out, master) = create_with_console(sb, id);
    out.assert_ok();
    master.expect("the runtime sent the pty master")
}

/// `exec -t -d` of `args` in the running container `id`, with a console
/// socket: returns the exec'd process's pid (adopted by the sandbox, which
/// is its subreaper) and the pty master.
pub fn exec_with_pty(sb: &Sandbox, id: &str, args: &[&str]) -> (i32, File) {
    let socket = unique_path(sb, "console.sock");
    let listener = UnixListener::bind(&socket).expect("bind console socket");
    let flags = ["-t", "--console-socket", socket.to_str().unwrap()];
    let (call, pid_file) = sb.spawn_exec_detached(&flags, id, args);
    // The runtime sends the master before it exits: receive it first.
    let master = receive_pty_master(&listener);
    call.wait().assert_ok();
    (sb.adopt_pid_file(&pid_file), File::from(master))
}

/// What the container printed between `begin` and `end` (markers the
/// typed command line cannot contain, e.g. `echo BEGIN$((1+1))`), as lines
/// without the terminal's carriage returns.
pub fn output_between(seen: &str, begin: &str, end: &str) -> Vec<String> {
    let start = seen.find(begin).map(|i| i + begin.len());
    let start = start.unwrap_or_else(|| panic!("no {begin:?} in {seen:?}"));
    let stop = seen[start..].find(end).map(|i| start + i);
    let stop = stop.unwrap_or_else(|| panic!("no {end:?} after {begin:?} in {seen:?}"));
    seen[start..stop]
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}
