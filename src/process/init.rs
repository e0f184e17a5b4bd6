//! The container init: everything keel does inside the new namespaces, as
//! named phases in the order of the module diagram. It runs in a fork of
//! `keel create` and never returns: it execs the user process or exits.

use super::channel::{ChannelError, Receiver, Sender};
use super::parent::CreateOptions;
use super::settings::{self, SeccompStage, SettingsError};
use super::{fifo, hook_state, linux_attrs, InitMsg, ParentMsg};
use crate::hooks::{self, HookError, HookKind};
use crate::namespaces::{self, NamespaceError, Plan};
use crate::rootfs::{self, RootfsError};
use crate::{exec, sysctl};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::ffi::CString;
use std::io::Write;
use std::os::fd::OwnedFd;

pub struct InitContext<'a> {
    pub opts: &'a CreateOptions<'a>,
    /// The state as recorded before the clone, for hook documents.
    pub state: &'a crate::state::State,
    /// The compiled linux.seccomp, loaded at the end of setup.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    pub plan: &'a Plan,
    /// What the init can grant, read by the parent before the clone.
    pub grantable: &'a crate::capabilities::CapsHashSet,
    /// The v1 cgroups the init joins itself, first thing.
    pub cgroup_tasks: &'a crate::cgroups::TaskFiles,
    /// An O_PATH handle on the exec fifo, opened by the parent; the init
    /// takes it.
    pub fifo: Option<OwnedFd>,
    /// The connected console socket (process.terminal), inherited.
    pub console_fd: Option<std::os::fd::RawFd>,
    pub to_parent: Sender<InitMsg>,
    pub from_parent: Receiver<ParentMsg>,
    /// The new network namespace the parent made apart from the clone
    /// (`Plan::net_apart`), inherited, for the init to join.
    pub net_ns: Option<std::os::fd::RawFd>,
}

#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    // The process settings come from config.json here (exec has its own).
    #[error("config.json: {0}")]
    Exec(#[from] exec::ExecError),
    #[error(transparent)]
    Sysctl(#[from] sysctl::SysctlError),
    #[error(transparent)]
    Proc(#[from] crate::procfs::ProcError),
    #[error(transparent)]
    LinuxAttr(#[from] linux_attrs::LinuxAttrError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Userns(#[from] crate::userns::UsernsError),
    #[error(transparent)]
    Time(#[from] crate::timens::TimensError),
    #[error("waiting for the parent: {0}")]
    Channel(#[from] ChannelError),
    #[error("protocol: unexpected {0}")]
    Protocol(&'static str),
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        source: std::io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> InitError {
    move |source| InitError::Sys { what, source }
}

/// What the last phase needs once `start` arrives.
struct Ready {
    fifo: OwnedFd,
    /// Opened while the init still may make a procfs and open it with
    /// openat2 (before seccomp and the user switch), to reopen the fifo
    /// once `start` comes.
    fds: crate::procfs::FdDir,
    /// None without `process`: `start` refuses such a container.
    program: Option<exec::Program>,
}

pub fn main(mut ctx: InitContext, close: &[i32]) -> ! {
    for fd in close {
        // SAFETY: these fds belong to the parent's side; we only drop our copies.
        unsafe { libc::close(*fd) };
    }
    let ready = match setup(&mut ctx) {
        Ok(ready) => ready,
        Err(e) => {
            let msg = report(&e);
            let msg = match e {
                InitError::Hook(_) => InitMsg::HookFailed(msg),
                _ => InitMsg::Failed(msg),
            };
            let _ = ctx.to_parent.send(&msg);
            exit(1);
        }
    };
    // From here on the init must outlive `create`.
    let _ = nix::sys::prctl::set_pdeathsig(None);
    if ctx.to_parent.send(&InitMsg::Created).is_err() {
        exit(1);
    }
    let (opts, st) = (ctx.opts, ctx.state);
    drop(ctx);
    wait_and_exec(ready, opts, st)
}

/// The line `create` shows for `e`. A config error is whole as it is,
/// `config.json: <json path>: ...` like the parent's own; anything else
/// says it happened in the init.
fn report(e: &InitError) -> String {
    let config = match e {
        InitError::Exec(_) => true,
        InitError::Rootfs(e) => e.is_config(),
        InitError::Namespace(e) => e.is_config(),
        _ => false,
    };
    if config {
        e.to_string()
    } else {
        format!("container init: {e}")
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips the parent's atexit handlers and buffers, which a
    // forked child must not run.
    unsafe { libc::_exit(code) }
}

/// Every phase up to `Created`, top to bottom.
fn setup(ctx: &mut InitContext) -> Result<Ready, InitError> {
    let opts = ctx.opts;
    let spec = &opts.bundle.spec;
    // Optional in config.json: without it the container is made all the
    // same, and `start` refuses it (runtime.md).
    let process = spec.process().as_ref();
    guard_parent(ctx.plan)?;
    ctx.cgroup_tasks.join()?;
    wait_for_id_maps(ctx)?;
    if !ctx.plan.joins_before_clone() {
        join_namespaces(ctx.plan)?;
    }
    match (ctx.plan.net_apart, ctx.net_ns) {
        (true, Some(fd)) => join_new_net(fd)?,
        // Never the host's network instead of the new one.
        (true, None) => return Err(InitError::Protocol("no network namespace to join")),
        _ => {}
    }
    if ctx.plan.unshare_time {
        crate::timens::unshare(spec)?;
    }
    become_user_namespace_root(ctx.plan)?;
    let console = match process {
        Some(p) => settings::console_socket(p, None, ctx.console_fd)?,
        None => None,
    };
    let fifo = ctx.fifo.take().expect("the fifo handle is taken once");
    let mut placed = prepare_rootfs(ctx)?;
    if super::hooks_around_mounts(spec) {
        if !placed {
            enter_cgroup(ctx)?;
            placed = true;
        }
        wait_for_runtime_hooks(ctx)?;
        run_container_hook(opts, ctx.state, HookKind::CreateContainer, "creating")?;
    }
    rootfs::pivot(spec, &opts.bundle.rootfs, opts.no_pivot)?;
    nix::unistd::setsid().map_err(|e| sys("setsid")(e.into()))?;
    if let (Some(socket), Some(p)) = (console, process) {
        settings::terminal(socket, p, true)?;
    }
    // One procfs for every write into /proc from here on.
    let proc = crate::procfs::ProcRoot::open()?;
    configure_namespaces(spec, &proc)?;
    let fds = proc.fd_dir()?;
    rootfs::finalize(spec)?;
    join_session_keyring(opts, &proc)?;
    // Before the process's own settings, so that its limits, seccomp
    // filter and program are never in force outside its cgroup.
    if !placed {
        enter_cgroup(ctx)?;
    }
    // Before the process's limits and seccomp filter: a lower RLIMIT_NOFILE
    // would bound the sweep's fallback, and the filter may refuse
    // close_range. What prepare_process opens is close-on-exec already.
    settings::pass_fds(opts.preserve_fds)?;
    let program = process
        .map(|p| prepare_process(ctx, p, &proc))
        .transpose()?;
    Ok(Ready { fifo, fds, program })
}

/// The process's own settings, as late as they can come: limits, the
/// execution domain, LSM labels, seccomp around the user switch, the
/// program to run.
fn prepare_process(
    ctx: &InitContext,
    process: &Process,
    proc: &crate::procfs::ProcRoot,
) -> Result<exec::Program, InitError> {
    let opts = ctx.opts;
    let proc = settings::ProcSource::Open(proc);
    settings::apply_limits(process, &proc)?;
    linux_attrs::apply(opts.bundle.spec.linux().as_ref())?;
    settings::exec_labels(process, &proc)?;
    let early = settings::load_seccomp(ctx.seccomp, process, SeccompStage::BeforeUserSwitch)?;
    settings::switch_user(process, ctx.grantable)?;
    let program = exec::prepare(process, &opts.extra_env)?;
    settings::no_new_privs(process)?;
    let late = settings::load_seccomp(ctx.seccomp, process, SeccompStage::AfterNoNewPrivs)?;
    if let Some(listener) = early.or(late) {
        hand_over_listener(ctx, listener)?;
    }
    Ok(program)
}

/// Enter the network namespace the parent made for us, and close its fd.
fn join_new_net(fd: std::os::fd::RawFd) -> Result<(), InitError> {
    use std::os::fd::FromRawFd;
    // SAFETY: the parent's fd, inherited by the clone; ours to close.
    let ns = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| sys("join the new network namespace")(e.into()))
}

/// Die with the parent until `Created`: an init orphaned mid-create would
/// be a container nobody knows about. (A parent that died before this took
/// effect is noticed at the next message: the channel reads end-of-file.
/// getppid() cannot tell: in a new pid namespace it is always 0.)
fn guard_parent(plan: &Plan) -> Result<(), InitError> {
    settings::unblock_signals();
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| sys("set pdeathsig")(e.into()))?;
    // An unprivileged parent (or the newuidmap it runs) can only write our
    // id maps while /proc/<init> is still its own: we stay dumpable until
    // then, and until our own time offsets are written (same reason). No
    // process of the container exists before that.
    if !plan.new_user() || nix::unistd::geteuid().is_root() {
        set_not_dumpable()?;
    }
    Ok(())
}

/// Not dumpable until exec, so the container cannot ptrace or open
/// /proc/<init>/ files of a process still holding keel's state.
fn set_not_dumpable() -> Result<(), InitError> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| sys("set dumpable")(e.into()))
}

/// In a new user namespace, wait until the parent has written the id
/// maps; in a joined one (entered before the clone), until it has checked
/// them against the config. Nothing is done in the namespace before.
fn wait_for_id_maps(ctx: &InitContext) -> Result<(), InitError> {
    if !ctx.plan.user_ns() {
        return Ok(());
    }
    match ctx.from_parent.recv()? {
        ParentMsg::Mapped => Ok(()),
        _ => Err(InitError::Protocol("a message before Mapped")),
    }
}

/// Become the user namespace's root, who owns every namespace made with
/// it. Only now: the offsets of a new time namespace go to our own
/// /proc/<pid>/timens_offsets, which procfs gives to the ids we came with
/// (keel's: root's, as we are not dumpable; the caller's while an
/// unprivileged caller keeps us dumpable), and which the namespace's root,
/// other host ids, could not open for writing.
fn become_user_namespace_root(plan: &Plan) -> Result<(), InitError> {
    if !plan.user_ns() {
        return Ok(());
    }
    set_not_dumpable()?;
    Ok(crate::userns::become_root()?)
}

fn join_namespaces(plan: &Plan) -> Result<(), InitError> {
    for join in plan
        .joins
        .iter()
        .filter(|j| j.kind != LinuxNamespaceType::Pid)
    {
        namespaces::enter(join)?;
    }
    Ok(())
}

/// Mount the rootfs while the parent places us in our cgroup: the first
/// cgroup.procs write of a v1 host waits for an RCU grace period (6-20 ms
/// here), which the init's work now overlaps. A new cgroup namespace must
/// be made after the placement (its root is the cgroup we are in when we
/// unshare), so then it is awaited just before the first cgroup mount;
/// otherwise the cgroup mounts bind the cgroups we will be in (known in
/// advance), and the caller awaits it later (and makes a cgroup namespace
/// then, if there was no cgroup mount): before the hooks, or without hooks
/// before the process's own settings. Devices and masked paths may
/// be made before it (mknod is then checked against keel's own devices
/// cgroup): the container's cgroup governs their use, which only starts
/// after the placement. Returns whether the placement was awaited.
fn prepare_rootfs(ctx: &InitContext) -> Result<bool, InitError> {
    let spec = &ctx.opts.bundle.spec;
    let prepared = rootfs::prepare_root(spec, &ctx.opts.bundle.rootfs)?;
    let trees = rootfs::clone_idmapped(spec)?;
    if !trees.is_empty() {
        have_trees_mapped(ctx, &trees)?;
    }
    let mut entered = false;
    // A failed wait comes back as RootfsError::BeforeCgroup, which says
    // before which mount it was.
    rootfs::mount(spec, &prepared, trees, &mut || {
        if !ctx.plan.unshare_cgroup {
            if let Some(lines) = placed_cgroup_lines(ctx) {
                return Ok(Some(lines));
            }
        }
        entered = true;
        enter_cgroup(ctx).map(|()| None).map_err(|e| e.to_string())
    })?;
    Ok(entered)
}

/// /proc/self/cgroup as it reads once the parent has placed us (it may be
/// doing so right now, which changes only the lines this rewrites).
fn placed_cgroup_lines(ctx: &InitContext) -> Option<String> {
    let cgroup = ctx.state.cgroup.as_ref()?;
    let own = crate::procfs::read::text("/proc/self/cgroup").ok()?;
    Some(cgroup.proc_lines_once_placed(&own))
}

/// Idmapped mounts: hand the trees we cloned to the parent, which gives
/// them their mappings (we cannot: see src/rootfs/idmap.rs); our fds name
/// the same mounts, so they come back mapped.
fn have_trees_mapped(ctx: &InitContext, trees: &rootfs::Trees) -> Result<(), InitError> {
    ctx.to_parent.send(&InitMsg::IdmapTrees(trees.fds()))?;
    match ctx.from_parent.recv()? {
        ParentMsg::TreesMapped => Ok(()),
        _ => Err(InitError::Protocol("a message before TreesMapped")),
    }
}

/// Wait until the parent has placed us; then make the cgroup namespace,
/// if the config asks for one.
fn enter_cgroup(ctx: &InitContext) -> Result<(), InitError> {
    wait_placed(ctx)?;
    if !ctx.plan.unshare_cgroup {
        return Ok(());
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| sys("linux.namespaces: unshare the cgroup namespace")(e.into()))
}

fn wait_placed(ctx: &InitContext) -> Result<(), InitError> {
    match ctx.from_parent.recv()? {
        ParentMsg::Placed => Ok(()),
        _ => Err(InitError::Protocol("a message before Placed")),
    }
}

fn wait_for_runtime_hooks(ctx: &InitContext) -> Result<(), InitError> {
    ctx.to_parent.send(&InitMsg::MountsReady)?;
    match ctx.from_parent.recv()? {
        ParentMsg::HooksDone => Ok(()),
        _ => Err(InitError::Protocol("a message before HooksDone")),
    }
}

/// Hand a seccomp listener to the parent, which fetches it with
/// pidfd_getfd; keep it open until the parent says it has it.
fn hand_over_listener(ctx: &InitContext, listener: OwnedFd) -> Result<(), InitError> {
    use std::os::fd::AsRawFd;
    ctx.to_parent
        .send(&InitMsg::SeccompListener(listener.as_raw_fd()))?;
    match ctx.from_parent.recv()? {
        ParentMsg::ListenerSent => Ok(()),
        _ => Err(InitError::Protocol("a message before ListenerSent")),
    }
}

/// createContainer and startContainer hooks run here, in the container's
/// namespaces; the pid they see is ours as the container sees it.
fn run_container_hook(
    opts: &CreateOptions,
    st: &crate::state::State,
    kind: HookKind,
    status: &str,
) -> Result<(), InitError> {
    let hooks = opts.bundle.spec.hooks().clone().unwrap_or_default();
    let list = match kind {
        HookKind::CreateContainer => hooks.create_container().clone(),
        _ => hooks.start_container().clone(),
    };
    let Some(list) = list else { return Ok(()) };
    let json = hook_state(st, status, nix::unistd::getpid().as_raw());
    hooks::run(kind, &list, &json)?;
    Ok(())
}

/// uts names, sysctls and the loopback link of a new network namespace.
fn configure_namespaces(spec: &Spec, proc: &crate::procfs::ProcRoot) -> Result<(), InitError> {
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(name).map_err(|e| sys("hostname: sethostname")(e.into()))?;
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        sysctl::set_domainname(name).map_err(sys("domainname: setdomainname"))?;
    }
    if let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        sysctl::apply(proc, map)?;
    }
    if namespaces::creates(spec, LinuxNamespaceType::Network) {
        sysctl::loopback_up().map_err(sys("bring up lo in the new network namespace"))?;
    }
    Ok(())
}

/// A fresh session keyring per container, as runc makes, so containers do
/// not share the caller's keys; with an SELinux label, the keyring carries
/// it. Kernels without keyrings are fine.
fn join_session_keyring(
    opts: &CreateOptions,
    proc: &crate::procfs::ProcRoot,
) -> Result<(), InitError> {
    if opts.no_new_keyring {
        return Ok(());
    }
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    let name = CString::new(opts.id).expect("ids have no NUL");
    let process = opts.bundle.spec.process().as_ref();
    let labels = process.map(crate::lsm::Labels::of).unwrap_or_default();
    let joined = crate::lsm::with_key_label(proc, &labels, || {
        // SAFETY: keyctl with a valid C string.
        let ret =
            unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
        // errno now: clearing the key label afterwards may change it.
        match ret {
            ..0 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        }
    })
    .map_err(settings::SettingsError::from)?;
    match joined {
        Err(err) if err.raw_os_error() != Some(libc::ENOSYS) => Err(InitError::Sys {
            what: "join a new session keyring",
            source: err,
        }),
        _ => Ok(()),
    }
}

/// After `Created`: wait for `start`, run startContainer hooks, exec.
/// Failures from here on reach `start` through the fifo.
fn wait_and_exec(ready: Ready, opts: &CreateOptions, st: &crate::state::State) -> ! {
    let Ok(mut fifo) = fifo::wait_for_start(&ready.fifo, &ready.fds) else {
        exit(1)
    };
    drop(ready.fifo);
    if let Err(e) = run_container_hook(opts, st, HookKind::StartContainer, "created") {
        let _ = write!(fifo, "{e}");
        exit(1);
    }
    let Some(program) = &ready.program else {
        let _ = write!(fifo, "config.json has no process to run");
        exit(1)
    };
    let err = exec::exec(program);
    let _ = write!(fifo, "{err}");
    exit(127)
}

#[cfg(test)]
mod tests {
    use super::{report, InitError};
    use crate::rootfs::{RootfsError, StepError};

    #[test]
    fn a_config_error_is_the_whole_line_and_others_name_the_init() {
        let refused = || StepError::Refused("refused".into());
        let mount = InitError::Rootfs(RootfsError::Mount {
            index: 3,
            err: refused(),
        });
        assert_eq!(report(&mount), "config.json: mounts[3]: refused");
        let links = InitError::Rootfs(RootfsError::DevLinks { err: refused() });
        assert_eq!(report(&links), "container init: /dev symlinks: refused");
    }
}
