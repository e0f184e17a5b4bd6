//! A new process joining its v1 cgroups itself, without the kernel's wait.
//!
//! Moving a process by writing its pid to `cgroup.procs` takes a global
//! lock (`cgroup_threadgroup_rwsem`) whose writers first wait for an RCU
//! grace period when none passed lately: 5-20 ms on this kind of host, the
//! longest wait of a create on a v1 or hybrid host, and every runtime pays
//! it. A thread that writes "0" (itself) to a v1 `tasks` file moves only
//! itself, and the kernel's "cgroup: Optimize single thread migration"
//! (9a3284fad42f, in mainline before 6.5; keel relies on it from 6.5 on)
//! skips that lock for it: 0.02 ms. The init (and an exec'd process) is
//! single-threaded when it does, so that moves the whole process.
//!
//! The parent opens the files before the fork (the kernel checks a write
//! against the credentials the file was opened with, so a child in a user
//! namespace can use them) and the child writes to each first thing. On an
//! older kernel the same write would wait inside the child, before its
//! work rather than alongside it, so there the parent places the child
//! with `cgroup.procs` as before (`TaskFiles` is then empty).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::{Cgroup, CgroupError};

/// The `tasks` files of a container's v1 cgroups, open for writing; empty
/// where the child cannot join faster than the parent could place it.
#[derive(Debug, Default)]
pub struct TaskFiles(Vec<(PathBuf, OwnedFd)>);

impl TaskFiles {
    pub fn open(cgroup: &Cgroup) -> Result<TaskFiles, CgroupError> {
        if !supported() {
            return Ok(TaskFiles::default());
        }
        let mut files = Vec::new();
        for dir in cgroup.v1_dirs()? {
            let path = dir.join("tasks");
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|err| CgroupError::JoinSelf {
                    file: path.clone(),
                    err,
                })?;
            files.push((path, file.into()));
        }
        Ok(TaskFiles(files))
    }

    /// Whether the child joins its v1 cgroups itself.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Move the calling thread, the whole of a single-threaded process,
    /// into each cgroup.
    pub fn join(&self) -> Result<(), CgroupError> {
        for (path, fd) in &self.0 {
            let written = nix::unistd::write(fd, b"0").map_err(std::io::Error::from);
            if let Err(err) = written.and_then(|n| match n {
                1 => Ok(()),
                _ => Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
            }) {
                return Err(CgroupError::JoinSelf {
                    file: path.clone(),
                    err,
                });
            }
        }
        Ok(())
    }
}

/// Whether this kernel lets a thread join a v1 cgroup without the wait.
pub fn supported() -> bool {
    lockless_self_move(&kernel_release())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Linux 6.5 or later (`release` as uname(2) gives it), where the kernel
/// surely skips the global lock for a thread that moves itself (older
/// stable kernels that took the change keep the parent's placement).
fn lockless_self_move(release: &str) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok());
    matches!((number(), number()), (Some(major), Some(minor)) if (major, minor) >= (6, 5))
}

#[cfg(test)]
mod tests {
    use super::lockless_self_move;

    #[test]
    fn kernels_from_6_5_move_a_thread_without_the_lock() {
        assert!(lockless_self_move("6.5.0"));
        assert!(lockless_self_move("6.18.3-cloud-amd64"));
        assert!(lockless_self_move("7.0"));
        assert!(!lockless_self_move("6.4.16"));
        assert!(!lockless_self_move("5.15.0-91-generic"));
        assert!(!lockless_self_move(""));
        assert!(!lockless_self_move("x.y"));
    }
}
