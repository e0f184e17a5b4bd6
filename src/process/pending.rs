//! The create in progress: what it has made so far, undone if it does not
//! finish, and the state it records at each step so that a crash leaves
//! something `delete --force` can act on.

use super::parent::{CreateError, CreateOptions, Created};
use crate::cgroups::{self, Cgroup, CgroupError, TaskFiles};
use crate::namespaces;
use crate::state::{self, Container, State};
use oci_spec::runtime::LinuxNamespaceType;
use std::path::Path;

/// Undo a create that did not finish: kill the init, run nothing else, and
/// remove the state directory. Disarmed by `finish`.
pub(super) struct Pending {
    id: String,
    container: Option<Container>,
    pid: i32,
    pub(super) cgroup: Option<Cgroup>,
    netdevs: Option<crate::netdev::Moved>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Before the kill: the host gets its devices back whichever
        // namespace they are in (one joined by path would keep them).
        if let Some(moved) = self.netdevs.take() {
            moved.undo();
        }
        if self.pid > 0 {
            let pid = nix::unistd::Pid::from_raw(self.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.remove();
        }
        let Some(c) = self.container.take() else {
            return;
        };
        // Without the record, nothing could find the mount again.
        if let Err(e) = crate::rootfs::release_runtime_ns_bind(&c) {
            crate::logging::warn(&format!(
                "container {}: {e}; its state is kept for `delete --force`",
                self.id
            ));
            return;
        }
        let _ = c.remove();
    }
}

impl Pending {
    /// Claim the id (the state directory is the claim) and make the fifo.
    pub(super) fn claim(opts: &CreateOptions) -> Result<Pending, CreateError> {
        let container = state::create_dir(opts.root, opts.id)?;
        let pending = Pending {
            id: opts.id.to_string(),
            container: Some(container),
            pid: 0,
            cgroup: None,
            netdevs: None,
        };
        make_fifo(&pending.container().fifo())?;
        Ok(pending)
    }

    pub(super) fn container(&self) -> &Container {
        self.container
            .as_ref()
            .expect("pending holds the container until finish")
    }

    /// Make the container's cgroup with its limits, before any process
    /// exists, so a bad limit fails create with nothing to kill. The cgroup
    /// record names it first, so that even a crash here leaves something
    /// `delete --force` can find; state.json is first written once the init
    /// exists (`record_init`), while the init works, as a file written here
    /// would delay the clone (0.1 ms on a disk-backed /run).
    pub(super) fn make_cgroup(
        &mut self,
        st: &mut State,
        opts: &CreateOptions,
    ) -> Result<(), CreateError> {
        let spec = &opts.bundle.spec;
        let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let cgroup = Cgroup::for_container(path.as_deref(), opts.id)?;
        st.cgroup = Some(cgroup.clone());
        // Apart from the state: a damaged state.json cannot name it.
        let c = self.container();
        c.save_record(state::CGROUP_RECORD, &st.cgroup)?;
        if let Err(e) = cgroup.create(Some(&cgroups::container_resources(spec))) {
            skip_cgroup(st, opts, e)?;
            return Ok(c.save_record(state::CGROUP_RECORD, &st.cgroup)?);
        }
        let (path, kind) = (cgroup.path().display(), cgroup.kind());
        crate::logging::debug(&format!(
            "container {}: cgroup {path} ({kind:?} host)",
            opts.id
        ));
        self.cgroup = Some(cgroup);
        Ok(())
    }

    /// A container sharing the runtime's mount namespace gets its rootfs
    /// bound there now, before the init exists (see rootfs::shared_ns);
    /// the record of it is in the state directory before it is attached.
    pub(super) fn bind_rootfs(&self, opts: &CreateOptions) -> Result<(), CreateError> {
        let spec = &opts.bundle.spec;
        if !crate::rootfs::shares_runtime_ns(spec) {
            return Ok(());
        }
        crate::rootfs::bind_in_runtime_ns(spec, &opts.bundle.rootfs, self.container())?;
        crate::logging::debug(&format!(
            "container {}: rootfs bound in the runtime's mount namespace",
            opts.id
        ));
        Ok(())
    }

    /// Move the init into its cgroup. It is still building its rootfs, so
    /// the kernel's wait on a v1 cgroup.procs write overlaps that work, and
    /// it runs no code of the container's before this is done.
    /// `in_unified`: clone3 already started it in the cgroup2 directory.
    pub(super) fn place_init(
        &self,
        pid: i32,
        in_unified: bool,
        v1_joined: bool,
    ) -> Result<(), CreateError> {
        match &self.cgroup {
            Some(cgroup) => Ok(cgroup.add_after_clone(pid, in_unified, v1_joined)?),
            None => Ok(()),
        }
    }

    /// The `tasks` files the init joins its v1 cgroups through
    /// (`cgroups::TaskFiles`), if it does.
    pub(super) fn task_files(&self) -> Result<TaskFiles, CreateError> {
        match &self.cgroup {
            Some(cgroup) => Ok(TaskFiles::open(cgroup)?),
            None => Ok(TaskFiles::default()),
        }
    }

    /// Move `linux.netDevices` into the init's network namespace; from
    /// now on a failed create moves them back.
    pub(super) fn move_netdevs(
        &mut self,
        spec: &oci_spec::runtime::Spec,
        pid: i32,
    ) -> Result<(), CreateError> {
        self.netdevs = crate::netdev::move_all(spec, pid)?;
        Ok(())
    }

    /// From now on a failed create kills the init.
    pub(super) fn adopt_init(&mut self, pid: i32) {
        self.pid = pid;
    }

    /// Record the init in the state, so a crash from here on leaves a state
    /// that `delete --force` can act on.
    pub(super) fn record_init(&mut self, st: &mut State, pid: i32) -> Result<(), CreateError> {
        crate::logging::debug(&format!("container {}: init cloned as pid {pid}", st.id));
        st.pid = pid;
        st.pid_start_time = state::proc_start_time(pid).map(|(t, _)| t).unwrap_or(0);
        Ok(self.container().save(st)?)
    }

    /// Mark the container created, write the pid file, and disarm.
    pub(super) fn finish(
        mut self,
        opts: &CreateOptions,
        mut st: State,
    ) -> Result<Created, CreateError> {
        st.created_done = true;
        self.container().save(&st)?;
        if let Some(path) = opts.pid_file {
            state::write_atomic(path, st.pid.to_string().as_bytes()).map_err(|source| {
                CreateError::PidFile {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
        crate::logging::debug(&format!("container {}: created", opts.id));
        self.pid = 0;
        self.cgroup = None;
        self.netdevs = None;
        let container = self
            .container
            .take()
            .expect("pending holds the container until finish");
        Ok(Created {
            container,
            state: st,
        })
    }
}

/// Rootless, as runc does: without a delegated cgroup the container stays
/// in the caller's, which is fine unless the config asks for limits.
fn skip_cgroup(st: &mut State, opts: &CreateOptions, e: CgroupError) -> Result<(), CreateError> {
    let spec = &opts.bundle.spec;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    if !opts.rootless || resources.is_some_and(sets_limits) {
        if opts.rootless {
            return Err(CreateError::RootlessLimits(e));
        }
        return Err(e.into());
    }
    crate::logging::debug(&format!("container {}: rootless, no cgroup ({e})", opts.id));
    st.cgroup = None;
    Ok(())
}

/// Whether `r` asks for any limit (device rules are not limits: a rootless
/// container cannot have them enforced and runc ignores them there).
fn sets_limits(r: &oci_spec::runtime::LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
}

pub(super) fn initial_state(opts: &CreateOptions) -> State {
    let spec = &opts.bundle.spec;
    let linux = spec.linux().as_ref();
    State {
        oci_version: spec.version().clone(),
        id: opts.id.to_string(),
        pid: 0,
        pid_start_time: 0,
        bundle: opts.bundle.dir.clone(),
        rootfs: opts.bundle.rootfs.clone(),
        created: crate::logging::rfc3339(std::time::SystemTime::now(), true),
        created_done: false,
        annotations: spec.annotations().clone().unwrap_or_default(),
        hooks: spec.hooks().clone(),
        own_pid_ns: namespaces::creates(spec, LinuxNamespaceType::Pid),
        process: spec.process().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        cgroup: None,
        personality: linux.and_then(|l| l.personality().clone()),
        memory_policy: linux.and_then(|l| l.memory_policy().clone()),
    }
}

fn make_fifo(path: &Path) -> Result<(), CreateError> {
    use nix::sys::stat::Mode;
    // 0622 so an init that switched to an unprivileged uid can still open it
    // for writing; umask would strip the group/other bits.
    let old = nix::sys::stat::umask(Mode::empty());
    let res = nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622));
    nix::sys::stat::umask(old);
    res.map_err(|source| CreateError::Fifo {
        path: path.to_path_buf(),
        source,
    })
}
