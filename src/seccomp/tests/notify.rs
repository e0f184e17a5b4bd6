//! SCMP_ACT_NOTIFY end to end: a child loads a filter with a listener and
//! hands it over with `send_listener`; the test, as the seccomp agent,
//! receives the fd and the state, and answers the child's calls.

use super::kernel::{forked, no_new_privs, sys};
use super::*;
use crate::seccomp::{compile, load, process_state, send_listener};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::json;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// How long the agent waits for the child before the test fails.
const PATIENCE_MS: u16 = 10_000;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("keel-seccomp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills and reaps the child if the test fails while it is blocked.
struct Child(Option<Pid>);

impl Child {
    fn wait(mut self) -> WaitStatus {
        waitpid(self.0.take().unwrap(), None).unwrap()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

fn readable(fd: impl AsFd) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PATIENCE_MS).unwrap() == 1
}

/// What the agent receives on one connection: the payload and the fd.
fn receive(listener: &UnixListener) -> (serde_json::Value, OwnedFd) {
    assert!(readable(listener), "no connection from the child");
    let (mut stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(PATIENCE_MS.into())))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let (len, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), flags).unwrap();
        let fds: Vec<RawFd> = msg
            .cmsgs()
            .unwrap()
            .flat_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds,
                _ => Vec::new(),
            })
            .collect();
        (msg.bytes, fds)
    };
    assert_eq!(fds.len(), 1, "one fd, SCM_RIGHTS");
    // SAFETY: the fd just arrived and is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    buf.truncate(len);
    // The runtime closes the connection once the state is sent.
    stream.read_to_end(&mut buf).unwrap();
    (serde_json::from_slice(&buf).unwrap(), fd)
}

/// Take the next notification, check its call and answer it.
fn answer(listener: &OwnedFd, nr: libc::c_long, val: i64, error: i32) -> u32 {
    assert!(readable(listener), "no notification for call {nr}");
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    let fd = listener.as_raw_fd();
    // SAFETY: req is the struct this ioctl fills.
    let rc = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
    assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    assert_eq!(libc::c_long::from(req.data.nr), nr);
    let resp = libc::seccomp_notif_resp {
        id: req.id,
        val,
        error,
        flags: 0,
    };
    // SAFETY: resp is the struct this ioctl reads.
    let rc = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    req.pid
}

#[test]
fn a_notify_listener_reaches_the_agent_and_answers_calls() {
    let scratch = Scratch::new("notify");
    let socket = scratch.0.join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "MKNOD=/dev/null",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getppid", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert!(f.has_notify());
    let child = Child(Some(forked(|| {
        if !no_new_privs() {
            return 90;
        }
        let Ok(Some(fd)) = load(&f) else {
            return 91;
        };
        let state = json!({"ociVersion": "1.0.2", "id": "c1", "status": "creating",
                           "pid": std::process::id(), "bundle": "/b"});
        let pid = std::process::id() as i32;
        let payload = process_state(&state, pid, Some("MKNOD=/dev/null")).unwrap();
        if send_listener(&socket, &fd, &payload).is_err() {
            return 93;
        }
        drop(fd);
        let path = c"/keel-notify-test";
        let mkdirat = [libc::AT_FDCWD as u64, path.as_ptr() as u64, 0o755, 0];
        if sys(libc::SYS_getppid, [0; 4]) != Ok(4242) {
            1
        } else if sys(libc::SYS_mkdirat, mkdirat) != Err(libc::EROFS) {
            2
        } else {
            0
        }
    })));
    let (state, fd) = receive(&listener);
    let pid = child.0.unwrap().as_raw() as u32;
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "MKNOD=/dev/null");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["state"]["id"], "c1");
    assert_eq!(state["ociVersion"], crate::OCI_VERSION);
    assert_eq!(answer(&fd, libc::SYS_getppid, 4242, 0), pid);
    assert_eq!(answer(&fd, libc::SYS_mkdirat, 0, -libc::EROFS), pid);
    let status = child.wait();
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "child: {status:?}"
    );
}

#[test]
fn process_state_has_the_spec_shape() {
    let state = json!({"ociVersion": "1.0.2", "id": "x", "status": "creating"});
    let text = process_state(&state, 7, Some("")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value,
        json!({"ociVersion": crate::OCI_VERSION, "fds": ["seccompFd"], "pid": 7, "state": state})
    );
}

#[test]
fn send_listener_names_the_socket_it_cannot_reach() {
    let scratch = Scratch::new("noagent");
    let socket = scratch.0.join("absent.sock");
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = OwnedFd::from(a);
    let err = send_listener(&socket, &fd, "{}").unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("seccomp listenerPath {socket:?}: connect: ")),
        "{err}"
    );
}
