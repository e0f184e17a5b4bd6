//! Starting the kernel's wait for a v1 `cgroup.procs` write early.
//!
//! Every move of a process between cgroups takes a global lock whose
//! writers first wait for an RCU grace period (`cgroup_threadgroup_rwsem`,
//! through rcu_sync): 5-17 ms on this kind of host, the longest wait of a
//! create on a v1 or hybrid host. Writers that arrive while one grace
//! period is running share it, and for one more grace period after the
//! last writer leaves, new writers do not wait at all.
//!
//! So `create` starts that grace period at its very beginning: a short-lived
//! child writes itself into the cgroup it already is in (a no-op for the
//! cgroup tree, but a writer all the same) and exits. The grace period then
//! runs while keel loads and checks the config and claims the state
//! directory. The child holds the cgroup mutex while it waits, so making
//! the container's cgroup waits for what is left of the period; placing
//! the init after the clone then waits for nothing, and the init no longer
//! idles before its cgroup mounts. On a pure v2 host there is nothing to
//! start: `CLONE_INTO_CGROUP` places the init without a move.
//!
//! Measured with hack/bench.sh on the hybrid host: `create` went from
//! 17.1 ms to 12.0 ms (median of 25), for one fork of about 0.2 ms.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::layout::Layout;

/// The child that started the grace period; reaped when dropped (it is
/// done once the init is placed, since both waited for the same period).
pub struct EarlyGrace(libc::pid_t);

impl EarlyGrace {
    /// Start the grace period if this call may move a process in a v1
    /// hierarchy: as root, on a host that has one. `None` when there is
    /// nothing to gain or the child cannot be made (create then simply
    /// waits at placement, as without this).
    pub fn start() -> Option<EarlyGrace> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let layout = Layout::detect().ok()?;
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let procs = own_procs_file(&layout, &own)?;
        let path = CString::new(procs.as_os_str().as_bytes()).ok()?;
        // SAFETY: keel is single-threaded here; the child makes only
        // async-signal-safe calls and never returns into keel.
        let pid = unsafe { crate::syscall::clone_fork_quiet() }.ok()?;
        if pid == 0 {
            // SAFETY: plain calls on a valid C string, then _exit. "0" is
            // the writer itself, moved to the cgroup it is in.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, c"0".as_ptr().cast(), 1);
                }
                libc::_exit(0);
            }
        }
        Some(EarlyGrace(pid))
    }
}

impl Drop for EarlyGrace {
    fn drop(&mut self) {
        use nix::sys::wait::{waitpid, WaitPidFlag};
        let pid = nix::unistd::Pid::from_raw(self.0);
        while let Err(nix::errno::Errno::EINTR) = waitpid(pid, Some(WaitPidFlag::__WALL)) {}
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
        let mut names: Vec<&str> = controllers.split(',').collect();
        names.sort_unstable();
        let Some(h) = layout.v1.iter().find(|h| h.controllers == names) else {
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
