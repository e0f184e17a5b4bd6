//! The config's `mounts`, performed in order inside the rootfs. Every mount
//! point is resolved with openat2(2) scoped to the rootfs and mounted on by
//! its /proc/self/fd magic link, so the image cannot redirect a mount.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use libc::c_ulong;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use super::error::{RootfsError, StepError};
use super::idmap::{self, Trees};
use super::options::MountOptions;
use super::resolve::{self, Root, Target};
use super::{bind, cgroup_mount, sys, validate};

/// Paths below /proc that may be mounted over: the files lxcfs emulates.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// How a config mount is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bind,
    Cgroup,
    Fs,
}

/// One config mount, digested.
pub struct Entry<'a> {
    pub dest: PathBuf,
    pub source: Option<&'a Path>,
    pub fstype: &'a str,
    pub opts: MountOptions,
}

/// Namespace facts and the SELinux label that change how some
/// filesystems are mounted.
pub struct Env {
    pub cgroupns: bool,
    pub netns: bool,
    /// The init's mount namespace is new: until the container's process
    /// runs, nothing but the init can reach a filesystem it mounts.
    pub private_mounts: bool,
    /// `linux.mountLabel`, if set.
    pub mount_label: Option<String>,
}

impl Env {
    pub fn from_spec(spec: &Spec) -> Env {
        let has = |t: LinuxNamespaceType| {
            let nss = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
            nss.is_some_and(|nss| nss.iter().any(|ns| ns.typ() == t))
        };
        Env {
            cgroupns: has(LinuxNamespaceType::Cgroup),
            netns: has(LinuxNamespaceType::Network),
            private_mounts: crate::namespaces::creates(spec, LinuxNamespaceType::Mount),
            mount_label: crate::lsm::selinux::mount_label(spec),
        }
    }
}

/// What kind of mount `m` is: a bind when its options say so (whatever its
/// type) or its type is "bind"; "cgroup" gets the per-hierarchy treatment.
pub fn kind(m: &Mount, opts: &MountOptions) -> Kind {
    match m.typ().as_deref() {
        _ if opts.is_bind() => Kind::Bind,
        Some("bind") => Kind::Bind,
        Some("cgroup") => Kind::Cgroup,
        _ => Kind::Fs,
    }
}

pub fn entry(m: &Mount) -> (Kind, Entry<'_>) {
    let mut opts = MountOptions::parse(m.options().as_deref().unwrap_or_default());
    let kind = kind(m, &opts);
    if kind == Kind::Bind {
        opts.flags |= libc::MS_BIND;
    }
    let entry = Entry {
        dest: resolve::clean(m.destination()),
        source: m.source().as_deref(),
        fstype: m.typ().as_deref().unwrap_or_default(),
        opts,
    };
    (kind, entry)
}

/// Fresh tmpfs mounts and /dev stay writable until `finalize`, so that
/// devices and mount points can still be created in them.
pub fn defers_readonly(kind: Kind, e: &Entry<'_>) -> bool {
    kind == Kind::Fs
        && e.opts.flags & libc::MS_RDONLY != 0
        && (e.fstype == "tmpfs" || e.dest == Path::new("/dev"))
}

pub fn mount_all(
    spec: &Spec,
    root: &Root,
    mut trees: Trees,
    before_cgroup: &mut dyn FnMut() -> Result<Option<String>, String>,
) -> Result<(), RootfsError> {
    let env = Env::from_spec(spec);
    let mut cgroup_seen = false;
    let mut cgroup_lines = None;
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        if let Some((field, msg)) = validate::mount_problems(index, m).into_iter().next() {
            return Err(RootfsError::Invalid { field, msg });
        }
        let (kind, e) = entry(m);
        if kind == Kind::Cgroup && !cgroup_seen {
            cgroup_seen = true;
            cgroup_lines =
                before_cgroup().map_err(|msg| RootfsError::BeforeCgroup { index, msg })?;
        }
        let res = match kind {
            Kind::Bind => match trees.take(index) {
                Some(tree) => bind::attach_tree(root, &e, tree),
                None if idmap::requested(m, &e.opts) => Err(StepError::Refused(
                    "the idmapped tree of this mount was never made".into(),
                )),
                None => bind::mount_bind(root, &e),
            },
            Kind::Cgroup => cgroup_mount::mount_cgroup(root, &env, &e, cgroup_lines.as_deref()),
            Kind::Fs => mount_fs(root, &env, &e),
        };
        res.map_err(|err| RootfsError::Mount { index, err })?;
    }
    Ok(())
}

fn under_proc_or_sys(dest: &Path) -> bool {
    dest.starts_with("/proc") || dest.starts_with("/sys")
}

/// The mount point for `e`, created if missing. Under /proc and /sys no
/// symlink may take part in the resolution at all, and proc/sysfs must go on
/// an ordinary directory, as with runc.
pub fn mount_point(
    root: &Root,
    e: &Entry<'_>,
    kind: Kind,
    as_file: bool,
) -> Result<Target, StepError> {
    let pseudo = kind == Kind::Fs && (e.fstype == "proc" || e.fstype == "sysfs");
    if !pseudo && !under_proc_or_sys(&e.dest) {
        return root.open_or_create(&e.dest, as_file);
    }
    let target = match root.open_at(&e.dest, libc::O_PATH, resolve::NO_SYMLINKS) {
        Ok(fd) => Target { fd, existed: true },
        Err(err) if sys::is_errno(&err, libc::ELOOP) => {
            return Err(StepError::Refused(format!(
                "{:?} contains a symlink; refusing to mount through it",
                e.dest
            )))
        }
        Err(err) if sys::is_errno(&err, libc::ENOENT) => {
            let fd = if as_file {
                root.create_file(&e.dest)?
            } else {
                root.mkdir_missing(&e.dest)?
            };
            Target { fd, existed: false }
        }
        Err(err) => return Err(StepError::sys(format!("resolve {:?}", e.dest), err)),
    };
    if pseudo {
        let st =
            sys::fstat(target.fd.as_fd()).map_err(StepError::op(format!("stat {:?}", e.dest)))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(StepError::Refused(format!(
                "filesystem {:?} must be mounted on an ordinary directory, {:?} is not one",
                e.fstype, e.dest
            )));
        }
    }
    Ok(target)
}

/// What is about to be mounted, for the /proc check.
pub enum Source<'a> {
    Fs(&'a str),
    Bind(&'a Path),
}

/// runc's rule: only procfs may go on /proc itself, and nothing may go below
/// it except the files lxcfs emulates. `real` is the resolved container path.
pub fn check_destination(real: &Path, source: Source<'_>) -> Result<(), StepError> {
    if real == Path::new("/") {
        return Err(StepError::Refused(
            "mount point resolves to the root of the rootfs".into(),
        ));
    }
    let Ok(rest) = real.strip_prefix("/proc") else {
        return Ok(());
    };
    if !rest.as_os_str().is_empty() {
        if PROC_ALLOWED.iter().any(|p| Path::new(p) == real) {
            return Ok(());
        }
        return Err(StepError::Refused(format!(
            "{real:?} cannot be mounted because it is inside /proc"
        )));
    }
    let is_proc = match source {
        Source::Fs(t) => t == "proc",
        Source::Bind(src) => {
            sys::statfs(src)
                .map_err(StepError::op(format!("statfs {src:?}")))?
                .f_type
                == libc::PROC_SUPER_MAGIC
        }
    };
    if is_proc {
        Ok(())
    } else {
        Err(StepError::Refused(format!(
            "{real:?} cannot be mounted because it is not of type proc"
        )))
    }
}

/// Apply the propagation changes and recursive attributes of `opts` to the
/// mount `fd` is the root of.
pub fn apply_after(fd: BorrowedFd<'_>, opts: &MountOptions, dest: &Path) -> Result<(), StepError> {
    let target = sys::fd_path(fd);
    for &p in &opts.propagation {
        sys::mount(None, &target, None, p, None)
            .map_err(StepError::op(format!("change propagation of {dest:?}")))?;
    }
    if opts.has_rec_attrs() {
        sys::mount_setattr_recursive(fd, opts.rec_set, opts.rec_clear).map_err(StepError::op(
            format!("set recursive mount attributes on {dest:?}"),
        ))?;
    }
    Ok(())
}

/// A fresh filesystem of `e.fstype` at `e.dest`, options passed as data.
pub fn mount_fs(root: &Root, env: &Env, e: &Entry<'_>) -> Result<(), StepError> {
    mount_fs_inner(root, env, e, false).map(drop)
}

/// `mount_fs`, and a handle on the new mount's root.
pub fn mount_fs_top(root: &Root, env: &Env, e: &Entry<'_>) -> Result<OwnedFd, StepError> {
    let top = mount_fs_inner(root, env, e, true)?;
    Ok(top.expect("asked for, the new mount is always reopened"))
}

/// Whether what follows the mount itself needs a handle on the new mount
/// (the old one names the covered directory). Finding the new mount again
/// safely costs an openat2 and two readlinks, so it is done only then.
fn needs_top(e: &Entry<'_>, env: &Env, copyup: bool) -> bool {
    copyup
        || e.opts.needs_after()
        || crate::lsm::selinux::labels_root(e.fstype, env.mount_label.as_deref())
}

fn mount_fs_inner(
    root: &Root,
    env: &Env,
    e: &Entry<'_>,
    want_top: bool,
) -> Result<Option<OwnedFd>, StepError> {
    let target = mount_point(root, e, Kind::Fs, false)?;
    let real = root.container_path(target.fd.as_fd())?;
    check_destination(&real, Source::Fs(e.fstype))?;
    let mut data = e.opts.data();
    if e.fstype == "tmpfs" && target.existed {
        // Like runc, a tmpfs inherits the mode of the directory it covers
        // unless the options say otherwise (a later mode= wins).
        let st =
            sys::fstat(target.fd.as_fd()).map_err(StepError::op(format!("stat {:?}", e.dest)))?;
        let mode = format!("mode={:04o}", st.st_mode & 0o7777);
        data = if data.is_empty() {
            mode
        } else {
            format!("{mode},{data}")
        };
    }
    let label = env.mount_label.as_deref();
    let data = crate::lsm::selinux::mount_data(e.fstype, &data, label);
    let mut flags = e.opts.flags;
    if defers_readonly(Kind::Fs, e) {
        flags &= !libc::MS_RDONLY;
    }
    let source = e.source.unwrap_or(Path::new(e.fstype));
    let op = format!(
        "mount {} on {:?} (type {})",
        source.display(),
        e.dest,
        e.fstype
    );
    let fdp = sys::fd_path(target.fd.as_fd());
    // Opened before the mount covers it: the directory whose contents a
    // tmpcopyup tmpfs starts with.
    let covered = match e.opts.tmpcopyup && target.existed {
        true => Some(
            sys::open(&fdp, libc::O_RDONLY | libc::O_DIRECTORY)
                .map_err(StepError::op(format!("open {:?} to copy it up", e.dest)))?,
        ),
        false => None,
    };
    if let Err(err) = sys::mount(Some(source), &fdp, Some(e.fstype), flags, Some(&data)) {
        let fallback = e.fstype == "sysfs"
            && !env.netns
            && (sys::is_errno(&err, libc::EPERM) || sys::is_errno(&err, libc::EBUSY));
        if !fallback {
            return Err(StepError::sys(op, err));
        }
        return sysfs_bind_fallback(root, e, target.fd, flags).map(Some);
    }
    if !want_top && !needs_top(e, env, covered.is_some()) {
        return Ok(None);
    }
    let top = root.reopen(target.fd.as_fd())?;
    crate::lsm::selinux::label_mount_root(e.fstype, &sys::fd_path(top.as_fd()), label).map_err(
        StepError::op(format!("label {:?} with linux.mountLabel", e.dest)),
    )?;
    if let Some(covered) = covered {
        let dir = sys::open(
            &sys::fd_path(top.as_fd()),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
        .map_err(StepError::op(format!("open the tmpfs on {:?}", e.dest)))?;
        super::copyup::copy_tree(covered.as_fd(), dir.as_fd()).map_err(StepError::op(format!(
            "copy {:?} up into its tmpfs",
            e.dest
        )))?;
    }
    apply_after(top.as_fd(), &e.opts, &e.dest)?;
    Ok(Some(top))
}

/// Without its own network namespace a container may be refused a fresh
/// sysfs (it would expose the host's network devices); runc's answer is a
/// recursive bind of the host's /sys, with the requested flags.
fn sysfs_bind_fallback(
    root: &Root,
    e: &Entry<'_>,
    target: OwnedFd,
    flags: c_ulong,
) -> Result<OwnedFd, StepError> {
    let fdp = sys::fd_path(target.as_fd());
    let host_sys = Path::new("/sys");
    sys::mount(
        Some(host_sys),
        &fdp,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(StepError::op(format!(
        "bind \"/sys\" on {:?} (sysfs fallback)",
        e.dest
    )))?;
    let top = root.reopen(target.as_fd())?;
    let remount = flags & !(libc::MS_REC | libc::MS_BIND) | libc::MS_BIND | libc::MS_REMOUNT;
    bind::remount_keeping_locked(top.as_fd(), host_sys, remount, e.opts.cleared, &e.dest)?;
    apply_after(top.as_fd(), &e.opts, &e.dest)?;
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(json: &str) -> Mount {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn kinds_follow_options_and_type() {
        let m = mount(r#"{"destination":"/a","type":"none","source":"/x","options":["rbind"]}"#);
        assert_eq!(entry(&m).0, Kind::Bind);
        let m = mount(r#"{"destination":"/a","type":"bind","source":"/x"}"#);
        let (k, e) = entry(&m);
        assert_eq!(k, Kind::Bind);
        assert!(e.opts.is_bind());
        let m = mount(r#"{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}"#);
        assert_eq!(entry(&m).0, Kind::Cgroup);
        let m = mount(r#"{"destination":"/dev/","type":"tmpfs","options":["ro"]}"#);
        let (k, e) = entry(&m);
        assert_eq!((k, e.dest.as_path()), (Kind::Fs, Path::new("/dev")));
        assert!(defers_readonly(k, &e));
    }

    #[test]
    fn proc_destinations() {
        assert!(check_destination(Path::new("/proc"), Source::Fs("proc")).is_ok());
        assert!(check_destination(Path::new("/proc"), Source::Fs("tmpfs")).is_err());
        assert!(check_destination(Path::new("/proc/meminfo"), Source::Fs("tmpfs")).is_ok());
        let e = check_destination(Path::new("/proc/sys/kernel"), Source::Fs("tmpfs")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"/proc/sys/kernel\" cannot be mounted because it is inside /proc"
        );
        assert!(check_destination(Path::new("/processes"), Source::Fs("tmpfs")).is_ok());
        assert!(check_destination(Path::new("/"), Source::Fs("tmpfs")).is_err());
    }
}
