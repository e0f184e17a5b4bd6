//! SCMP_ACT_NOTIFY: handing the listener fd to the seccomp agent at
//! `listenerPath` (runtime-spec config-linux.md, "The Container Process
//! State").

use super::SeccompError;
use nix::sys::socket::{send, sendmsg, ControlMessage, MsgFlags};
use serde::Serialize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The name of the one fd sent, as `fds` lists it.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// Connect to the agent's unix stream socket and send, in one connection
/// that is then closed, the container process state JSON as payload with
/// the listener fd attached (SCM_RIGHTS) to its first bytes.
pub fn send_listener(
    listener_path: &Path,
    fd: &OwnedFd,
    state_json: &str,
) -> Result<(), SeccompError> {
    let stream =
        UnixStream::connect(listener_path).map_err(|source| SeccompError::ListenerConnect {
            path: listener_path.to_path_buf(),
            source,
        })?;
    let sock = stream.as_raw_fd();
    let bytes = state_json.as_bytes();
    let fds = [fd.as_raw_fd()];
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(bytes)];
    // MSG_NOSIGNAL: an agent that hangs up is an error, not a SIGPIPE.
    let send_error = |source| SeccompError::ListenerSend {
        path: listener_path.to_path_buf(),
        source,
    };
    let mut sent =
        sendmsg::<()>(sock, &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None).map_err(send_error)?;
    // The spec allows several sends, the fds going with the first only.
    while sent < bytes.len() {
        let n = send(sock, &bytes[sent..], MsgFlags::MSG_NOSIGNAL).map_err(send_error)?;
        if n == 0 {
            return Err(SeccompError::ListenerShort {
                path: listener_path.to_path_buf(),
                sent,
                len: bytes.len(),
            });
        }
        sent += n;
    }
    Ok(())
}

/// The container process state for `send_listener`: `state` is the
/// container's state (what `keel state` prints), `pid` the container
/// process as the runtime sees it, `metadata` linux.seccomp.listenerMetadata.
pub fn process_state<S: Serialize>(
    state: &S,
    pid: i32,
    metadata: Option<&str>,
) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ProcessState<'a, S> {
        oci_version: &'a str,
        fds: [&'a str; 1],
        pid: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        metadata: Option<&'a str>,
        state: &'a S,
    }
    serde_json::to_string(&ProcessState {
        oci_version: crate::OCI_VERSION,
        fds: [SECCOMP_FD_NAME],
        pid,
        // As runc: an empty metadata string is left out.
        metadata: metadata.filter(|m| !m.is_empty()),
        state,
    })
}
