//! Operations on an existing container: start, signal, destroy. The CLI
//! commands and `run` share them.

use crate::hooks::{self, HookKind};
use crate::process::{fifo, hook_state};
use crate::state::{Container, State, StateError, Status};
use crate::syscall;
use std::os::fd::OwnedFd;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot start a container in the {0} state")]
    StartOther(&'static str),
    #[error("start: {0}")]
    Start(#[from] fifo::StartError),
    #[error("{0}; the container was killed")]
    Poststart(hooks::HookError),
    #[error("container not running")]
    NotRunning,
    #[error("cannot delete container {id} that is not stopped: {status}")]
    NotStopped { id: String, status: &'static str },
    #[error("signal {signal} to pid {pid}: {source}")]
    Signal {
        signal: i32,
        pid: i32,
        source: std::io::Error,
    },
    #[error("wait for pid {pid} to exit: {source}")]
    Wait { pid: i32, source: std::io::Error },
}

/// A pidfd for the recorded init, or None if that process is gone. The
/// start time is checked after opening, so the fd cannot name a newcomer
/// that reused the pid.
pub fn init_pidfd(st: &State) -> Option<OwnedFd> {
    if st.pid <= 0 {
        return None;
    }
    let fd = syscall::pidfd_open(st.pid).ok()?;
    st.init_alive().then_some(fd)
}

/// Release a created init and run the poststart hooks.
pub fn start(c: &Container, st: &State) -> Result<(), LifecycleError> {
    match st.status(&c.dir) {
        Status::Created => {}
        Status::Stopped => return Err(LifecycleError::StartStopped),
        Status::Running => return Err(LifecycleError::StartRunning),
        Status::Creating => return Err(LifecycleError::StartOther("creating")),
    }
    let pidfd = init_pidfd(st).ok_or(LifecycleError::StartStopped)?;
    let released = fifo::release(&c.fifo(), &pidfd);
    let _ = std::fs::remove_file(c.fifo());
    released?;
    let poststart = st
        .hooks
        .as_ref()
        .and_then(|h| h.poststart().clone())
        .unwrap_or_default();
    if let Err(e) = hooks::run(
        HookKind::Poststart,
        &poststart,
        &hook_state(st, "running", st.pid),
    ) {
        let _ = syscall::pidfd_send_signal(&pidfd, libc::SIGKILL);
        return Err(LifecycleError::Poststart(e));
    }
    Ok(())
}

/// Signal the init, or with `all` every process of the container.
pub fn kill(c: &Container, st: &State, signal: i32, all: bool) -> Result<(), LifecycleError> {
    let status = st.status(&c.dir);
    if matches!(status, Status::Stopped) {
        return Err(LifecycleError::NotRunning);
    }
    let pidfd = init_pidfd(st).ok_or(LifecycleError::NotRunning)?;
    if all && st.own_pid_ns {
        signal_pid_namespace(st, signal);
    }
    syscall::pidfd_send_signal(&pidfd, signal).map_err(|source| LifecycleError::Signal {
        signal,
        pid: st.pid,
        source,
    })
}

/// Every process in the init's own pid namespace, found through /proc.
/// (With cgroups this becomes the cgroup's process list.)
fn signal_pid_namespace(st: &State, signal: i32) {
    if !st.own_pid_ns {
        return;
    }
    let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == st.pid
            || std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .ok()
                .as_ref()
                != Some(&ns)
        {
            continue;
        }
        if let Ok(fd) = syscall::pidfd_open(pid) {
            let _ = syscall::pidfd_send_signal(&fd, signal);
        }
    }
}

/// Wait until the init has exited or is past the point of running code.
/// The pidfd reports a full exit; an init held in the kernel's exit path by
/// unreaped processes of its namespace never gets there, and nothing
/// signals "exiting", so that is re-checked at each short poll timeout.
fn wait_until_gone(st: &State, pidfd: &OwnedFd) -> Result<(), LifecycleError> {
    const RECHECK_MS: i32 = 10;
    loop {
        let exited =
            syscall::pidfd_wait(pidfd, RECHECK_MS).map_err(|source| LifecycleError::Wait {
                pid: st.pid,
                source,
            })?;
        if exited || !st.init_alive() {
            return Ok(());
        }
    }
}

/// Delete: refuse a live container unless forced; otherwise kill it, wait
/// until it is gone, run poststop hooks, and remove the state.
pub fn destroy(c: Container, st: &State, force: bool) -> Result<(), LifecycleError> {
    let status = st.status(&c.dir);
    if status != Status::Stopped {
        if !force {
            return Err(LifecycleError::NotStopped {
                id: st.id.clone(),
                status: status.as_str(),
            });
        }
        if let Some(pidfd) = init_pidfd(st) {
            // Killing a pid namespace's init kills everything in it. In a
            // shared pid namespace only the init is known to be ours until
            // cgroups list the container's processes.
            let _ = syscall::pidfd_send_signal(&pidfd, libc::SIGKILL);
            wait_until_gone(st, &pidfd)?;
        }
    }
    c.remove()?;
    crate::process::run_poststop(st);
    Ok(())
}
