//! A container without a mount namespace of its own shares the runtime's
//! (runtime-spec: a namespace type absent from `linux.namespaces` is
//! inherited). Its mounts then land in a mount table keel does not own, so
//! keel changes nothing there but one mount of its own: a private,
//! recursive bind of the rootfs onto itself, made by `keel create` before
//! the init exists. Every other mount of the container (config mounts,
//! devices, masked and read-only paths, the console) is made below it, and
//! the init `chroot`s into it (pivot_root would swap the runtime's own
//! root). The propagation of `/` and of every other mount stays as it was.
//!
//! The bind is recorded in the state directory before it is attached
//! (a detached `open_tree` copy has its mount id already), so a crash at
//! any point leaves either nothing or a record; `delete` detaches exactly
//! that mount, which takes everything below it, and the mount table is as
//! before the container.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use super::error::{RootfsError, StepError};
use super::{mountinfo, pivot, sys};
use crate::state::Container;
use crate::syscall;

/// Where the record lives in the container's state directory: beside
/// state.json, so a damaged state file does not lose it.
const RECORD: &str = "rootfs-mount.json";

/// The container's root mount in the runtime's mount namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RootfsMount {
    /// The rootfs, canonical: the mount point.
    pub path: PathBuf,
    /// The mount namespace it is in (inode of /proc/self/ns/mnt).
    pub mnt_ns: u64,
    /// Its id as mountinfo shows it.
    pub mnt_id: u64,
    /// Its never-reused id, on kernels that have one (6.8).
    pub unique_id: Option<u64>,
}

/// Whether the container shares the runtime's mount namespace.
pub fn shares_runtime_ns(spec: &Spec) -> bool {
    !crate::namespaces::has(spec, LinuxNamespaceType::Mount)
}

fn root_err(rootfs: &Path) -> impl Fn(StepError) -> RootfsError + '_ {
    move |err| RootfsError::Root {
        rootfs: rootfs.to_path_buf(),
        err,
    }
}

/// Bind `rootfs` onto itself in our mount namespace, as a private tree (or
/// with `linux.rootfsPropagation`), once `state` records where it is.
pub fn bind(spec: &Spec, rootfs: &Path, state: &Container) -> Result<(), RootfsError> {
    let err = root_err(rootfs);
    let propagation =
        pivot::root_propagation(spec)?.map_or(libc::MS_PRIVATE | libc::MS_REC, |(_, flags)| flags);
    let tree = syscall::open_tree_clone(rootfs, true)
        .map_err(StepError::op("copy the mount tree (open_tree)"))
        .map_err(&err)?;
    let (mnt_id, unique_id) = ids(tree.as_fd())
        .map_err(StepError::op("read the copy's mount id"))
        .map_err(&err)?;
    let mount = RootfsMount {
        path: rootfs.to_path_buf(),
        mnt_ns: own_mnt_ns()
            .map_err(StepError::op("stat /proc/self/ns/mnt"))
            .map_err(&err)?,
        mnt_id,
        unique_id,
    };
    state.save_record(RECORD, &mount).map_err(|e| {
        err(StepError::Refused(format!(
            "record the rootfs mount in the state directory: {e}"
        )))
    })?;
    let target = nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| StepError::op("open the rootfs")(e.into()))
    .map_err(&err)?;
    syscall::move_mount(tree.as_fd(), target.as_fd())
        .map_err(StepError::op("bind onto itself (move_mount)"))
        .map_err(&err)?;
    // Attached, the copy is ours to change: mounts made below it then
    // propagate nowhere, and no host mount's propagation is touched.
    sys::mount(None, &sys::fd_path(tree.as_fd()), None, propagation, None)
        .map_err(StepError::op("set the propagation of the bind"))
        .map_err(&err)
}

/// Both ids of the mount `fd` is on: mountinfo's, and the unique one
/// where the kernel has it.
fn ids(fd: BorrowedFd<'_>) -> std::io::Result<(u64, Option<u64>)> {
    let (id, _) = syscall::mount_id(fd, false)?;
    let unique = match syscall::mount_id(fd, true)? {
        (u, true) => Some(u),
        _ => None,
    };
    Ok((id, unique))
}

fn own_mnt_ns() -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self/ns/mnt")?.ino())
}

/// What `release` found.
#[derive(Debug, PartialEq, Eq)]
enum Released {
    Detached,
    /// Not there (never attached, or unmounted by someone else).
    Gone,
}

/// Undo `bind` for the container whose state is `state`, if it made one;
/// the caller removes the state directory (and the record) afterwards.
pub fn release_recorded(state: &Container) -> Result<(), RootfsError> {
    let record = state
        .load_record::<RootfsMount>(RECORD)
        .map_err(RootfsError::Record)?;
    let Some(mount) = record else { return Ok(()) };
    let released = release(&mount)?;
    crate::logging::debug(&format!(
        "rootfs mount {} (id {}) in the runtime's mount namespace: {released:?}",
        mount.path.display(),
        mount.mnt_id
    ));
    Ok(())
}

/// Detach the recorded mount and, with it, every mount below it. Refused
/// when keel runs in another mount namespace than the one the mount is in,
/// or when something else was mounted over it (keel would have to remove
/// a mount it did not make).
fn release(mount: &RootfsMount) -> Result<Released, RootfsError> {
    let err = root_err(&mount.path);
    let ns = own_mnt_ns()
        .map_err(StepError::op("stat /proc/self/ns/mnt"))
        .map_err(&err)?;
    if ns != mount.mnt_ns {
        return Err(err(StepError::Refused(format!(
            "the container's rootfs mount is in mount namespace mnt:[{}], keel runs in \
             mnt:[{ns}]: run delete from the namespace create ran in",
            mount.mnt_ns
        ))));
    }
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    let top = match sys::open(&mount.path, flags) {
        Ok(fd) => fd,
        Err(e) if sys::is_errno(&e, libc::ENOENT) => return Ok(Released::Gone),
        Err(e) => return Err(err(StepError::sys("open the mount point", e))),
    };
    let (id, unique) = ids(top.as_fd())
        .map_err(StepError::op("read its mount id"))
        .map_err(&err)?;
    let ours = match (mount.unique_id, unique) {
        (Some(a), Some(b)) => a == b,
        _ => id == mount.mnt_id,
    };
    if ours {
        // Through the fd: exactly the mount checked above, whatever is
        // mounted at the path by the time of the call.
        sys::umount_detach(&sys::fd_path(top.as_fd()))
            .map_err(StepError::op("detach the rootfs mount"))
            .map_err(&err)?;
        return Ok(Released::Detached);
    }
    if covered(mount).map_err(&err)? {
        return Err(err(StepError::Refused(format!(
            "the container's rootfs mount (id {}) is covered by mount {id}, which keel did \
             not make: unmount that first",
            mount.mnt_id
        ))));
    }
    Ok(Released::Gone)
}

/// Whether the recorded mount is still in the table, under another one.
fn covered(mount: &RootfsMount) -> Result<bool, StepError> {
    let text = crate::procfs::read::text("/proc/self/mountinfo")
        .map_err(StepError::op("read /proc/self/mountinfo"))?;
    Ok(mountinfo::parse(&text)
        .iter()
        .any(|m| m.id == mount.mnt_id && m.mount_point == mount.path))
}
