//! Starting the kernel's wait for a v1 `cgroup.procs` write early.
//!
//! Only on kernels before 6.5: from then on the new process joins its v1
//! cgroups itself, without the wait (`self_join`).
//!
//! Every move of a process between cgroups takes a global lock whose
//! writers first wait for an RCU grace period (`cgroup_threadgroup_rwsem`,
//! through rcu_sync): 5-17 ms on this kind of host, the longest wait of a
//! create on a v1 or hybrid host. Writers that arrive while one grace
//! period is running share it, and for one more grace period after the
//! last writer leaves, new writers do not wait at all.
//!
//! So `exec` starts that grace period at its very beginning: a thread
//! writes keel into the cgroup it already is in (a no-op for the cgroup
//! tree, but a writer all the same). The grace period then runs while keel
//! reads the state, builds the process and compiles its seccomp filter.
//! The writer holds the cgroup mutex while it waits, and a fork waits for
//! it too, so `finish` joins the thread before the fork: placing the new
//! process then waits for nothing. A thread rather than a child process,
//! so that nothing of keel's outlives it when it is killed (its exit waits
//! for the thread), and joined before anything forks, so that the fork
//! copies a single-threaded keel. On a pure v2 host there is nothing to
//! start: `CLONE_INTO_CGROUP` places the process without a move.
//!
//! `create` does not use it: its init is cloned before the grace period
//! starts (with the placement), and mounts the rootfs and makes the devices
//! while it runs (see process::init), which is more than `create` has to do
//! before the clone. Measured with hack/bench.sh on the hybrid host: this
//! early start took `create` from 17.1 to 11.6 ms; overlapping the init's
//! work instead took it to 9.5 ms (medians of 30).

use std::path::PathBuf;
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::layout::Layout;

/// The writer this keel call started, if any.
static WRITER: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Start the grace period if this call may move a process in a v1
/// hierarchy: as root, on a host that has one. Nothing happens when there
/// is nothing to gain or the thread cannot be made (exec then waits at the
/// new process's placement, as without this).
pub fn start() {
    // A pure cgroup2 host has no v1 hierarchy to find (and its exec joins
    // the container's cgroup with CLONE_INTO_CGROUP): skip reading the
    // mount table.
    // Nor where the new process joins its v1 cgroups itself without the
    // wait (`TaskFiles`): a grace period started here would only be one
    // exec has to wait for before it forks.
    if !nix::unistd::geteuid().is_root()
        || super::fs::is_cgroup2_root()
        || super::self_join::supported()
    {
        return;
    }
    let Ok(layout) = Layout::detect() else {
        return;
    };
    let Ok(own) = crate::procfs::read::text("/proc/self/cgroup") else {
        return;
    };
    let Some(procs) = own_procs_file(&layout, &own) else {
        return;
    };
    // "0" is the writer's own thread group: keel, moved to where it is.
    let writer = std::thread::Builder::new()
        .name("grace".into())
        .spawn(move || {
            // Signals sent to keel must reach the main thread, which may be
            // about to take them through a signalfd (exec and run do).
            let _ = nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_BLOCK,
                Some(&nix::sys::signal::SigSet::all()),
                None,
            );
            drop(std::fs::write(procs, "0"))
        });
    if let (Ok(handle), Ok(mut slot)) = (writer, WRITER.lock()) {
        *slot = Some(handle);
    }
}

/// Wait for the writer `start` made, if any: before anything forks or
/// re-executes keel.
pub fn finish() {
    let handle = WRITER.lock().ok().and_then(|mut slot| slot.take());
    if let Some(handle) = handle {
        let _ = handle.join();
    }
}

/// The `cgroup.procs` of our own cgroup in a v1 hierarchy, preferring one
/// where that is the hierarchy's root: writing there touches no cgroup a
/// host's management may have made. `own` is /proc/self/cgroup.
pub fn own_procs_file(layout: &Layout, own: &str) -> Option<PathBuf> {
    let mut found = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let Some(h) = layout.v1_of_line(controllers) else {
            continue;
        };
        let Ok(rel) = std::path::Path::new(path).strip_prefix(&h.root) else {
            continue;
        };
        let file = h.mount_point.join(rel).join("cgroup.procs");
        if rel.as_os_str().is_empty() {
            return Some(file);
        }
        found.get_or_insert(file);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Hierarchy;

    fn v1(controllers: &[&str], mount: &str) -> Hierarchy {
        Hierarchy {
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            mount_point: mount.into(),
            root: "/".into(),
        }
    }

    fn layout() -> Layout {
        Layout {
            v1: vec![
                v1(&["memory"], "/sys/fs/cgroup/memory"),
                v1(&["cpu", "cpuacct"], "/sys/fs/cgroup/cpu,cpuacct"),
                v1(&["pids"], "/sys/fs/cgroup/pids"),
            ],
            unified: None,
        }
    }

    #[test]
    fn a_hierarchy_where_we_are_at_the_root_is_preferred() {
        let own = "4:memory:/process_api/abc\n3:cpuacct,cpu:/user.slice\n2:pids:/\n0::/\n";
        assert_eq!(
            own_procs_file(&layout(), own),
            Some("/sys/fs/cgroup/pids/cgroup.procs".into())
        );
    }

    #[test]
    fn otherwise_our_own_cgroup_in_the_first_hierarchy() {
        let own = "3:cpuacct,cpu:/user.slice\n2:pids:/user.slice/x\n";
        assert_eq!(
            own_procs_file(&layout(), own),
            Some("/sys/fs/cgroup/cpu,cpuacct/user.slice/cgroup.procs".into())
        );
    }

    #[test]
    fn nothing_on_a_pure_v2_host() {
        let v2 = Layout {
            v1: vec![],
            unified: None,
        };
        assert_eq!(own_procs_file(&v2, "0::/user.slice\n"), None);
    }
}
