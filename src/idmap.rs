//! Idmapped mounts, the parent's part (src/rootfs/idmap.rs has the whole
//! scheme): the user namespaces that hold the mounts' own mappings, made
//! before the clone, and the mapping set on each tree the init cloned.
//!
//! A mount's mappings are the host's ids (config.md: they convert the ids
//! of the source filesystem into those the mount shows, `hostID` on the
//! host's side), so their namespace is a child of the host's user
//! namespace, made by keel before the container exists. The container's
//! own user namespace could not hold them: its map is relative to its
//! mapping, and only the mapped host ids could appear in it. A mount
//! without mappings takes the container's user namespace (new or joined)
//! itself, which config.md allows and runc does.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::rootfs::{self, Idmapped};
use crate::syscall;
use crate::userns::UsernsError;

#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("config.json: mounts[{index}]: make a user namespace for its mappings: {source}")]
    Clone {
        index: usize,
        source: std::io::Error,
    },
    #[error("config.json: mounts[{index}]: {source}")]
    Maps { index: usize, source: UsernsError },
    #[error("config.json: mounts[{index}]: idmap {path:?}: {what}: {source}")]
    Sys {
        index: usize,
        path: std::path::PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// The config asks what the source's filesystem cannot do: a config
    /// error, named as the others are.
    #[error(
        "config.json: mounts[{index}].source: {path:?}: the filesystem does not support \
         idmapped mounts (mount_setattr: {source}){below}"
    )]
    Unsupported {
        index: usize,
        path: std::path::PathBuf,
        source: std::io::Error,
        below: &'static str,
    },
    #[error("idmapped mounts: open the container init: {0}")]
    Init(std::io::Error),
    #[error("container init: idmap: mounts[{0}] is not an idmapped mount")]
    NotIdmapped(usize),
}

/// Mappings as the kernel reads them, to tell equal lists apart.
type Key = Vec<(u32, u32, u32)>;

fn key(list: &[LinuxIdMapping]) -> Key {
    list.iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// One user namespace per distinct pair of mount mappings.
#[derive(Default)]
pub struct Namespaces {
    made: Vec<((Key, Key), OwnedFd)>,
}

impl Namespaces {
    /// Before the clone: the namespaces for every idmapped mount that has
    /// mappings of its own. None for a config without any.
    pub fn make(spec: &Spec) -> Result<Namespaces, IdmapError> {
        let mut out = Namespaces::default();
        for m in rootfs::idmapped(spec) {
            let Some((uids, gids)) = m.mappings else {
                continue;
            };
            let k = (key(uids), key(gids));
            if out.made.iter().any(|(made, _)| *made == k) {
                continue;
            }
            let ns = holding(uids, gids, m.index)?;
            out.made.push((k, ns));
        }
        Ok(out)
    }

    /// Their fds, which the init has no use for.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        use std::os::fd::AsRawFd;
        self.made.iter().map(|(_, fd)| fd.as_raw_fd()).collect()
    }

    fn find(&self, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Option<BorrowedFd<'_>> {
        let k = (key(uids), key(gids));
        let (_, fd) = self.made.iter().find(|(made, _)| *made == k)?;
        Some(fd.as_fd())
    }
}

/// A user namespace holding `uids` and `gids` and nothing else: a child is
/// cloned into a new one and waits while its maps are written and the
/// namespace is opened; then it is killed (the open namespace outlives it).
fn holding(
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
    index: usize,
) -> Result<OwnedFd, IdmapError> {
    let clone_err = |source| IdmapError::Clone { index, source };
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: keel is single-threaded here; the child only makes
    // async-signal-safe calls and never returns into keel.
    let pid = unsafe { syscall::clone_fork(libc::CLONE_NEWUSER) }.map_err(clone_err)?;
    if pid == 0 {
        // SAFETY: plain calls; a parent that died before PDEATHSIG took
        // effect is seen as a new parent pid.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(0);
            }
            loop {
                libc::pause();
            }
        }
    }
    let _child = Reaped(pid);
    crate::userns::write_as_root(pid, uids, gids)
        .map_err(|source| IdmapError::Maps { index, source })?;
    let ns = File::open(format!("/proc/{pid}/ns/user")).map_err(clone_err)?;
    Ok(ns.into())
}

/// A child killed and reaped when dropped.
struct Reaped(libc::pid_t);

impl Drop for Reaped {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

/// After the clone: give each tree the init cloned (`trees`: mount index
/// and fd number in the init, fetched with pidfd_getfd) its mapping. The
/// init's copy is the same mount, so it needs nothing back.
pub fn map_trees(
    spec: &Spec,
    namespaces: &Namespaces,
    init: libc::pid_t,
    trees: &[(usize, RawFd)],
) -> Result<(), IdmapError> {
    let mounts = rootfs::idmapped(spec);
    let pidfd = syscall::pidfd_open(init).map_err(IdmapError::Init)?;
    let mut init_userns: Option<OwnedFd> = None;
    for &(index, fd) in trees {
        let m = mounts
            .iter()
            .find(|m| m.index == index)
            .ok_or(IdmapError::NotIdmapped(index))?;
        let sys = |what| {
            move |source| IdmapError::Sys {
                index,
                path: m.source.to_path_buf(),
                what,
                source,
            }
        };
        let tree = syscall::pidfd_getfd(&pidfd, fd).map_err(sys("fetch its tree from the init"))?;
        let userns = match m.mappings {
            Some((uids, gids)) => namespaces
                .find(uids, gids)
                .ok_or(IdmapError::NotIdmapped(index))?,
            None => {
                if init_userns.is_none() {
                    let ns = File::open(format!("/proc/{init}/ns/user"))
                        .map_err(sys("open the container's user namespace"))?;
                    init_userns = Some(ns.into());
                }
                init_userns.as_ref().expect("opened above").as_fd()
            }
        };
        set_mapping(m, tree.as_fd(), userns)?;
    }
    Ok(())
}

fn set_mapping(m: &Idmapped, tree: BorrowedFd, userns: BorrowedFd) -> Result<(), IdmapError> {
    let flags = if m.recursive {
        libc::AT_RECURSIVE as libc::c_uint
    } else {
        0
    };
    syscall::mount_setattr_idmap(tree, flags, userns).map_err(|source| {
        let (index, path) = (m.index, m.source.to_path_buf());
        // The kernel's answer for a filesystem without FS_ALLOW_IDMAP.
        if source.raw_os_error() == Some(libc::EINVAL) {
            let below = match m.recursive {
                true => " (or one of the mounts below it, which ridmap maps too)",
                false => "",
            };
            return IdmapError::Unsupported {
                index,
                path,
                source,
                below,
            };
        }
        IdmapError::Sys {
            index,
            path,
            what: "mount_setattr(MOUNT_ATTR_IDMAP)",
            source,
        }
    })
}
