//! Bind mounts: the bind itself (or the attachment of an idmapped tree),
//! then a bind-remount for the requested flags that keeps whatever flags
//! the kernel has locked on the source.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use libc::c_ulong;

use super::error::StepError;
use super::mounts::{self, Entry, Kind, Source};
use super::options::flag_names;
use super::resolve::Root;
use super::sys;

pub fn mount_bind(root: &Root, e: &Entry<'_>) -> Result<(), StepError> {
    let Some(src) = e.source else {
        return Err(StepError::Refused("a bind mount needs a source".into()));
    };
    let meta =
        std::fs::metadata(src).map_err(StepError::op(format!("stat bind source {src:?}")))?;
    let target = mounts::mount_point(root, e, Kind::Bind, !meta.is_dir())?;
    let real = root.container_path(target.fd.as_fd())?;
    mounts::check_destination(&real, Source::Bind(src))?;
    bind_on(target.fd.as_fd(), src, e, || root.reopen(target.fd.as_fd()))
}

/// Bind `src` on `target`, a mount point the caller resolved and checked;
/// `reopen` finds the new mount (the old fd names the covered directory),
/// asked only when the options need it.
pub fn bind_on(
    target: BorrowedFd<'_>,
    src: &Path,
    e: &Entry<'_>,
    reopen: impl FnOnce() -> Result<OwnedFd, StepError>,
) -> Result<(), StepError> {
    let flags = libc::MS_BIND | (e.opts.flags & libc::MS_REC);
    sys::mount(Some(src), &sys::fd_path(target), None, flags, None)
        .map_err(StepError::op(format!("bind {src:?} on {:?}", e.dest)))?;
    settle(src, e, reopen)
}

/// An idmapped bind: `tree`, the source's detached copy that the init
/// cloned and the parent gave its mapping (see idmap.rs), goes where a
/// plain bind of the source would, and gets the same options.
pub fn attach_tree(root: &Root, e: &Entry<'_>, tree: OwnedFd) -> Result<(), StepError> {
    let Some(src) = e.source else {
        return Err(StepError::Refused("a bind mount needs a source".into()));
    };
    let st =
        sys::fstat(tree.as_fd()).map_err(StepError::op(format!("stat the tree of {src:?}")))?;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let target = mounts::mount_point(root, e, Kind::Bind, !is_dir)?;
    let real = root.container_path(target.fd.as_fd())?;
    mounts::check_destination(&real, Source::Bind(src))?;
    crate::syscall::move_mount(tree.as_fd(), target.fd.as_fd()).map_err(StepError::op(format!(
        "attach the idmapped tree of {src:?} on {:?}",
        e.dest
    )))?;
    settle(src, e, || root.reopen(target.fd.as_fd()))
}

/// What the options ask of a bind once it is in place: flags, then
/// propagation and recursive attributes, on the new mount `reopen` finds.
fn settle(
    src: &Path,
    e: &Entry<'_>,
    reopen: impl FnOnce() -> Result<OwnedFd, StepError>,
) -> Result<(), StepError> {
    let remount = remount_flags(e);
    if remount.is_none() && !e.opts.needs_after() {
        return Ok(());
    }
    let top = reopen()?;
    if let Some(remount) = remount {
        remount_keeping_locked(top.as_fd(), src, remount, e.opts.cleared, &e.dest)?;
    }
    mounts::apply_after(top.as_fd(), &e.opts, &e.dest)
}

/// The bind itself ignores every flag but MS_REC; anything else the
/// options set or clear needs a remount, with these flags. With no such
/// option the mount keeps the source's flags.
fn remount_flags(e: &Entry<'_>) -> Option<c_ulong> {
    let extra = e.opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
    (extra != 0 || e.opts.cleared != 0).then_some(extra | libc::MS_BIND | libc::MS_REMOUNT)
}

/// Bind-remount the mount `fd` is the root of with `flags`. The first try
/// sets exactly the requested flags; if the kernel refuses (the source has
/// locked flags, e.g. nodev inherited from a less privileged namespace),
/// retry with the source's lockable flags added, unless the config asked to
/// clear one of them or for a different atime mode.
pub fn remount_keeping_locked(
    fd: BorrowedFd<'_>,
    src: &Path,
    flags: c_ulong,
    cleared: c_ulong,
    dest: &Path,
) -> Result<(), StepError> {
    let fdp = sys::fd_path(fd);
    let op = || {
        format!(
            "remount {dest:?} with {}",
            flag_names(flags & !(libc::MS_BIND | libc::MS_REMOUNT))
        )
    };
    let Err(first) = sys::mount(None, &fdp, None, flags, None) else {
        return Ok(());
    };
    let src_flags =
        sys::mount_flags(src).map_err(StepError::op(format!("statvfs bind source {src:?}")))?;
    let stuck = src_flags & cleared & sys::LOCK_FLAGS;
    if stuck != 0 {
        return Err(StepError::Refused(format!(
            "{}: cannot clear locked flags {} ({first})",
            op(),
            flag_names(stuck)
        )));
    }
    let atime = flags & sys::ATIME_FLAGS;
    if atime != 0 && atime != src_flags & sys::ATIME_FLAGS {
        return Err(StepError::Refused(format!(
            "{}: cannot change locked atime flags {} ({first})",
            op(),
            flag_names(src_flags & sys::ATIME_FLAGS)
        )));
    }
    let retry = flags | (src_flags & sys::LOCK_FLAGS);
    sys::mount(None, &fdp, None, retry, None).map_err(|err| {
        StepError::sys(
            format!(
                "{} (locked flags {} re-applied)",
                op(),
                flag_names(src_flags & sys::LOCK_FLAGS)
            ),
            err,
        )
    })
}
