//! The mount tree around the rootfs: propagation before anything is
//! mounted, and the switch of `/` (pivot_root, or MS_MOVE + chroot).

use std::os::fd::AsFd;
use std::path::Path;

use libc::c_ulong;
use oci_spec::runtime::Spec;

use super::error::{RootfsError, StepError};
use super::options::{self, flag_names};
use super::{mountinfo, sys};

/// `linux.rootfsPropagation` as MS_* flags, if set.
pub fn root_propagation(spec: &Spec) -> Result<Option<(String, c_ulong)>, RootfsError> {
    let Some(value) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
    else {
        return Ok(None);
    };
    match options::propagation(&value) {
        Some(flags) => Ok(Some((value, flags))),
        None => Err(RootfsError::Invalid {
            field: "linux.rootfsPropagation".into(),
            msg: format!("unknown propagation {value:?}"),
        }),
    }
}

/// Cut the container's mount tree off from the host (rslave unless
/// configured otherwise), make sure the mount holding the rootfs is not
/// shared (pivot_root refuses that, and a shared parent would leak the next
/// bind to the host), then bind the rootfs onto itself so it is a mount.
pub fn prepare_root(spec: &Spec, rootfs: &Path) -> Result<(), RootfsError> {
    let prop = root_propagation(spec)?;
    let root_err = |err| RootfsError::Root {
        rootfs: rootfs.to_path_buf(),
        err,
    };
    let flags = prop
        .as_ref()
        .map_or(libc::MS_SLAVE | libc::MS_REC, |(_, f)| *f);
    sys::mount(None, Path::new("/"), None, flags, None)
        .map_err(StepError::op(format!(
            "make \"/\" {}",
            propagation_name(flags)
        )))
        .map_err(root_err)?;
    let parent_flags = if flags & libc::MS_SLAVE != 0 {
        libc::MS_SLAVE
    } else {
        libc::MS_PRIVATE
    };
    unshare_parent(rootfs, parent_flags).map_err(root_err)?;
    sys::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(StepError::op("bind onto itself"))
    .map_err(root_err)
}

fn propagation_name(flags: c_ulong) -> String {
    let rec = if flags & libc::MS_REC != 0 { "r" } else { "" };
    let kind = match flags & !libc::MS_REC {
        libc::MS_SHARED => "shared",
        libc::MS_SLAVE => "slave",
        libc::MS_PRIVATE => "private",
        libc::MS_UNBINDABLE => "unbindable",
        other => return flag_names(other),
    };
    format!("{rec}{kind}")
}

/// Walk up from `path` to the mount point containing it (EINVAL means "not
/// a mount point") and set its propagation.
fn unshare_parent(path: &Path, flags: c_ulong) -> Result<(), StepError> {
    let mut p = path;
    loop {
        match sys::mount(None, p, None, flags, None) {
            Ok(()) => return Ok(()),
            Err(e) if sys::is_errno(&e, libc::EINVAL) && p != Path::new("/") => {
                p = p.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => {
                return Err(StepError::sys(
                    format!("make parent mount {p:?} {}", propagation_name(flags)),
                    e,
                ))
            }
        }
    }
}

pub fn pivot(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let prop = root_propagation(spec)?;
    let pivot_err = |err| RootfsError::Pivot {
        rootfs: rootfs.to_path_buf(),
        err,
    };
    // In the runtime's mount namespace, pivot_root would swap the host's
    // root and MS_MOVE would move the rootfs over it: chroot, whatever
    // --no-pivot says. The bind already has its propagation (shared_ns).
    if super::shared_ns::shares_runtime_ns(spec) {
        return chroot_into(rootfs).map_err(pivot_err);
    }
    if let Some((value, flags)) = &prop {
        if no_pivot && flags & libc::MS_PRIVATE != 0 {
            return Err(RootfsError::Invalid {
                field: "linux.rootfsPropagation".into(),
                msg: format!("{value:?} is not safe without pivot_root"),
            });
        }
    }
    if no_pivot {
        move_root(rootfs).map_err(pivot_err)?;
    } else {
        pivot_root(rootfs).map_err(pivot_err)?;
    }
    // Private and slave were already applied to the whole tree before the
    // rootfs was bound; shared/unbindable can only be set on the new "/".
    if let Some((value, flags)) = prop {
        if flags & (libc::MS_PRIVATE | libc::MS_SLAVE) == 0 {
            sys::mount(None, Path::new("/"), None, flags, None)
                .map_err(StepError::op("apply to \"/\""))
                .map_err(|err| RootfsError::RootPropagation { value, err })?;
        }
    }
    Ok(())
}

/// pivot_root(".", ".") stacks the old root on top of the new one; it is
/// then made rslave (so the unmount cannot propagate to the host) and
/// lazily detached, which needs no directory for it inside the rootfs.
fn pivot_root(rootfs: &Path) -> Result<(), StepError> {
    let old = sys::open(Path::new("/"), libc::O_DIRECTORY | libc::O_PATH)
        .map_err(StepError::op("open old root"))?;
    let new = sys::open(rootfs, libc::O_DIRECTORY | libc::O_PATH)
        .map_err(StepError::op("open rootfs"))?;
    sys::fchdir(new.as_fd()).map_err(StepError::op("chdir into rootfs"))?;
    sys::pivot_root_dot().map_err(StepError::op("pivot_root"))?;
    sys::fchdir(old.as_fd()).map_err(StepError::op("chdir to old root"))?;
    let dot = Path::new(".");
    sys::mount(None, dot, None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(StepError::op("make old root rslave"))?;
    sys::umount_detach(dot).map_err(StepError::op("detach old root"))?;
    sys::chdir(Path::new("/")).map_err(StepError::op("chdir /"))
}

fn chroot_into(rootfs: &Path) -> Result<(), StepError> {
    sys::chdir(rootfs).map_err(StepError::op("chdir into rootfs"))?;
    sys::chroot_dot().map_err(StepError::op("chroot"))?;
    sys::chdir(Path::new("/")).map_err(StepError::op("chdir /"))
}

/// --no-pivot: move the rootfs mount over "/" and chroot into it. Full
/// procfs/sysfs mounts of the host stay reachable in this mount namespace
/// otherwise, and would let the container mount procfs/sysfs despite the
/// masks; detach them first (or cover them when that is refused), as runc.
fn move_root(rootfs: &Path) -> Result<(), StepError> {
    let mounts = mountinfo::read_self().map_err(StepError::op("read /proc/self/mountinfo"))?;
    let host_pseudo = mounts.iter().filter(|m| {
        m.root == Path::new("/")
            && (m.fstype == "proc" || m.fstype == "sysfs")
            && !m.mount_point.starts_with(rootfs)
    });
    for m in host_pseudo {
        let p = &m.mount_point;
        match sys::mount(None, p, None, libc::MS_SLAVE | libc::MS_REC, None) {
            Err(e) if sys::is_errno(&e, libc::ENOENT) => continue,
            Err(e) => return Err(StepError::sys(format!("make {p:?} rslave"), e)),
            Ok(()) => {}
        }
        match sys::umount_detach(p) {
            Ok(()) => {}
            Err(e) if sys::is_errno(&e, libc::EINVAL) || sys::is_errno(&e, libc::EPERM) => {
                sys::mount(Some(Path::new("tmpfs")), p, Some("tmpfs"), 0, None)
                    .map_err(StepError::op(format!("cover {p:?} with tmpfs")))?;
            }
            Err(e) => return Err(StepError::sys(format!("detach {p:?}"), e)),
        }
    }
    sys::chdir(rootfs).map_err(StepError::op("chdir into rootfs"))?;
    sys::mount(Some(rootfs), Path::new("/"), None, libc::MS_MOVE, None)
        .map_err(StepError::op("move rootfs to \"/\""))?;
    sys::chroot_dot().map_err(StepError::op("chroot"))?;
    sys::chdir(Path::new("/")).map_err(StepError::op("chdir /"))
}

/// Stdio that points at the host's /dev/null is pointed at the container's
/// instead, so nothing keeps a handle on a host file.
pub fn reopen_dev_null() -> Result<(), RootfsError> {
    let err = |err| RootfsError::DevNull { err };
    let mut null = None;
    for fd in 0..3 {
        // SAFETY: 0..3 are the standard descriptors; only borrowed here.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(st) = sys::fstat(bfd) else { continue };
        if !sys::is_dev_null(&st) {
            continue;
        }
        if null.is_none() {
            let f = sys::open(Path::new("/dev/null"), libc::O_RDWR)
                .map_err(StepError::op("open /dev/null"))
                .map_err(err)?;
            let st = sys::fstat(f.as_fd())
                .map_err(StepError::op("stat /dev/null"))
                .map_err(err)?;
            if !sys::is_dev_null(&st) {
                return Err(err(StepError::Refused(
                    "the container's /dev/null is not the null device".into(),
                )));
            }
            null = Some(f);
        }
        if let Some(f) = &null {
            sys::dup2(f.as_fd(), fd)
                .map_err(StepError::op(format!("dup /dev/null onto fd {fd}")))
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_names() {
        assert_eq!(propagation_name(libc::MS_SLAVE | libc::MS_REC), "rslave");
        assert_eq!(propagation_name(libc::MS_PRIVATE), "private");
        assert_eq!(
            propagation_name(libc::MS_UNBINDABLE | libc::MS_REC),
            "runbindable"
        );
    }

    #[test]
    fn unknown_root_propagation() {
        let s: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","linux":{"rootfsPropagation":"sideways"}}"#,
        )
        .unwrap();
        let e = root_propagation(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.json: linux.rootfsPropagation: unknown propagation \"sideways\""
        );
    }
}
