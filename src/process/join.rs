//! Joining a running container: how `keel exec` starts a process in it.
//!
//! ```text
//!  keel exec (parent)                          new process (child)
//!  ──────────────────                          ───────────────────
//!  open /proc/<init>/ns/* that differ from ours
//!  setns(pid) just for the clone
//!  clone(SIGCHLD) ────────────────────────────▶ die with parent (PDEATHSIG)
//!  add it to the container's cgroup
//!                      ───── Go ─────────────▶ connect --console-socket
//!                                              setns ipc, uts, net, cgroup, mnt (last);
//!                                              no mnt ns of its own: chroot into the
//!                                              init's root (/proc/<init>/root)
//!                                              setsid; pty → socket
//!                                              rlimits, personality, LSM labels (at
//!                                              exec), user, capabilities,
//!                                              cwd, find program, no_new_privs
//!                      ◀──── Ready ─────────── execve
//!  end-of-file: the exec happened (the channel is close-on-exec);
//!  Failed(why): it did not
//!  pid file; --detach: return; else wait, forward signals, relay the pty
//! ```
//!
//! Every step that can fail happens before `Ready`, so `exec` reports it
//! with its cause; the process keel finally execs is the container's own.

use super::attributes::{self, AffinityStage, AttributeError};
use super::channel::{channel, ChannelError, Receiver, Sender};
use super::settings::{self, SeccompStage, SettingsError};
use crate::cgroups::{Cgroup, CgroupError, TaskFiles};
use crate::exec::{self, ExecError};
use crate::namespaces::{self, Join, NamespaceError};
use crate::state::{self, StateError};
use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxNamespaceType, Process};
use serde::{Deserialize, Serialize};
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

pub struct ExecOptions<'a> {
    /// The container's init, whose namespaces the new process joins.
    pub init_pid: i32,
    /// The container's cgroup, which it joins before it runs anything.
    pub cgroup: Option<&'a Cgroup>,
    /// The container's compiled seccomp profile, and the profile itself
    /// (for a NOTIFY listener's agent).
    pub seccomp: Option<(
        &'a crate::seccomp::Filter,
        &'a oci_spec::runtime::LinuxSeccomp,
    )>,
    /// The container's state document, for the seccomp agent.
    pub state_json: &'a str,
    pub process: &'a Process,
    pub console_socket: Option<&'a Path>,
    /// An already connected console socket (foreground relay).
    pub console_fd: Option<RawFd>,
    pub preserve_fds: u32,
    pub pid_file: Option<&'a Path>,
    /// The container's linux.personality and linux.memoryPolicy.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("exec: {0}")]
    Channel(#[from] ChannelError),
    #[error("exec: the new process exited before it could start")]
    Gone,
    #[error("exec: {0}")]
    Failed(String),
    #[error("pid file {path:?}: {source}")]
    PidFile {
        path: std::path::PathBuf,
        source: StateError,
    },
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("seccomp listener: fetch it from the new process: {0}")]
    Listener(std::io::Error),
    #[error("exec: open the container's root {0}: {1}")]
    Root(String, std::io::Error),
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapError),
}

#[derive(Debug, Serialize, Deserialize)]
enum ExecMsg {
    Ready,
    Failed(String),
    /// A seccomp listener's fd number, to fetch and hand to the agent.
    SeccompListener(i32),
}

#[derive(Debug, thiserror::Error)]
enum ChildError {
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Attribute(#[from] AttributeError),
    #[error(transparent)]
    Userns(#[from] crate::userns::UsernsError),
    #[error(transparent)]
    LinuxAttr(#[from] super::linux_attrs::LinuxAttrError),
    #[error("{0}")]
    Sys(String),
}

/// Start the process in the container; returns its pid (in keel's pid
/// namespace) once it has exec'd.
pub fn spawn(opts: &ExecOptions) -> Result<i32, JoinError> {
    let joins = namespaces::of_process(opts.init_pid)?;
    // A container without a mount namespace of its own shares ours, in a
    // chroot (rootfs::shared_ns): the new process enters the init's root.
    let root = match joins.iter().any(|j| j.kind == LinuxNamespaceType::Mount) {
        true => None,
        false => Some(open_root(opts.init_pid)?),
    };
    let (tx, rx) = channel::<ExecMsg>()?;
    let (go_tx, go_rx) = channel::<()>()?;
    // The child must not hold the sending end of Go: a parent that dies
    // before sending must read as end-of-file there.
    let go_tx_fd = go_tx.raw_fd();
    let cgroup_fd = opts.cgroup.and_then(Cgroup::unified_fd);
    let cgroup = cgroup_fd.as_ref().map(std::os::fd::AsFd::as_fd);
    let caps = opts.process.capabilities().as_ref();
    let in_user_ns = joins.iter().any(|j| j.kind == LinuxNamespaceType::User);
    let grantable = crate::capabilities::grantable_for(caps, in_user_ns);
    if let Some(caps) = caps {
        crate::capabilities::check(caps, &grantable)?;
    }
    let tasks = match opts.cgroup {
        Some(cgroup) => TaskFiles::open(cgroup)?,
        None => TaskFiles::default(),
    };
    let ctx = Child {
        joins: &joins,
        root: root.as_ref(),
        grantable: &grantable,
        tasks: &tasks,
    };
    let (pid, in_unified) = namespaces::fork_into_cgroup(&joins, 0, cgroup, || {
        // SAFETY: closing the child's copy of a parent-side fd.
        unsafe { libc::close(go_tx_fd) };
        child(opts, &ctx, &go_rx, &tx)
    })?;
    drop((tx, cgroup_fd));
    let v1_joined = !tasks.is_empty();
    drop(tasks);
    let outcome = place(opts, pid, (in_unified, v1_joined), &go_tx)
        .and_then(|()| outcome(opts, pid, &rx, &go_tx));
    if let Err(e) = outcome {
        // The child exits by itself after a failure (or with us: PDEATHSIG);
        // make sure, then collect it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(e);
    }
    if let Some(path) = opts.pid_file {
        state::write_atomic(path, pid.to_string().as_bytes()).map_err(|source| {
            JoinError::PidFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(pid)
}

/// Put the child in the container's cgroup where it is not yet (clone3 may
/// have started it in the cgroup2 one, it may have joined the v1 ones
/// itself), then let it go on.
fn place(
    opts: &ExecOptions,
    pid: i32,
    (in_unified, v1_joined): (bool, bool),
    go: &Sender<()>,
) -> Result<(), JoinError> {
    if let Some(cgroup) = opts.cgroup {
        cgroup.add_after_clone(pid, in_unified, v1_joined)?;
    }
    Ok(go.send(&())?)
}

/// Ready, then end-of-file when the exec closed the channel; a seccomp
/// listener on the way is handed to the agent.
fn outcome(
    opts: &ExecOptions,
    pid: i32,
    rx: &Receiver<ExecMsg>,
    go: &Sender<()>,
) -> Result<(), JoinError> {
    loop {
        match rx.recv() {
            Ok(ExecMsg::SeccompListener(fd)) => {
                forward_listener(opts, pid, fd)?;
                go.send(&())?;
            }
            Ok(ExecMsg::Ready) => break,
            Ok(ExecMsg::Failed(why)) => return Err(JoinError::Failed(why)),
            Err(ChannelError::Closed) => return Err(JoinError::Gone),
            Err(e) => return Err(e.into()),
        }
    }
    match rx.recv() {
        Err(ChannelError::Closed) => Ok(()),
        Ok(ExecMsg::Failed(why)) => Err(JoinError::Failed(why)),
        Ok(other) => Err(JoinError::Failed(format!(
            "unexpected {other:?} after Ready"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn forward_listener(opts: &ExecOptions, pid: i32, fd: i32) -> Result<(), JoinError> {
    let Some((_, profile)) = opts.seccomp else {
        return Err(JoinError::Failed(
            "a seccomp listener without a profile".into(),
        ));
    };
    let Some(path) = profile.listener_path().as_ref() else {
        return Err(JoinError::Failed(
            "a seccomp listener without listenerPath".into(),
        ));
    };
    let pidfd = crate::syscall::pidfd_open(pid).map_err(JoinError::Listener)?;
    let listener = crate::syscall::pidfd_getfd(&pidfd, fd).map_err(JoinError::Listener)?;
    let state: serde_json::Value = serde_json::from_str(opts.state_json).expect("our own JSON");
    let metadata = profile.listener_metadata().as_deref();
    let doc = crate::seccomp::process_state(&state, pid, metadata).expect("state serialises");
    Ok(crate::seccomp::send_listener(path, &listener, &doc)?)
}

/// The init's root directory (through /proc, so it is the one the init
/// has, not a path that could have been replaced).
fn open_root(pid: i32) -> Result<OwnedFd, JoinError> {
    let path = format!("/proc/{pid}/root");
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open(path.as_str(), flags, nix::sys::stat::Mode::empty())
        .map_err(|e| JoinError::Root(path, e.into()))
}

/// What the parent hands the child besides the options.
struct Child<'a> {
    /// The container's namespaces that differ from ours.
    joins: &'a [Join],
    /// The init's root, when the container shares our mount namespace.
    root: Option<&'a OwnedFd>,
    /// What the process can grant (`capabilities::grantable`).
    grantable: &'a crate::capabilities::CapsHashSet,
    /// The v1 cgroups it joins itself (`cgroups::TaskFiles`).
    tasks: &'a TaskFiles,
}

/// The child's side, top to bottom; it execs or exits.
fn child(opts: &ExecOptions, ctx: &Child, go: &Receiver<()>, tx: &Sender<ExecMsg>) {
    let program = match setup(opts, ctx, go, tx) {
        Ok(program) => program,
        Err(e) => {
            let _ = tx.send(&ExecMsg::Failed(e.to_string()));
            return;
        }
    };
    // The process outlives a detached `exec`.
    let _ = nix::sys::prctl::set_pdeathsig(None);
    if tx.send(&ExecMsg::Ready).is_err() {
        return;
    }
    let err = exec::exec(&program);
    let _ = tx.send(&ExecMsg::Failed(err.to_string()));
}

fn setup(
    opts: &ExecOptions,
    ctx: &Child,
    go: &Receiver<()>,
    tx: &Sender<ExecMsg>,
) -> Result<exec::Program, ChildError> {
    let (process, joins) = (opts.process, ctx.joins);
    settings::unblock_signals();
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| ChildError::Sys(format!("set pdeathsig: {e}")))?;
    // Until it execs, this process is keel's binary inside the container's
    // pid namespace: not dumpable, so the container cannot open its
    // /proc/PID/exe (the binary) or its fds (CVE-2019-5736 class).
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| ChildError::Sys(format!("set dumpable: {e}")))?;
    let affinity = process.exec_cpu_affinity().as_ref();
    attributes::apply_affinity(affinity, AffinityStage::Initial)?;
    ctx.tasks
        .join()
        .map_err(|e| ChildError::Sys(e.to_string()))?;
    go.recv()
        .map_err(|e| ChildError::Sys(format!("waiting to join the cgroup: {e}")))?;
    attributes::apply_affinity(affinity, AffinityStage::Final)?;
    // The socket path is a host path: connect before entering the mounts.
    let console = settings::console_socket(process, opts.console_socket, opts.console_fd)?;
    for join in joins.iter().filter(|j| j.kind != LinuxNamespaceType::Pid) {
        namespaces::enter(join)?;
    }
    // setns leaves our ids as they were: keel's, which the container's user
    // namespace need not map. Become its root first, as the init did (and
    // runc's setns init does): what we make from here on, the pty slave
    // above all, must belong to ids the namespace knows, or chown refuses
    // to hand it to process.user.
    if joins.iter().any(|j| j.kind == LinuxNamespaceType::User) {
        crate::userns::become_root()?;
    }
    if let Some(root) = ctx.root {
        enter_root(root)?;
    }
    nix::unistd::setsid().map_err(|e| ChildError::Sys(format!("setsid: {e}")))?;
    if let Some(socket) = console {
        settings::terminal(socket, process, false)?;
    }
    // Before the limits and the filter, as in the init.
    settings::pass_fds(opts.preserve_fds)?;
    let proc = settings::ProcSource::on_first_use();
    settings::apply_limits(process, &proc)?;
    settings::exec_labels(process, &proc)?;
    super::linux_attrs::apply_each(opts.personality, opts.memory_policy)?;
    let filter = opts.seccomp.map(|(f, _)| f);
    let early = settings::load_seccomp(filter, process, SeccompStage::BeforeUserSwitch)?;
    settings::switch_user(process, ctx.grantable)?;
    let program = exec::prepare(process, &[])?;
    settings::no_new_privs(process)?;
    let late = settings::load_seccomp(filter, process, SeccompStage::AfterNoNewPrivs)?;
    if let Some(listener) = early.or(late) {
        hand_over_listener(listener, go, tx)?;
    }
    Ok(program)
}

fn enter_root(root: &OwnedFd) -> Result<(), ChildError> {
    let fail = |what: &str, e: nix::Error| ChildError::Sys(format!("{what}: {e}"));
    nix::unistd::fchdir(root).map_err(|e| fail("enter the container's root", e))?;
    nix::unistd::chroot(".").map_err(|e| fail("chroot into the container's root", e))?;
    nix::unistd::chdir("/").map_err(|e| fail("chdir /", e))
}

/// Report the listener's fd number; keep it open until the parent, having
/// fetched it with pidfd_getfd, says go on.
fn hand_over_listener(
    listener: OwnedFd,
    go: &Receiver<()>,
    tx: &Sender<ExecMsg>,
) -> Result<(), ChildError> {
    use std::os::fd::AsRawFd;
    tx.send(&ExecMsg::SeccompListener(listener.as_raw_fd()))
        .and_then(|()| go.recv())
        .map_err(|e| ChildError::Sys(format!("hand over the seccomp listener: {e}")))
}
