//! SCMP_ACT_NOTIFY end to end through `keel run`: a seccomp agent listening
//! on listenerPath receives the listener fd and the container's state, and
//! answers the container's mkdir itself (success, without a directory).

mod common;

use common::Sandbox;
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

/// struct seccomp_notif and seccomp_notif_resp from <linux/seccomp.h>.
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct Resp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, ...resp).
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Accept keel's connection: the state document and the listener fd.
fn receive(listener: &UnixListener) -> (Value, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    assert!(
        common::sys::poll_readable(listener.as_raw_fd(), deadline),
        "keel never connected to the agent"
    );
    let (stream, _) = listener.accept().expect("keel connects to the agent");
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let mut fd = None;
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: SCM_RIGHTS gave us this fd.
            fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    let len = msg.bytes;
    let doc = serde_json::from_slice(&buf[..len]).expect("a JSON state document");
    (doc, fd.expect("the listener fd"))
}

/// Answer one notification with success; returns its syscall number.
fn answer_one(fd: &OwnedFd) -> i32 {
    assert!(
        common::sys::poll_readable(fd.as_raw_fd(), std::time::Instant::now() + common::TIMEOUT),
        "no notification"
    );
    let mut n = Notif::default();
    // SAFETY: the kernel fills a seccomp_notif of this layout.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut n) };
    assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let resp = Resp {
        id: n.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    // SAFETY: a seccomp_notif_resp of this layout.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp) };
    assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    n.nr
}

#[test]
fn a_notify_agent_gets_the_listener_and_answers_a_syscall() {
    let mut sb = Sandbox::new("seccomp_notify");
    let socket = sb.dir.join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    sb.bundle.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": socket,
            "listenerMetadata": "keel-test",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    sb.bundle
        .sh("mkdir /tmp/agent-made && echo made; test -d /tmp/agent-made && echo present || echo absent");
    let id = sb.id.clone();
    let running = sb.spawn_run(&id, &[]);
    let (doc, fd) = receive(&listener);
    let nr = answer_one(&fd);
    let out = running.wait();
    out.assert_ok();
    assert!(
        [libc::SYS_mkdir, libc::SYS_mkdirat].contains(&(nr as i64)),
        "syscall {nr}"
    );
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["made", "absent"],
        "{out}"
    );
    assert_eq!(doc["fds"], json!(["seccompFd"]), "{doc}");
    assert_eq!(doc["metadata"], "keel-test", "{doc}");
    assert_eq!(doc["state"]["id"], id.as_str(), "{doc}");
    assert!(doc["pid"].as_i64().is_some_and(|p| p > 0), "{doc}");
}
