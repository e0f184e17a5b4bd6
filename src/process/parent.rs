//! The parent's side of create: claim the state, clone the init, run the
//! runtime-namespace hooks, and record the result.

use super::channel::{channel, ChannelError, Receiver, Sender};
use super::checks;
use super::init::{self, InitContext};
use super::pending::{self, Pending};
use super::{hook_state, InitMsg, ParentMsg};
use crate::cgroups::{Cgroup, CgroupError};
use crate::config::Bundle;
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, NamespaceError, Plan};
use crate::seccomp;
use crate::state::{Container, State, StateError};
use crate::syscall;
use std::path::Path;

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub console_socket: Option<&'a Path>,
    /// An already connected console socket (foreground `run` relays the
    /// terminal itself); takes the place of `console_socket`.
    pub console_fd: Option<std::os::fd::RawFd>,
    pub pid_file: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Rootless mode: a cgroup keel may not make is skipped, unless the
    /// config asks for limits.
    pub rootless: bool,
    /// fds 3..3+N pass to the container (LISTEN_FDS included).
    pub preserve_fds: u32,
    /// Extra environment for the container process (LISTEN_FDS, LISTEN_PID).
    pub extra_env: Vec<String>,
}

/// A created container, still locked by the caller.
pub struct Created {
    pub container: Container,
    pub state: State,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("config.json: {0}")]
    Capabilities(crate::capabilities::CapError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Userns(#[from] crate::userns::UsernsError),
    #[error(transparent)]
    Idmap(#[from] crate::idmap::IdmapError),
    #[error(
        "config.json: mounts[{index}]: idmapped mounts need keel to run as root (the kernel \
         wants CAP_SYS_ADMIN over the source's filesystem)"
    )]
    IdmapNeedsRoot { index: usize },
    #[error(transparent)]
    Console(#[from] crate::console::ConsoleError),
    #[error(transparent)]
    Cgroup(CgroupError),
    /// A cgroup error about a field of config.json (a value the kernel
    /// refuses or this host cannot apply): named like every other config
    /// error. `update` reports the same errors without it, as its values
    /// come from elsewhere.
    #[error("config.json: {0}")]
    CgroupConfig(CgroupError),
    #[error(
        "config.json: linux.resources: rootless: the limits cannot be applied without a cgroup \
         keel may write ({0})"
    )]
    RootlessLimits(CgroupError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("seccomp listener: fetch it from the container init: {0}")]
    Listener(std::io::Error),
    #[error("--preserve-fds {count}: fd {fd} is not open")]
    PreservedFd { count: u32, fd: u32 },
    #[error("--console-socket is required when process.terminal is true")]
    NeedConsoleSocket,
    #[error("make exec fifo {path:?}: {source}")]
    Fifo {
        path: std::path::PathBuf,
        source: nix::Error,
    },
    /// What the init reported, as a whole line (see init.rs `report`).
    #[error("{0}")]
    Init(String),
    #[error("container init: {0}")]
    Channel(#[from] ChannelError),
    #[error("container init: unexpected message {0}")]
    Protocol(String),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    NetDev(#[from] crate::netdev::NetDevError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error("pid file {path:?}: {source}")]
    PidFile {
        path: std::path::PathBuf,
        source: StateError,
    },
}

impl From<CgroupError> for CreateError {
    fn from(e: CgroupError) -> Self {
        match e.config_field() {
            Some(_) => CreateError::CgroupConfig(e),
            None => CreateError::Cgroup(e),
        }
    }
}

pub fn create(opts: &CreateOptions) -> Result<Created, CreateError> {
    checks::check_request(opts)?;
    let mut pending = Pending::claim(opts)?;
    let plan = namespaces::plan(&opts.bundle.spec)?;
    let net = namespaces::NetNs::start(plan.net_apart)?;
    let grantable = checks::grantable(&opts.bundle.spec, &plan)?;
    let filter = compile_seccomp(opts)?;
    let mut st = pending::initial_state(opts);
    pending.make_cgroup(&mut st, opts)?;
    pending.bind_rootfs(opts)?;
    let (to_parent, from_init) = channel::<InitMsg>()?;
    let (to_init, from_parent) = channel::<ParentMsg>()?;
    let console = connect_console(opts)?;
    let net_ns = net.join()?;
    // It forks helpers: only once no thread of ours runs.
    let idmap_ns = crate::idmap::Namespaces::make(&opts.bundle.spec)?;
    let tasks = pending.task_files()?;
    let v1_joined = !tasks.is_empty();
    let ctx = InitContext {
        opts,
        state: &st,
        seccomp: filter.as_ref(),
        plan: &plan,
        grantable: &grantable,
        cgroup_tasks: &tasks,
        fifo: Some(open_fifo(&pending)?),
        console_fd: opts
            .console_fd
            .or(console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd)),
        to_parent,
        from_parent,
        net_ns: net_ns.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
    };
    // The init must not hold the lock or the parent's channel ends: the
    // lock would outlive create, and the ends would hide the parent's exit.
    // Nor the idmap namespaces, which are the parent's to use.
    let mut close = vec![
        pending.container().lock_fd(),
        from_init.raw_fd(),
        to_init.raw_fd(),
    ];
    close.extend(idmap_ns.raw_fds());
    let cgroup_fd = pending.cgroup.as_ref().and_then(Cgroup::unified_fd);
    let (pid, in_unified) = spawn_init(&plan, ctx, &close, cgroup_fd.as_ref())?;
    drop((cgroup_fd, net_ns, tasks));
    pending.adopt_init(pid);
    pending.move_netdevs(&opts.bundle.spec, pid)?;
    drop(console);
    // The init waits for Mapped and says nothing before it: a failure here
    // is ours to report (asking the init why would wait forever).
    map_ids(opts, &plan, pid, &to_init)?;
    map_mount_trees(opts, &idmap_ns, pid, &from_init, &to_init)?;
    drop(idmap_ns);
    let placed = pending
        .place_init(pid, in_unified, v1_joined)
        .and_then(|()| Ok(to_init.send(&ParentMsg::Placed)?));
    if let Err(e) = placed {
        return Err(init_reason(&from_init).unwrap_or(e));
    }
    // Recorded only now, while the init builds its rootfs, so that the
    // state write overlaps that work instead of delaying Placed. Until
    // here a crash of ours leaves no init to record: it dies with us
    // (PDEATHSIG).
    pending.record_init(&mut st, pid)?;
    drive_init(opts, &st, &from_init, &to_init)?;
    pending.finish(opts, st)
}

/// The profile is compiled here, before the clone: the init only loads it.
fn compile_seccomp(opts: &CreateOptions) -> Result<Option<seccomp::Filter>, CreateError> {
    let linux = opts.bundle.spec.linux().as_ref();
    let Some(profile) = linux.and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let filter = seccomp::compile(profile)?;
    let notify = if filter.has_notify() {
        ", with a listener"
    } else {
        ""
    };
    crate::logging::debug(&format!(
        "container {}: seccomp filter of {} instructions{notify}",
        opts.id,
        filter.len()
    ));
    Ok(Some(filter))
}

/// The exec fifo, opened here: the state directory is root's alone, and an
/// init in a user namespace could not even look it up.
fn open_fifo(pending: &Pending) -> Result<std::os::fd::OwnedFd, CreateError> {
    let fifo = pending.container().fifo();
    super::fifo::open_handle(&fifo).map_err(|source| CreateError::Fifo {
        path: fifo.clone(),
        source: nix::Error::from_raw(source.raw_os_error().unwrap_or(libc::EIO)),
    })
}

/// --console-socket is connected by keel, as runc does, and the init
/// inherits the connection: the socket is a host path the init may have
/// no right to (a user namespace), or no way to reach.
fn connect_console(opts: &CreateOptions) -> Result<Option<std::os::fd::OwnedFd>, CreateError> {
    let process = opts.bundle.spec.process().as_ref();
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    match opts.console_socket {
        Some(path) if terminal && opts.console_fd.is_none() => {
            Ok(Some(crate::console::connect_socket(path)?))
        }
        _ => Ok(None),
    }
}

/// While the init waits: a new user namespace gets its id maps written; a
/// joined one has them compared with the config's, if it gives any. Then
/// the init goes on, to become the namespace's root.
fn map_ids(
    opts: &CreateOptions,
    plan: &Plan,
    pid: i32,
    to_init: &Sender<ParentMsg>,
) -> Result<(), CreateError> {
    use crate::userns::{self, Ids};
    let spec = &opts.bundle.spec;
    if !plan.user_ns() {
        return Ok(());
    }
    match plan.joined_user() {
        None => {
            userns::write(&userns::proc_root()?, pid, spec)?;
            crate::logging::debug(&format!("container {}: id maps written", opts.id));
        }
        Some(join) => {
            let given = [Ids::Uid, Ids::Gid].map(|ids| userns::mappings(spec, ids).len());
            if given != [0, 0] {
                userns::check_joined(&userns::proc_root()?, pid, spec, join)?;
            }
        }
    }
    Ok(to_init.send(&ParentMsg::Mapped)?)
}

/// Idmapped mounts: the init clones each source's tree in its own mount
/// namespace and we, root in the host's user namespace as the kernel
/// requires, give the trees their mappings (src/rootfs/idmap.rs says why
/// the work is split so). Before Placed, so the two never cross.
fn map_mount_trees(
    opts: &CreateOptions,
    namespaces: &crate::idmap::Namespaces,
    pid: i32,
    from_init: &Receiver<InitMsg>,
    to_init: &Sender<ParentMsg>,
) -> Result<(), CreateError> {
    let spec = &opts.bundle.spec;
    if crate::rootfs::idmapped(spec).is_empty() {
        return Ok(());
    }
    let trees = match from_init.recv()? {
        InitMsg::IdmapTrees(trees) => trees,
        other => return unexpected(other, "IdmapTrees"),
    };
    crate::idmap::map_trees(spec, namespaces, pid, &trees)?;
    crate::logging::debug(&format!(
        "container {}: {} idmapped mount(s) mapped",
        opts.id,
        trees.len()
    ));
    Ok(to_init.send(&ParentMsg::TreesMapped)?)
}

/// Clone the init with every new namespace at once, into its cgroup2
/// directory where the kernel can. A pid namespace to join is entered by
/// the parent just for the clone, because setns(CLONE_NEWPID) only applies
/// to children. Namespaces that must be joined before the clone (a user
/// namespace, which owns the others) go through a helper, and the init
/// then joins its cgroup2 directory through cgroup.procs.
fn spawn_init(
    plan: &Plan,
    ctx: InitContext,
    close: &[i32],
    cgroup: Option<&std::os::fd::OwnedFd>,
) -> Result<(i32, bool), CreateError> {
    use std::os::fd::AsFd;
    let run = || init::main(ctx, close);
    if plan.joins_before_clone() {
        let pid = namespaces::fork_after_joins(&plan.joins, plan.clone_flags, run)?;
        return Ok((pid, false));
    }
    Ok(namespaces::fork_into_cgroup(
        &plan.joins,
        plan.clone_flags,
        cgroup.map(|fd| fd.as_fd()),
        run,
    )?)
}

/// The parent's half of the protocol in the module diagram.
fn drive_init(
    opts: &CreateOptions,
    st: &State,
    from_init: &Receiver<InitMsg>,
    to_init: &Sender<ParentMsg>,
) -> Result<(), CreateError> {
    if super::hooks_around_mounts(&opts.bundle.spec) {
        match from_init.recv()? {
            InitMsg::MountsReady => {}
            other => return unexpected(other, "MountsReady"),
        }
        if let Err(e) = run_runtime_hooks(opts, st) {
            run_poststop(st);
            return Err(e.into());
        }
        to_init.send(&ParentMsg::HooksDone)?;
    }
    loop {
        match from_init.recv()? {
            InitMsg::Created => return Ok(()),
            InitMsg::SeccompListener(fd) => {
                forward_listener(opts, st, fd)?;
                to_init.send(&ParentMsg::ListenerSent)?;
            }
            InitMsg::HookFailed(msg) => {
                run_poststop(st);
                return Err(CreateError::Init(msg));
            }
            other => return unexpected(other, "Created"),
        }
    }
}

/// prestart, then createRuntime hooks, in the runtime's namespaces.
fn run_runtime_hooks(opts: &CreateOptions, st: &State) -> Result<(), hooks::HookError> {
    let state_json = hook_state(st, "creating", st.pid);
    let hooks = opts.bundle.spec.hooks().clone().unwrap_or_default();
    hooks::run(
        HookKind::Prestart,
        hooks.prestart().as_deref().unwrap_or(&[]),
        &state_json,
    )?;
    let list = hooks.create_runtime().as_deref().unwrap_or(&[]);
    hooks::run(HookKind::CreateRuntime, list, &state_json)
}

/// SCMP_ACT_NOTIFY: fetch the init's listener fd and hand it, with the
/// container process state, to the agent at listenerPath (a host path,
/// which the init can no longer reach).
fn forward_listener(opts: &CreateOptions, st: &State, fd: i32) -> Result<(), CreateError> {
    let seccomp = opts
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref());
    let Some(path) = seccomp.and_then(|s| s.listener_path().as_ref()) else {
        return Err(CreateError::Protocol(
            "a seccomp listener without listenerPath".into(),
        ));
    };
    let pidfd = syscall::pidfd_open(st.pid).map_err(CreateError::Listener)?;
    let listener = syscall::pidfd_getfd(&pidfd, fd).map_err(CreateError::Listener)?;
    let state: serde_json::Value =
        serde_json::from_str(&hook_state(st, "creating", st.pid)).expect("our own JSON");
    let metadata = seccomp.and_then(|s| s.listener_metadata().as_deref());
    let doc = seccomp::process_state(&state, st.pid, metadata).expect("state serialises");
    Ok(seccomp::send_listener(path, &listener, &doc)?)
}

/// When placing or talking to the init fails, it has usually died, and its
/// own message says why: prefer that to our symptom of it.
fn init_reason(from_init: &Receiver<InitMsg>) -> Option<CreateError> {
    // Only a message already sent: an init still waiting for Placed says
    // nothing, and would wait as long as we did.
    let mut poll = libc::pollfd {
        fd: from_init.raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, no timeout.
    if unsafe { libc::poll(&mut poll, 1, 0) } != 1 {
        return None;
    }
    match from_init.recv() {
        Ok(InitMsg::Failed(msg)) | Ok(InitMsg::HookFailed(msg)) => Some(CreateError::Init(msg)),
        _ => None,
    }
}

fn unexpected(msg: InitMsg, want: &str) -> Result<(), CreateError> {
    match msg {
        InitMsg::Failed(m) | InitMsg::HookFailed(m) => Err(CreateError::Init(m)),
        other => Err(CreateError::Protocol(format!("{other:?}, expected {want}"))),
    }
}

/// runtime.md: after a failed create hook the container is destroyed and the
/// poststop hooks run; a failing one is only a warning, and the rest still run.
pub fn run_poststop(st: &State) {
    let Some(list) = st.hooks.as_ref().and_then(|h| h.poststop().clone()) else {
        return;
    };
    hooks::run_warning(
        HookKind::Poststop,
        &list,
        &hook_state(st, "stopped", st.pid),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_errors_about_a_config_field_name_config_json() {
        let e = CgroupError::unsupported(
            "linux.resources.memory.useHierarchy",
            "/sys/fs/cgroup/memory/k/memory.use_hierarchy refused false",
        );
        assert_eq!(
            CreateError::from(e).to_string(),
            "config.json: linux.resources.memory.useHierarchy: not supported on this host: \
             /sys/fs/cgroup/memory/k/memory.use_hierarchy refused false"
        );
        let e = CgroupError::Write {
            field: "linux.resources.blockIO.weightDevice[0].weight".into(),
            file: "/sys/fs/cgroup/blkio/k/blkio.bfq.weight".into(),
            value: "8:0 300".into(),
            err: std::io::Error::from_raw_os_error(libc::EINVAL),
        };
        let text = CreateError::from(e).to_string();
        assert!(
            text.starts_with("config.json: linux.resources.blockIO.weightDevice[0].weight: write"),
            "{text}"
        );
        let e = CgroupError::Layout("no cgroup hierarchy".into());
        assert_eq!(
            CreateError::from(e).to_string(),
            "cgroup layout of this host: no cgroup hierarchy"
        );
        let e = CreateError::RootlessLimits(CgroupError::Layout("x".into()));
        assert!(e.to_string().starts_with("config.json: linux.resources: "));
    }
}
