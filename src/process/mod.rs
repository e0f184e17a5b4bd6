//! The create-time process chain: how `keel create` builds a container.
//!
//! Two processes take part. `keel create` (the *parent*) forks the container
//! *init* with one `clone` that creates the new namespaces (except the
//! cgroup and time ones, which the init makes later, and a network one a
//! thread of the parent makes while the parent makes the cgroup); the
//! init is a fork, not a re-exec, of keel, so no binary is copied or run
//! again. Two typed channels (SOCK_SEQPACKET socketpairs) connect them, and
//! the exec fifo in the state directory carries `start`.
//!
//! ```text
//!  keel create (parent)                         container init (child)
//!  ────────────────────                         ──────────────────────
//!  validate config, claim state dir (lock)
//!  mkfifo <state>/exec.fifo
//!  open namespaces to join
//!  a new network namespace that no user ns
//!  or netDevices tie to the clone: a thread
//!  makes it meanwhile (about a millisecond)
//!  compile seccomp
//!  make cgroup + limits
//!  no mount namespace: record, then bind the
//!  rootfs onto itself in ours (rootfs::shared_ns)
//!  connect --console-socket
//!  join the thread (no thread of ours may run
//!  when we fork)
//!  idmapped mounts with mappings of their
//!  own: a user namespace holding each (a
//!  short-lived child, maps written, ns kept)
//!  open exec fifo (O_PATH); setns(pid) if joined
//!  Linux 6.5+: open the v1 cgroups' `tasks`
//!  clone(CLONE_NEW* | SIGCHLD) ───────────────▶ die with parent (PDEATHSIG)
//!   (with a joined user namespace, or a new    not dumpable (a non-root caller:
//!   one and other joins: a helper setns's       only once mapped)
//!   into them all, user first, then clones     write "0" to each `tasks`: joins the
//!   the init with CLONE_PARENT; cgroup2:        v1 cgroups without the kernel's
//!   clone3 CLONE_INTO_CGROUP)                   grace period (cgroups::TaskFiles)
//!  new user ns: write setgroups (non-root,
//!  own id only), uid_map, gid_map, directly
//!  or with newuidmap/newgidmap (through a
//!  verified procfs); joined user ns: the
//!  config's maps must equal /proc/<init>/
//!  uid_map, gid_map (else fail)
//!                      ───── Mapped ──────────▶ (any user ns: waits for it)
//!                                               setns into joined namespaces, and into
//!                                               the new network namespace made apart
//!                                               (a new time namespace: unshare, write
//!                                               timens_offsets; exec enters it)
//!                                               setresuid/gid(0): root of the user ns
//!                                               propagation, rootfs bound on itself;
//!                                               idmapped mounts: open_tree(CLONE) of
//!                                               each source, here (same locks as a bind)
//!                      ◀─── IdmapTrees(fds) ─── (only with idmapped mounts)
//!  pidfd_getfd each; mount_setattr(IDMAP)
//!  with the mount's user namespace, else
//!  the init's (the kernel wants host root)
//!                      ──── TreesMapped ──────▶
//!  put the init in its cgroup where it is not  config mounts (idmapped trees attached
//!  yet (before 6.5 the first v1 cgroup.procs    by move_mount; cgroup mounts bind the
//!  write waits 6-20 ms for a grace period,      cgroups the parent is placing us in; a
//!  which the init's work overlaps)              new cgroup namespace: wait for Placed
//!                      ───── Placed ──────────▶ first, then unshare), devices (bound from
//!  record pid + start time (state: creating)    the host in a user namespace)
//!                                               with hooks: wait for Placed, then
//!                      ◀──── MountsReady ────── (only with prestart, createRuntime
//!  prestart, createRuntime hooks (host ns)       or createContainer hooks)
//!                      ───── HooksDone ───────▶ createContainer hooks
//!                                               pivot_root (chroot without a mount ns)
//!                                               pty (owned by process.user) → socket
//!                                               masked/readonly paths, sysctl,
//!                                               hostname, keyring
//!                                               wait for Placed (if not yet), then
//!                                               rlimits, LSM labels (for exec), user,
//!                                               caps, cwd, resolve executable, seccomp
//!                      ◀── SeccompListener(fd) ─ (only with SCMP_ACT_NOTIFY)
//!  pidfd_getfd; send it to listenerPath
//!                      ─── ListenerSent ──────▶
//!                      ◀──── Created ────────── keep running after parent exits
//!  state: created; write pid file; exit         open(exec.fifo, O_WRONLY) blocks
//!
//!  keel start                                   
//!  ──────────
//!  open(exec.fifo, O_RDONLY|O_NONBLOCK) ──────▶ open returns
//!                      ◀──── "S" ────────────── startContainer hooks
//!                                               execve(process.args)
//!  EOF (fifo closed by exec) = started;         
//!  bytes after "S" = why it failed
//!  unlink fifo; poststart hooks
//! ```
//!
//! Any failure in the init is sent as `Failed` with the step and the cause,
//! and `create` reports it, kills the init and removes the state directory;
//! if the init dies without a word, the channel reads end-of-file. If the
//! parent dies mid-create, the init dies with it (PDEATHSIG), and what is
//! left is a state directory that `delete --force` removes (with the
//! rootfs bind of a container without a mount namespace, recorded there).

pub mod attributes;
mod channel;
mod checks;
pub mod fifo;
mod init;
pub mod join;
pub mod linux_attrs;
mod parent;
mod pending;
mod settings;

pub use parent::{create, run_poststop, CreateOptions, Created};

use serde::{Deserialize, Serialize};

/// Init → parent.
#[derive(Debug, Serialize, Deserialize)]
enum InitMsg {
    /// The rootfs is mounted; the runtime-namespace hooks may run now.
    MountsReady,
    /// Everything is set up; the init now waits on the exec fifo.
    Created,
    /// A step failed; the init exits after sending this.
    Failed(String),
    /// A createContainer hook failed: like Failed, but poststop hooks run.
    HookFailed(String),
    /// The seccomp filter has a listener (SCMP_ACT_NOTIFY): its fd number
    /// in the init, for the parent to fetch and hand to the agent.
    SeccompListener(i32),
    /// The detached trees of the idmapped mounts, cloned in the init's
    /// mount namespace: (mount index, fd number in the init), for the
    /// parent to fetch and give their mappings.
    IdmapTrees(Vec<(usize, i32)>),
}

/// Parent → init.
#[derive(Debug, Serialize, Deserialize)]
enum ParentMsg {
    /// The new user namespace's uid_map and gid_map are written.
    Mapped,
    /// The idmapped mounts' trees have their mappings.
    TreesMapped,
    /// The init is in its cgroup.
    Placed,
    /// prestart and createRuntime hooks have run.
    HooksDone,
    /// The seccomp agent has the listener; the init may close its copy.
    ListenerSent,
}

/// Whether create stops between the mounts and pivot_root for hooks
/// (prestart and createRuntime in the parent, createContainer in the init,
/// runtime.md). Without any, both sides skip the MountsReady/HooksDone
/// exchange, and the init goes on to pivot_root and the masked paths while
/// the parent may still be placing it in its cgroup.
fn hooks_around_mounts(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        [h.prestart(), h.create_runtime(), h.create_container()]
            .iter()
            .any(|list| list.as_ref().is_some_and(|l| !l.is_empty()))
    })
}

/// The state document hooks read on stdin (runtime.md "State"). A stopped
/// container has no pid: the spec requires one only while it lives.
pub fn hook_state(state: &crate::state::State, status: &str, pid: i32) -> String {
    let mut doc = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": state.id,
        "status": status,
        "bundle": state.bundle,
        "annotations": state.annotations,
    });
    if status != "stopped" {
        doc["pid"] = pid.into();
    }
    doc.to_string()
}
