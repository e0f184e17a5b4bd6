//! Settings of the process keel finally execs, shared by the container's
//! init (`create`) and by processes joining a container (`exec`).

use crate::capabilities::{self, CapError, CapsHashSet};
use crate::console::{self, ConsoleError};
use crate::identity::{self, IdentityError};
use crate::procfs::{ProcError, ProcRoot};
use crate::rlimits::{self, RlimitError};
use oci_spec::runtime::Process;
use std::cell::OnceCell;
use std::os::fd::OwnedFd;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Caps(#[from] CapError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Rlimit(#[from] RlimitError),
    #[error("process.oomScoreAdj: {0}")]
    OomScoreAdj(ProcError),
    #[error(transparent)]
    Attribute(#[from] super::attributes::AttributeError),
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        source: std::io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> SettingsError {
    move |source| SettingsError::Sys { what, source }
}

/// `run` blocks signals to forward them; the container starts with none
/// blocked and default dispositions. exec resets handled signals by itself
/// but keeps ignored ones: Rust ignores SIGPIPE, a caller may have ignored
/// others (nohup), and glibc's posix_spawn, which Rust's Command uses,
/// leaves its own real-time signals 32 and 33 ignored in the program it
/// starts. The ignored ones, as /proc/self/status lists them, are set back
/// (all of them if it cannot be read): one read instead of a sigaction for
/// each signal.
pub fn unblock_signals() {
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    let ignored = crate::procfs::read::text("/proc/self/status")
        .ok()
        .and_then(|s| crate::procfs::status_mask(&s, "SigIgn:"))
        .unwrap_or(u64::MAX);
    for sig in 1..=64 {
        if ignored & (1 << (sig - 1)) != 0 && sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = crate::syscall::default_signal(sig);
        }
    }
}

/// The console socket of a process with a terminal: an already connected
/// one keel made (foreground relay), or `--console-socket`, connected now,
/// before the host path is out of reach.
pub fn console_socket(
    process: &Process,
    path: Option<&std::path::Path>,
    fd: Option<std::os::fd::RawFd>,
) -> Result<Option<OwnedFd>, SettingsError> {
    if !process.terminal().unwrap_or(false) {
        return Ok(None);
    }
    if let Some(fd) = fd {
        // SAFETY: the caller keeps this fd open while the child starts.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let dup = nix::unistd::dup(borrowed).map_err(|e| sys("dup console socket")(e.into()))?;
        return Ok(Some(dup));
    }
    path.map(console::connect_socket)
        .transpose()
        .map_err(Into::into)
}

/// A pty whose slave becomes our controlling terminal and stdio, and whose
/// master goes to `socket`. The init also binds the slave on /dev/console.
pub fn terminal(
    socket: OwnedFd,
    process: &Process,
    bind_console: bool,
) -> Result<(), SettingsError> {
    let size = process
        .console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16));
    let pty = console::setup_pty(size)?;
    // The slave is made owned by whoever opened ptmx (root, or in a user
    // namespace the mapped root); the process's own user must own its
    // terminal, as with runc, whatever host uid that maps to.
    let uid = process.user().uid();
    nix::unistd::fchown(&pty.slave, Some(nix::unistd::Uid::from_raw(uid)), None)
        .map_err(|e| sys("process.user.uid: chown the pty slave")(e.into()))?;
    if bind_console {
        console::bind_console(&pty.slave_path)?;
    }
    console::make_controlling(&pty.slave)?;
    console::send_master(&socket, &pty.master, &pty.slave_path.to_string_lossy())?;
    Ok(())
}

/// The verified procfs the process's own writes into /proc (oom_score_adj,
/// the LSM labels) go through, never the container's "/proc" path.
pub enum ProcSource<'a> {
    /// The init's, opened for its other writes.
    Open(&'a ProcRoot),
    /// `exec`'s: opened by the first write and shared with the next, so an
    /// exec that writes nothing there makes no procfs.
    OnFirstUse(OnceCell<ProcRoot>),
}

impl ProcSource<'_> {
    pub fn on_first_use() -> Self {
        ProcSource::OnFirstUse(OnceCell::new())
    }

    fn get(&self) -> Result<&ProcRoot, ProcError> {
        match self {
            ProcSource::Open(proc) => Ok(proc),
            ProcSource::OnFirstUse(cell) => match cell.get() {
                Some(proc) => Ok(proc),
                None => {
                    let opened = ProcRoot::open()?;
                    Ok(cell.get_or_init(|| opened))
                }
            },
        }
    }
}

/// Limits of the process: oom_score_adj (through `proc`), rlimits, and
/// the scheduling attributes.
pub fn apply_limits(process: &Process, proc: &ProcSource) -> Result<(), SettingsError> {
    if let Some(adj) = process.oom_score_adj() {
        proc.get()
            .and_then(|p| p.write_self("oom_score_adj", &adj.to_string()))
            .map_err(SettingsError::OomScoreAdj)?;
    }
    if let Some(list) = process.rlimits() {
        rlimits::apply(list)?;
    }
    // While CAP_SYS_NICE (negative nice, real-time classes) is still held.
    super::attributes::apply(process)?;
    Ok(())
}

/// The AppArmor profile and SELinux label the process takes on at its
/// execve, written through `proc`. This comes before any seccomp filter,
/// so a profile need not allow keel's openat2, fstatfs and write, and
/// before the user switch, as runc's init does; the labels only take
/// effect at exec, so nothing keel does until then runs confined, except
/// startContainer hooks, which the init spawns and which then run under
/// the container's labels, as with runc.
pub fn exec_labels(process: &Process, proc: &ProcSource) -> Result<(), SettingsError> {
    let labels = crate::lsm::Labels::of(process);
    if labels.is_empty() {
        return Ok(());
    }
    let proc = proc.get().map_err(crate::lsm::LsmError::from)?;
    Ok(crate::lsm::apply_exec_labels(proc, &labels)?)
}

/// Bounding set while we still hold CAP_SETPCAP, then the ids, then the
/// other sets. Without process.capabilities the sets are left as they are.
/// `grantable`: `capabilities::grantable`, as the parent read it.
pub fn switch_user(process: &Process, grantable: &CapsHashSet) -> Result<(), SettingsError> {
    let caps = process.capabilities().as_ref();
    if let Some(caps) = caps {
        capabilities::drop_bounding(caps, grantable)?;
    }
    identity::switch(process.user())?;
    identity::apply_umask(process.user());
    if let Some(caps) = caps {
        capabilities::apply(caps, grantable)?;
    }
    Ok(())
}

pub fn no_new_privs(process: &Process) -> Result<(), SettingsError> {
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| sys("process.noNewPrivileges")(e.into()))?;
    }
    Ok(())
}

/// fds 3..3+N stay open across exec; every other fd of ours closes at exec.
pub fn pass_fds(count: u32) -> Result<(), SettingsError> {
    for fd in 3..3 + count as i32 {
        // SAFETY: clearing FD_CLOEXEC on an fd the caller handed us.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    crate::syscall::cloexec_from(3 + count).map_err(sys("mark keel's fds close-on-exec"))
}

/// Load the seccomp filter at `stage`: without no_new_privs loading needs
/// CAP_SYS_ADMIN, so it happens before the user switch drops it; with
/// no_new_privs, as late as possible, after it. Returns the listener fd of
/// a filter with SCMP_ACT_NOTIFY.
pub fn load_seccomp(
    filter: Option<&crate::seccomp::Filter>,
    process: &Process,
    stage: SeccompStage,
) -> Result<Option<OwnedFd>, SettingsError> {
    let nnp = process.no_new_privileges().unwrap_or(false);
    match (filter, stage) {
        (Some(f), SeccompStage::BeforeUserSwitch) if !nnp => Ok(crate::seccomp::load(f)?),
        (Some(f), SeccompStage::AfterNoNewPrivs) if nnp => Ok(crate::seccomp::load(f)?),
        _ => Ok(None),
    }
}

#[derive(Clone, Copy)]
pub enum SeccompStage {
    BeforeUserSwitch,
    AfterNoNewPrivs,
}

#[cfg(test)]
mod tests {
    use super::ProcSource;

    #[test]
    fn a_procfs_opened_on_first_use_is_shared_by_the_next() {
        let proc = ProcSource::on_first_use();
        let first: *const _ = proc.get().unwrap();
        let second: *const _ = proc.get().unwrap();
        assert_eq!(first, second);
    }
}
