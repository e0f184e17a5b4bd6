//! Operations on an existing container: start, signal, destroy. The CLI
//! commands and `run` share them.

use crate::cgroups::{Cgroup, CgroupError};
use crate::hooks::{self, HookKind};
use crate::process::{fifo, hook_state};
use crate::state::{self, Container, State, StateError, Status};
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
    /// `kept`: the container is still there (`start`), or not (`run`
    /// removed it).
    #[error(
        "cannot start a container without a process: its config.json has no \"process\" ({})",
        if *kept { "it stays created; delete --force removes it" } else { "it was removed" }
    )]
    NoProcess { kept: bool },
    #[error("{0}; the container was killed")]
    Poststart(hooks::HookError),
    #[error("container not running")]
    NotRunning,
    #[error("container not paused")]
    NotPaused,
    #[error("the container has no cgroup (created by a keel without cgroup support)")]
    NoCgroup,
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
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
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
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
        Status::Paused => return Err(LifecycleError::StartOther("paused")),
    }
    // Refused before the init is released, so the container stays created.
    if st.process.is_none() {
        return Err(LifecycleError::NoProcess { kept: true });
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
    let state_json = hook_state(st, "running", st.pid);
    if !poststart_failure_stops(&st.oci_version) {
        hooks::run_warning(HookKind::Poststart, &poststart, &state_json);
        return Ok(());
    }
    if let Err(e) = hooks::run(HookKind::Poststart, &poststart, &state_json) {
        let _ = syscall::pidfd_send_signal(&pidfd, libc::SIGKILL);
        return Err(LifecycleError::Poststart(e));
    }
    Ok(())
}

/// runtime-spec 1.0.2 to 1.2.x say a failing poststart hook is a warning and
/// the container keeps running; 1.3.0 made it an error that stops the
/// container (runc's behaviour all along). keel honours the version the
/// bundle declares; one it cannot read gets the newest rule.
fn poststart_failure_stops(oci_version: &str) -> bool {
    let mut parts = oci_version.split(['.', '-', '+']);
    let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
    match (number(), number()) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 3),
        _ => true,
    }
}

/// Signal the init, or with `all` every process of the container's cgroup.
pub fn kill(c: &Container, st: &State, signal: i32, all: bool) -> Result<(), LifecycleError> {
    if matches!(st.status(&c.dir), Status::Stopped) {
        return Err(LifecycleError::NotRunning);
    }
    let pidfd = init_pidfd(st).ok_or(LifecycleError::NotRunning)?;
    if all {
        signal_cgroup(st, signal)?;
    }
    match syscall::pidfd_send_signal(&pidfd, signal) {
        // cgroup.kill may already have ended the init.
        Err(e) if all && signal == libc::SIGKILL && e.raw_os_error() == Some(libc::ESRCH) => {}
        other => other.map_err(|source| LifecycleError::Signal {
            signal,
            pid: st.pid,
            source,
        })?,
    }
    if signal == libc::SIGKILL {
        thaw_if_frozen(st);
    }
    Ok(())
}

/// Send `signal` to every process in the container's cgroup but the init
/// (`kill --all`). cgroup.kill does SIGKILL in one step, which also gets a
/// process forked after a list was read; otherwise each process is
/// signalled through a pidfd, so that a pid reused between reading
/// cgroup.procs and the signal is not hit.
fn signal_cgroup(st: &State, signal: i32) -> Result<(), LifecycleError> {
    let Some(cgroup) = &st.cgroup else {
        return Ok(());
    };
    if signal == libc::SIGKILL && cgroup.kill_all()? {
        return Ok(());
    }
    for (_, fd) in cgroup_members(cgroup, st.pid)? {
        let _ = syscall::pidfd_send_signal(&fd, signal);
    }
    Ok(())
}

/// SIGKILL every process in the container's cgroup but the init, for
/// `delete`; returns pidfds of those it reached, opened before the kill
/// (a reaped process could not be opened after it), to wait on. With the
/// init gone and nobody listed, nothing can fork into the cgroup any more,
/// and the kill (a cgroup.kill write where there is one) is skipped.
fn kill_cgroup(st: &State, init_alive: bool) -> Result<Vec<(i32, OwnedFd)>, LifecycleError> {
    let Some(cgroup) = &st.cgroup else {
        return Ok(Vec::new());
    };
    let reached = cgroup_members(cgroup, st.pid)?;
    if !init_alive && reached.is_empty() {
        return Ok(reached);
    }
    if !cgroup.kill_all()? {
        for (_, fd) in &reached {
            let _ = syscall::pidfd_send_signal(fd, libc::SIGKILL);
        }
    }
    Ok(reached)
}

/// pidfds of the processes in `cgroup` but `init`. A cgroup that is not
/// there holds none: a create that died between writing its state and
/// making the cgroup names one it never made, and someone else may have
/// removed it.
fn cgroup_members(cgroup: &Cgroup, init: i32) -> Result<Vec<(i32, OwnedFd)>, LifecycleError> {
    let pids = match cgroup.pids() {
        Err(e) if e.is_not_found() => Vec::new(),
        other => other?,
    };
    Ok(pids
        .into_iter()
        .filter(|&p| p != init)
        .filter_map(|pid| syscall::pidfd_open(pid).ok().map(|fd| (pid, fd)))
        .collect())
}

/// A frozen process acts on SIGKILL only once thawed.
fn thaw_if_frozen(st: &State) {
    if let Some(cgroup) = &st.cgroup {
        if cgroup.is_frozen() {
            let _ = cgroup.thaw();
        }
    }
}

/// Wait until `pid` has exited or is past the point of running code. The
/// pidfd reports a full exit; a pid namespace's init held in the kernel's
/// exit path by unreaped processes of its namespace never gets there, and
/// nothing signals "exiting", so that is re-checked at each short timeout.
fn wait_until_gone(pid: i32, pidfd: &OwnedFd) -> Result<(), LifecycleError> {
    const RECHECK_MS: i32 = 10;
    loop {
        let exited = syscall::pidfd_wait(pidfd, RECHECK_MS)
            .map_err(|source| LifecycleError::Wait { pid, source })?;
        if exited || state::proc_start_time(pid).is_none_or(|(_, gone)| gone) {
            return Ok(());
        }
    }
}

/// Delete: refuse a live container unless forced; kill what is left of it
/// (a live init, and processes that outlive it in a shared pid namespace),
/// wait until they are gone, remove the cgroup, the state, and run the
/// poststop hooks. The state goes last, so a failure can be retried.
pub fn destroy(c: Container, st: &State, force: bool) -> Result<(), LifecycleError> {
    let status = st.status(&c.dir);
    if status != Status::Stopped && !force {
        return Err(LifecycleError::NotStopped {
            id: st.id.clone(),
            status: status.as_str(),
        });
    }
    let init = init_pidfd(st);
    if let Some(pidfd) = &init {
        let _ = syscall::pidfd_send_signal(pidfd, libc::SIGKILL);
    }
    let others = kill_cgroup(st, init.is_some())?;
    // With nothing alive in it there is nothing to kill or thaw.
    if init.is_some() || !others.is_empty() {
        thaw_if_frozen(st);
    }
    for (pid, pidfd) in init
        .iter()
        .map(|fd| (st.pid, fd))
        .chain(others.iter().map(|(p, fd)| (*p, fd)))
    {
        wait_until_gone(pid, pidfd)?;
    }
    if let Some(cgroup) = &st.cgroup {
        cgroup.remove()?;
    }
    remove_state(c)?;
    crate::process::run_poststop(st);
    Ok(())
}

/// Remove the state directory of a container none of whose processes run
/// any more, and first the rootfs mount it may have made in the runtime's
/// mount namespace (whose record is in that directory).
pub fn remove_state(c: Container) -> Result<(), LifecycleError> {
    crate::rootfs::release_runtime_ns_bind(&c)?;
    Ok(c.remove()?)
}

/// `delete --force` of a container whose state file is damaged: kill what
/// can still be found of it and remove the state directory. The init is
/// found by the pid and start time a truncated file still holds; the
/// cgroup by the record create wrote beside the state (which finds the
/// other processes too, and the init when the file names none). A
/// container from a keel that wrote no record falls back to asking the
/// kernel where the init lives, and a cgroup found that way is only
/// removed if it is named after the container, so a mangled file cannot
/// send keel after someone else's.
pub fn destroy_damaged(c: Container, id: &str) -> Result<(), LifecycleError> {
    let init = state::salvage_init(&c.dir).filter(
        |&(pid, start)| matches!(state::proc_start_time(pid), Some((t, false)) if t == start),
    );
    let cgroup = match c.cgroup_record() {
        Some(recorded) => recorded.filter(Cgroup::exists),
        None => init.and_then(|(pid, _)| cgroup_of_process(pid, id)),
    };
    if init.is_none() && cgroup.is_none() {
        return remove_state(c);
    }
    let (pid, start) = init.unwrap_or((0, 0));
    let st = State {
        oci_version: String::new(),
        id: id.to_string(),
        pid,
        pid_start_time: start,
        bundle: Default::default(),
        rootfs: Default::default(),
        created: String::new(),
        created_done: true,
        annotations: Default::default(),
        hooks: None,
        own_pid_ns: false,
        process: None,
        seccomp: None,
        cgroup,
        personality: None,
        memory_policy: None,
    };
    destroy(c, &st, true)
}

/// The cgroup `pid` is in, as keel would have made it for container `id`.
fn cgroup_of_process(pid: i32, id: &str) -> Option<Cgroup> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    // `hierarchy:controllers:path`; keel puts a container at one path in
    // every hierarchy, so the first line names it.
    let path = text.lines().next()?.splitn(3, ':').nth(2)?;
    let path = std::path::Path::new(path);
    if path.file_name()? != id {
        return None;
    }
    Cgroup::for_container(Some(path), id).ok()
}

/// Freeze every process of a running (or created) container.
pub fn pause(c: &Container, st: &State) -> Result<(), LifecycleError> {
    match st.status(&c.dir) {
        Status::Running | Status::Created => Ok(cgroup_of(st)?.freeze()?),
        _ => Err(LifecycleError::NotRunning),
    }
}

pub fn resume(c: &Container, st: &State) -> Result<(), LifecycleError> {
    match st.status(&c.dir) {
        Status::Paused => Ok(cgroup_of(st)?.thaw()?),
        _ => Err(LifecycleError::NotPaused),
    }
}

pub fn cgroup_of(st: &State) -> Result<&Cgroup, LifecycleError> {
    st.cgroup.as_ref().ok_or(LifecycleError::NoCgroup)
}

#[cfg(test)]
mod tests {
    use super::poststart_failure_stops;

    #[test]
    fn poststart_rule_follows_the_declared_spec_version() {
        for v in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1"] {
            assert!(!poststart_failure_stops(v), "{v}");
        }
        for v in ["1.3.0", "1.3.0-rc.1", "1.10.0", "2.0.0", "", "x"] {
            assert!(poststart_failure_stops(v), "{v}");
        }
    }
}
