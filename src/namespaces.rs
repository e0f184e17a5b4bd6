//! Namespaces: which to create with the init's clone, which to join by path.

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("clone the container's first process: {source}")]
    Clone { source: std::io::Error },
    #[error("{}{label}: open {path:?}: {source}", label.prefix())]
    Open {
        label: Origin,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{label}: join {kind} namespace {path:?}: {source}", label.prefix())]
    Join {
        label: Origin,
        kind: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("linux.namespaces: make the network namespace: {source}")]
    MakeNet { source: std::io::Error },
}

impl NamespaceError {
    /// Whether the message is a config error: a path of `linux.namespaces`
    /// that cannot be opened or joined.
    pub fn is_config(&self) -> bool {
        match self {
            NamespaceError::Open { label, .. } | NamespaceError::Join { label, .. } => {
                matches!(label, Origin::Config(_))
            }
            _ => false,
        }
    }
}

/// Where a namespace to join came from, to name it in errors.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `linux.namespaces[N]`: its failures are config errors.
    Config(usize),
    /// A running container's namespace for `exec`, or keel's own.
    Other(String),
}

impl Origin {
    /// What a message about it starts with before the name, as config
    /// errors start with the file.
    fn prefix(&self) -> &'static str {
        match self {
            Origin::Config(_) => "config.json: ",
            Origin::Other(_) => "",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Config(index) => write!(f, "linux.namespaces[{index}]"),
            Origin::Other(name) => f.write_str(name),
        }
    }
}

/// One namespace to join: already opened, so a path that vanishes later or a
/// mount over it cannot change which namespace we enter.
pub struct Join {
    /// Where it came from, for errors: `linux.namespaces[2]`, or the
    /// running container for `exec`.
    pub label: Origin,
    pub kind: LinuxNamespaceType,
    pub path: PathBuf,
    pub file: File,
}

/// What the init's clone creates and what it joins afterwards.
pub struct Plan {
    pub clone_flags: libc::c_int,
    /// In the order they are entered: a user namespace first, so that the
    /// others are entered (and new ones made) with its privileges.
    pub joins: Vec<Join>,
    /// A new cgroup namespace is made by the init itself once it is in its
    /// cgroup: the namespace's root is the cgroup it is made in.
    pub unshare_cgroup: bool,
    /// A new time namespace is made by the init too: its offsets can only
    /// be written before any process is in it, and a clone would put the
    /// init there at once. The init's exec enters it.
    pub unshare_time: bool,
    /// A new network namespace is made apart from the clone (`NetNs`),
    /// when nothing needs the clone to make it: making one takes about a
    /// millisecond (loopback, per-namespace sysctls), which a thread then
    /// spends while create goes on; the init joins it.
    pub net_apart: bool,
}

impl Plan {
    /// Whether the clone makes a user namespace, whose id maps the parent
    /// writes before the init goes on.
    pub fn new_user(&self) -> bool {
        self.clone_flags & libc::CLONE_NEWUSER != 0
    }

    /// The user namespace to join, if any.
    pub fn joined_user(&self) -> Option<&Join> {
        self.joins
            .iter()
            .find(|j| j.kind == LinuxNamespaceType::User)
    }

    /// Whether the init runs in a user namespace of its own, new or joined:
    /// it then waits for the parent to write (or check) the id maps.
    pub fn user_ns(&self) -> bool {
        self.new_user() || self.joined_user().is_some()
    }

    /// Whether the namespaces to join must be entered before the clone
    /// rather than by the init: namespaces a new user namespace does not
    /// own cannot be joined from inside it, and the namespaces made with a
    /// joined user namespace must be owned by it.
    pub fn joins_before_clone(&self) -> bool {
        let joins_other = self.joins.iter().any(|j| j.kind != LinuxNamespaceType::Pid);
        self.joined_user().is_some() || (self.new_user() && joins_other)
    }
}

pub fn name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

pub fn clone_flag(kind: LinuxNamespaceType) -> libc::c_int {
    match kind {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

pub fn list(spec: &Spec) -> &[LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[])
}

/// Whether the config gives the container a namespace of `kind` (new or joined).
pub fn has(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    list(spec).iter().any(|n| n.typ() == kind)
}

/// Whether the config creates a new namespace of `kind`.
pub fn creates(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    list(spec)
        .iter()
        .any(|n| n.typ() == kind && n.path().is_none())
}

/// Open every namespace to join and collect the flags of the new ones.
pub fn plan(spec: &Spec) -> Result<Plan, NamespaceError> {
    let mut plan = Plan {
        clone_flags: 0,
        joins: Vec::new(),
        unshare_cgroup: false,
        unshare_time: false,
        net_apart: false,
    };
    for (index, ns) in list(spec).iter().enumerate() {
        match ns.path() {
            None if ns.typ() == LinuxNamespaceType::Cgroup => plan.unshare_cgroup = true,
            None if ns.typ() == LinuxNamespaceType::Time => plan.unshare_time = true,
            None => plan.clone_flags |= clone_flag(ns.typ()),
            Some(path) => {
                let label = Origin::Config(index);
                plan.joins.push(open_join(label, ns.typ(), path)?);
            }
        }
    }
    // Stable: the rest keep the config's order.
    plan.joins
        .sort_by_key(|j| j.kind != LinuxNamespaceType::User);
    if net_may_be_apart(&plan, spec) {
        plan.clone_flags &= !libc::CLONE_NEWNET;
        plan.net_apart = true;
    }
    Ok(plan)
}

/// Whether the new network namespace may be made apart from the clone.
/// Not with a user namespace, which must own it and whose maps come later;
/// not with `linux.netDevices`, which the parent moves into the init's
/// network namespace as soon as the init exists (keeping to one way).
fn net_may_be_apart(plan: &Plan, spec: &Spec) -> bool {
    let devices = crate::netdev::devices(spec).is_some();
    plan.clone_flags & libc::CLONE_NEWNET != 0 && !plan.user_ns() && !devices
}

fn open_join(label: Origin, kind: LinuxNamespaceType, path: &Path) -> Result<Join, NamespaceError> {
    let file = File::open(path).map_err(|source| NamespaceError::Open {
        label: label.clone(),
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Join {
        label,
        kind,
        path: path.to_path_buf(),
        file,
    })
}

/// The namespaces of a running process that differ from ours, in the order
/// a joining process enters them: the mount namespace last, because it
/// changes the root that later paths would resolve in.
pub fn of_process(pid: i32) -> Result<Vec<Join>, NamespaceError> {
    use std::os::unix::fs::MetadataExt;
    // The user namespace before the others: they are owned by it, and
    // only its privileges let the process enter them.
    const ORDER: [(LinuxNamespaceType, &str); 8] = [
        (LinuxNamespaceType::Pid, "pid"),
        (LinuxNamespaceType::User, "user"),
        (LinuxNamespaceType::Time, "time"),
        (LinuxNamespaceType::Ipc, "ipc"),
        (LinuxNamespaceType::Uts, "uts"),
        (LinuxNamespaceType::Network, "net"),
        (LinuxNamespaceType::Cgroup, "cgroup"),
        (LinuxNamespaceType::Mount, "mnt"),
    ];
    let mut joins = Vec::new();
    for (kind, file) in ORDER {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{file}"));
        let label = Origin::Other(format!("the container's {} namespace", name(kind)));
        let join = open_join(label, kind, &path)?;
        let theirs = join.file.metadata().map(|m| (m.dev(), m.ino())).ok();
        let ours = std::fs::metadata(format!("/proc/self/ns/{file}"))
            .map(|m| (m.dev(), m.ino()))
            .ok();
        if theirs != ours {
            joins.push(join);
        }
    }
    Ok(joins)
}

/// setns into `join`. A pid namespace is joined by the parent before the
/// clone (it only applies to children); everything else by the child.
pub fn enter(join: &Join) -> Result<(), NamespaceError> {
    let flags = nix::sched::CloneFlags::from_bits_truncate(clone_flag(join.kind));
    nix::sched::setns(join.file.as_fd(), flags).map_err(|source| NamespaceError::Join {
        label: join.label.clone(),
        kind: name(join.kind),
        path: join.path.clone(),
        source,
    })
}

/// Fork a child (with `flags` for new namespaces) that runs `child`, which
/// is expected to exec or exit; it never returns into keel. A pid namespace among `joins` is entered for the clone
/// only, since setns(CLONE_NEWPID) applies to children; keel itself stays
/// where it was.
pub fn fork_into(
    joins: &[Join],
    flags: libc::c_int,
    child: impl FnOnce(),
) -> Result<i32, NamespaceError> {
    fork_into_cgroup(joins, flags, None, child).map(|(pid, _)| pid)
}

/// `fork_into`, with the child started in the cgroup2 directory `cgroup`
/// where the kernel can (clone3 CLONE_INTO_CGROUP); the bool says whether
/// it was, else the caller must move it.
pub fn fork_into_cgroup(
    joins: &[Join],
    flags: libc::c_int,
    cgroup: Option<std::os::fd::BorrowedFd>,
    child: impl FnOnce(),
) -> Result<(i32, bool), NamespaceError> {
    let restore = |label: &str, source: std::io::Error| NamespaceError::Open {
        label: Origin::Other(label.to_string()),
        path: "/proc/self/ns/pid".into(),
        source,
    };
    let own = match joins.iter().find(|j| j.kind == LinuxNamespaceType::Pid) {
        Some(join) => {
            let own = File::open("/proc/self/ns/pid")
                .map_err(|e| restore("keel's own pid namespace", e))?;
            enter(join)?;
            Some(own)
        }
        None => None,
    };
    // SAFETY: keel is single-threaded; the child runs `child`, which ends in
    // exec or _exit.
    let (pid, placed) = match cgroup.map(|fd| unsafe { crate::cgroups::clone_into(flags, fd) }) {
        Some(Ok(pid)) => (Ok(pid), true),
        _ => (unsafe { crate::syscall::clone_fork(flags) }, false),
    };
    if let Ok(0) = pid {
        child();
        // SAFETY: a forked child must not return into the parent's code.
        unsafe { libc::_exit(1) };
    }
    if let Some(own) = own {
        nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| restore("return to keel's own pid namespace", e.into()))?;
    }
    pid.map(|pid| (pid, placed))
        .map_err(|source| NamespaceError::Clone { source })
}

/// Like `fork_into`, but every namespace in `joins` is entered first by a
/// short-lived helper, which then clones the child with `flags` and
/// CLONE_PARENT: the child is still ours (we wait for it, and its
/// PDEATHSIG follows us), yet it starts inside the joined namespaces, and
/// the ones it creates are owned by a joined user namespace.
pub fn fork_after_joins(
    joins: &[Join],
    flags: libc::c_int,
    child: impl FnOnce(),
) -> Result<i32, NamespaceError> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| NamespaceError::Clone { source: e.into() })?;
    // SAFETY: keel is single-threaded; the helper only makes syscalls and
    // _exits, and the child it clones execs or exits.
    let helper = unsafe { crate::syscall::clone_fork(0) }
        .map_err(|source| NamespaceError::Clone { source })?;
    if helper == 0 {
        drop(rx);
        let report = helper_main(joins, flags, child);
        let bytes: Vec<u8> = report.iter().flat_map(|n| n.to_ne_bytes()).collect();
        let _ = nix::unistd::write(&tx, &bytes);
        // SAFETY: the helper must not return into keel.
        unsafe { libc::_exit(0) };
    }
    drop(tx);
    let mut buf = [0u8; 12];
    let n = read_full(&rx, &mut buf);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(helper), None);
    let word = |i: usize| i32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    let lost = || std::io::Error::other("the namespace helper exited without a word");
    match (n, word(0), word(1)) {
        (12, pid, _) if pid > 0 => Ok(pid),
        (12, -1, index) if index >= 0 => {
            let join = &joins[index as usize];
            Err(NamespaceError::Join {
                label: join.label.clone(),
                kind: name(join.kind),
                path: join.path.clone(),
                source: nix::Error::from_raw(word(2)),
            })
        }
        (12, _, _) => Err(NamespaceError::Clone {
            source: std::io::Error::from_raw_os_error(word(2)),
        }),
        _ => Err(NamespaceError::Clone { source: lost() }),
    }
}

/// The helper's work: [pid, -, -] or [-1, failed join, errno] or
/// [-1, -1, errno] when the clone failed.
fn helper_main(joins: &[Join], flags: libc::c_int, child: impl FnOnce()) -> [i32; 3] {
    for (index, join) in joins.iter().enumerate() {
        let kind = nix::sched::CloneFlags::from_bits_truncate(clone_flag(join.kind));
        if let Err(e) = nix::sched::setns(join.file.as_fd(), kind) {
            return [-1, index as i32, e as i32];
        }
    }
    // SAFETY: single-threaded; the child runs `child`, which ends in exec
    // or _exit.
    match unsafe { crate::syscall::clone_fork(flags | libc::CLONE_PARENT) } {
        Ok(0) => {
            child();
            // SAFETY: a forked child must not return into the parent's code.
            unsafe { libc::_exit(1) }
        }
        Ok(pid) => [pid, 0, 0],
        Err(e) => [-1, -1, e.raw_os_error().unwrap_or(libc::EINVAL)],
    }
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
    }
    got
}

/// The network namespace of `Plan::net_apart`, made by a thread of ours
/// while create makes the cgroup and the rest; the init joins it.
pub struct NetNs(Option<std::thread::JoinHandle<std::io::Result<OwnedFd>>>);

impl NetNs {
    pub fn start(wanted: bool) -> Result<NetNs, NamespaceError> {
        if !wanted {
            return Ok(NetNs(None));
        }
        let thread = std::thread::Builder::new().name("netns".into()).spawn(|| {
            // Signals sent to keel are the main thread's to take (run
            // forwards them through a signalfd).
            let all = nix::sys::signal::SigSet::all();
            let _ = all.thread_block();
            // unshare moves only this thread; the fd keeps the namespace.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
            Ok(File::open("/proc/thread-self/ns/net")?.into())
        });
        let handle = thread.map_err(|source| NamespaceError::MakeNet { source })?;
        Ok(NetNs(Some(handle)))
    }

    /// The namespace, once the thread is done. Every fork of ours comes
    /// after this: a child made by a raw clone while another thread held
    /// a lock (malloc's) would inherit the lock held forever.
    pub fn join(self) -> Result<Option<OwnedFd>, NamespaceError> {
        let Some(handle) = self.0 else {
            return Ok(None);
        };
        let made = handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the thread making it panicked")));
        made.map(Some)
            .map_err(|source| NamespaceError::MakeNet { source })
    }
}

#[cfg(test)]
mod tests {
    fn plan_of(linux: &str) -> super::Plan {
        let doc = format!(r#"{{"ociVersion": "1.0.2", "linux": {linux}}}"#);
        let spec: oci_spec::runtime::Spec = serde_json::from_str(&doc).unwrap();
        super::plan(&spec).unwrap()
    }

    #[test]
    fn a_namespace_of_the_config_is_a_config_error_and_others_are_not() {
        use super::{NamespaceError, Origin};
        let join = |label| NamespaceError::Join {
            label,
            kind: "uts",
            path: "/x".into(),
            source: nix::Error::EINVAL,
        };
        let tail = "join uts namespace \"/x\": EINVAL: Invalid argument";
        let config = join(Origin::Config(3));
        assert_eq!(
            config.to_string(),
            format!("config.json: linux.namespaces[3]: {tail}")
        );
        assert!(config.is_config());
        let own = join(Origin::Other("keel's own uts namespace".into()));
        assert_eq!(own.to_string(), format!("keel's own uts namespace: {tail}"));
        assert!(!own.is_config());
    }

    #[test]
    fn a_thread_makes_the_network_namespace_when_nothing_needs_it_at_the_clone() {
        let plan = plan_of(r#"{"namespaces": [{"type": "pid"}, {"type": "network"}]}"#);
        assert!(plan.net_apart);
        assert_eq!(plan.clone_flags, libc::CLONE_NEWPID);
    }

    #[test]
    fn a_user_namespace_or_net_devices_keep_the_network_namespace_in_the_clone() {
        let with_user = plan_of(r#"{"namespaces": [{"type": "user"}, {"type": "network"}]}"#);
        assert!(!with_user.net_apart);
        assert_ne!(with_user.clone_flags & libc::CLONE_NEWNET, 0);
        let with_devices =
            plan_of(r#"{"namespaces": [{"type": "network"}], "netDevices": {"eth7": {}}}"#);
        assert!(!with_devices.net_apart);
        assert_ne!(with_devices.clone_flags & libc::CLONE_NEWNET, 0);
        let without = plan_of(r#"{"namespaces": [{"type": "pid"}]}"#);
        assert!(!without.net_apart);
    }
}
