//! After the pivot: deferred read-only remounts, `linux.readonlyPaths`,
//! `linux.maskedPaths` and `root.readonly`. Paths are resolved from the new
//! root with openat2(2) and mounted on through their fd, so a symlink in the
//! image cannot turn a mask or a read-only bind onto some other path.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use libc::c_ulong;
use oci_spec::runtime::Spec;

use super::error::{RootfsError, StepError};
use super::mounts;
use super::resolve::{self, Root};
use super::sys;

/// Mounts by fd through the container's /proc when it is a real procfs;
/// otherwise by the (already verified) path: after the pivot no path can
/// lead out of the container any more, and nothing else runs in it yet.
pub struct Mounter {
    root: Root,
    proc_fds: bool,
}

impl Mounter {
    pub fn new() -> Result<Mounter, std::io::Error> {
        let root = Root::open(Path::new("/"))?;
        let proc_fds =
            sys::statfs(Path::new("/proc/self/fd")).is_ok_and(|st| sys::is_proc_super(&st));
        Ok(Mounter { root, proc_fds })
    }

    fn target(&self, fd: BorrowedFd<'_>, path: &Path) -> PathBuf {
        if self.proc_fds {
            sys::fd_path(fd)
        } else {
            path.to_path_buf()
        }
    }

    /// O_PATH handle on `path` with no symlink anywhere on the way; `None`
    /// when it does not exist (which callers skip, as runc does).
    fn open_strict(&self, path: &Path) -> Result<Option<OwnedFd>, StepError> {
        match self.root.open_at(path, libc::O_PATH, resolve::NO_SYMLINKS) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if sys::is_errno(&e, libc::ENOENT) => Ok(None),
            Err(e) if sys::is_errno(&e, libc::ELOOP) => Err(StepError::Refused(
                "a symlink is on the path; refusing to mount through it".into(),
            )),
            Err(e) => Err(StepError::sys("resolve", e)),
        }
    }
}

pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let m = Mounter::new().map_err(|e| RootfsError::Root {
        rootfs: PathBuf::from("/"),
        err: StepError::sys("open new root", e),
    })?;
    proc_still_mounted(spec)?;
    remount_deferred(spec, &m)?;
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        readonly_root().map_err(|err| RootfsError::ReadonlyRoot { err })?;
    }
    let linux = spec.linux().as_ref();
    for (index, path) in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        readonly_path(&m, Path::new(path)).map_err(|err| RootfsError::Readonly {
            index,
            path: path.clone(),
            err,
        })?;
    }
    let masked = linux
        .and_then(|l| l.masked_paths().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let label = crate::lsm::selinux::mount_label(spec);
    mask_paths(&m, masked, label.as_deref())
}

/// Something sharing the rootfs can rename the procfs mount point away and
/// plant a directory at /proc: masks and read-only paths would then land on
/// the decoy and leave the real procfs, still reachable, writable.
fn proc_still_mounted(spec: &Spec) -> Result<(), RootfsError> {
    let index = spec.mounts().iter().flatten().position(|m| {
        m.typ().as_deref() == Some("proc") && resolve::clean(m.destination()) == Path::new("/proc")
    });
    let Some(index) = index else { return Ok(()) };
    crate::procfs::check_mounted().map_err(|e| RootfsError::Mount {
        index,
        err: StepError::Refused(format!("after pivot_root: {e}")),
    })
}

/// tmpfs mounts and /dev that asked for "ro" were kept writable so they
/// could be filled; make them read-only now.
fn remount_deferred(spec: &Spec, m: &Mounter) -> Result<(), RootfsError> {
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        let (kind, e) = mounts::entry(mount);
        if !mounts::defers_readonly(kind, &e) {
            continue;
        }
        let err = |err| RootfsError::Mount { index, err };
        let op = format!("remount {:?} read-only", e.dest);
        let fd = m
            .root
            .lookup(&e.dest)
            .map_err(StepError::op(op.clone()))
            .map_err(err)?;
        let flags =
            (e.opts.flags & !libc::MS_REC) | libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        sys::mount(None, &m.target(fd.as_fd(), &e.dest), None, flags, None)
            .map_err(StepError::op(op))
            .map_err(err)?;
    }
    Ok(())
}

/// Bind-remount read-only with the flags it has; if the kernel insists on
/// locked flags, retry with everything statfs reports.
fn remount_readonly(target: &Path, keep: c_ulong, all: c_ulong) -> Result<(), StepError> {
    let base = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    match sys::mount(None, target, None, base | keep, None) {
        Err(e) if sys::is_errno(&e, libc::EPERM) => {
            sys::mount(None, target, None, base | all, None)
                .map_err(StepError::op("remount read-only"))
        }
        other => other.map_err(StepError::op("remount read-only")),
    }
}

fn readonly_root() -> Result<(), StepError> {
    let all = sys::mount_flags(Path::new("/")).map_err(StepError::op("statvfs \"/\""))?;
    remount_readonly(Path::new("/"), 0, all)
}

fn readonly_path(m: &Mounter, path: &Path) -> Result<(), StepError> {
    let Some(fd) = m.open_strict(path)? else {
        return Ok(());
    };
    let target = m.target(fd.as_fd(), path);
    sys::mount(
        Some(&target),
        &target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(StepError::op("bind onto itself"))?;
    // The old fd names the covered inode; resolve again to get the bind.
    let top = m
        .open_strict(path)?
        .ok_or_else(|| StepError::Refused("vanished while being mounted".into()))?;
    let all = sys::mount_flags_fd(top.as_fd()).map_err(StepError::op("statvfs"))?;
    let keep = all & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    remount_readonly(&m.target(top.as_fd(), path), keep, all)
}

/// Files get the container's /dev/null bound over them (checked to really
/// be the 1:3 character device first); directories a read-only empty tmpfs.
fn mask_paths(m: &Mounter, paths: &[String], label: Option<&str>) -> Result<(), RootfsError> {
    let mut null: Option<OwnedFd> = None;
    let mut done: Vec<PathBuf> = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let err = |err| RootfsError::Masked {
            index,
            path: path.clone(),
            err,
        };
        let clean = resolve::clean(Path::new(path));
        if done.contains(&clean) {
            continue;
        }
        let Some(fd) = m.open_strict(&clean).map_err(err)? else {
            continue;
        };
        let st = sys::fstat(fd.as_fd())
            .map_err(StepError::op("stat"))
            .map_err(err)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mask_dir(&m.target(fd.as_fd(), &clean), label).map_err(err)?;
        } else {
            if null.is_none() {
                null = Some(open_dev_null(m).map_err(err)?);
            }
            let src = null
                .as_ref()
                .map(|n| m.target(n.as_fd(), Path::new("/dev/null")));
            sys::mount(
                src.as_deref(),
                &m.target(fd.as_fd(), &clean),
                None,
                libc::MS_BIND,
                None,
            )
            .map_err(StepError::op("bind /dev/null over it"))
            .map_err(err)?;
        }
        done.push(clean);
    }
    Ok(())
}

fn open_dev_null(m: &Mounter) -> Result<OwnedFd, StepError> {
    let fd = m
        .open_strict(Path::new("/dev/null"))?
        .ok_or_else(|| StepError::Refused("the container has no /dev/null to mask with".into()))?;
    let st = sys::fstat(fd.as_fd()).map_err(StepError::op("stat /dev/null"))?;
    if !sys::is_dev_null(&st) {
        return Err(StepError::Refused(
            "the container's /dev/null is not the 1:3 character device".into(),
        ));
    }
    Ok(fd)
}

/// A read-only empty tmpfs, with `linux.mountLabel` as runc gives it one.
fn mask_dir(target: &Path, label: Option<&str>) -> Result<(), StepError> {
    let tmpfs = Some(Path::new("tmpfs"));
    let data = |d| crate::lsm::selinux::mount_data("tmpfs", d, label);
    sys::mount(
        tmpfs,
        target,
        Some("tmpfs"),
        libc::MS_RDONLY,
        Some(&data("nr_blocks=1,nr_inodes=1")),
    )
    // Some distribution kernels reject nr_inodes below 2.
    .or_else(|_| {
        sys::mount(
            tmpfs,
            target,
            Some("tmpfs"),
            libc::MS_RDONLY,
            Some(&data("nr_blocks=1,nr_inodes=2")),
        )
    })
    .map_err(StepError::op("mount read-only tmpfs over it"))
}
