//! `type: cgroup` mounts. On a v1 or hybrid host: a tmpfs at the destination
//! with one directory per hierarchy the host has mounted (plus `unified`
//! for a hybrid host's cgroup2). With a cgroup namespace each hierarchy is
//! mounted fresh (showing the namespace's root); without one the process's
//! own cgroup directory on the host is bound there. On a pure cgroup2 host
//! the destination gets the cgroup2 filesystem itself. Nothing is ever
//! written to a host cgroup file.

use std::collections::HashSet;
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::StepError;
use super::mounts::{self, Entry, Env, Kind, Source};
use super::options::MountOptions;
use super::resolve::{self, Root};
use super::{bind, mountinfo, sys};

const DEFAULT_FLAGS: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

/// A cgroup hierarchy the host has mounted, and where we sit in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Directory name under the destination (the host mount's basename).
    pub dir: OsString,
    pub fstype: &'static str,
    /// Mount data naming the v1 hierarchy ("cpu,cpuacct", "name=systemd").
    pub controllers: String,
    /// Our own cgroup's directory in the host's mount of the hierarchy, or
    /// why it cannot be named (inside a cgroup namespace the mount's root
    /// may lie above the namespace's root; only binds need it).
    pub host_source: Result<PathBuf, String>,
}

/// Match the host's cgroup mounts with the lines of /proc/self/cgroup. The
/// first mount of each hierarchy wins; mounts inside the rootfs (from an
/// earlier rbind of /sys, say) are not hierarchies of their own.
pub fn hierarchies(
    mounts: &[mountinfo::MountInfo],
    lines: &[mountinfo::CgroupLine],
    rootfs: &Path,
) -> Vec<Hierarchy> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in mounts.iter().filter(|m| !m.mount_point.starts_with(rootfs)) {
        let (fstype, line) = match m.fstype.as_str() {
            "cgroup2" => (
                "cgroup2",
                lines
                    .iter()
                    .find(|l| l.id == "0" && l.controllers.is_empty()),
            ),
            "cgroup" => (
                "cgroup",
                lines.iter().find(|l| is_hierarchy_of(l, &m.super_opts)),
            ),
            _ => continue,
        };
        let Some(line) = line else { continue };
        if !seen.insert(line.id.clone()) {
            continue;
        }
        let host_source = match line.path.strip_prefix(&m.root) {
            Ok(rel) => Ok(m.mount_point.join(rel)),
            Err(_) => Err(format!(
                "own cgroup {:?} is not visible in the host mount {:?} (its root is {:?})",
                line.path, m.mount_point, m.root
            )),
        };
        let dir = m
            .mount_point
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "cgroup".into());
        out.push(Hierarchy {
            dir,
            fstype,
            controllers: line.controllers.clone(),
            host_source,
        });
    }
    out
}

fn is_hierarchy_of(line: &mountinfo::CgroupLine, super_opts: &str) -> bool {
    !line.controllers.is_empty()
        && line
            .controllers
            .split(',')
            .all(|c| super_opts.split(',').any(|o| o == c))
}

/// `lines`: our /proc/self/cgroup as it reads once we are placed, if
/// that may not have happened yet.
fn discover(rootfs: &Path, lines: Option<&str>) -> Result<Vec<Hierarchy>, StepError> {
    let mounts = mountinfo::read_self().map_err(StepError::op("read /proc/self/mountinfo"))?;
    let text = match lines {
        Some(text) => text.to_string(),
        None => crate::procfs::read::text("/proc/self/cgroup")
            .map_err(StepError::op("read /proc/self/cgroup"))?,
    };
    Ok(hierarchies(
        &mounts,
        &mountinfo::parse_cgroup_file(&text),
        rootfs,
    ))
}

pub fn mount_cgroup(
    root: &Root,
    env: &Env,
    e: &Entry<'_>,
    lines: Option<&str>,
) -> Result<(), StepError> {
    let hier = discover(root.path(), lines)?;
    if let [h] = hier.as_slice() {
        if h.fstype == "cgroup2" {
            return mount_one(root, env, e, h, e.dest.clone(), None);
        }
    }
    let tmpfs = Entry {
        dest: e.dest.clone(),
        source: Some(Path::new("tmpfs")),
        fstype: "tmpfs",
        opts: MountOptions {
            flags: DEFAULT_FLAGS,
            unknown: vec![(0, "mode=755".into())],
            propagation: e.opts.propagation.clone(),
            ..MountOptions::default()
        },
    };
    let top = mounts::mount_fs_top(root, env, &tmpfs)?;
    let fresh = env.private_mounts.then_some(top.as_fd());
    for h in &hier {
        mount_one(root, env, e, h, e.dest.join(&h.dir), fresh)?;
    }
    link_comounts(top.as_fd(), e, &hier)?;
    if e.opts.flags & libc::MS_RDONLY != 0 {
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | DEFAULT_FLAGS;
        sys::mount(None, &sys::fd_path(top.as_fd()), None, flags, None)
            .map_err(StepError::op(format!("remount {:?} read-only", e.dest)))?;
    }
    Ok(())
}

/// The mount point of hierarchy `h` under the destination, with a way to
/// find the mount that goes on it. In `fresh`, the tmpfs this mount just
/// put at the destination of a new mount namespace, only the init can
/// make or move anything: the directory is made and found again by name
/// under the tmpfs's root, without the scoped resolution and read-backs
/// that paths the image or other processes can change need. About 15
/// calls fewer per hierarchy, of which a hybrid host has a dozen.
struct Point<'a> {
    fd: OwnedFd,
    fresh: Option<(BorrowedFd<'a>, CString)>,
}

impl<'a> Point<'a> {
    fn make(
        root: &Root,
        dest: &Path,
        fstype: &str,
        fresh: Option<BorrowedFd<'a>>,
    ) -> Result<Self, StepError> {
        let Some(dir) = fresh else {
            let e = Entry {
                dest: dest.to_path_buf(),
                source: None,
                fstype: "bind",
                opts: MountOptions::default(),
            };
            let fd = mounts::mount_point(root, &e, Kind::Bind, false)?.fd;
            // Where the image decides what the path leads to, runc's rule
            // holds as for every mount: nothing but procfs on /proc. (The
            // fresh tmpfs's own destination was checked when it was made.)
            let real = root.container_path(fd.as_fd())?;
            mounts::check_destination(&real, Source::Fs(fstype))?;
            return Ok(Point { fd, fresh: None });
        };
        let name = dest.file_name().unwrap_or_default();
        let cname = sys::cstring(name).map_err(StepError::op(format!("name {name:?}")))?;
        let fd = resolve::mkdir_open(dir, &cname, dest)?;
        Ok(Point {
            fd,
            fresh: Some((dir, cname)),
        })
    }

    /// The mount now on the point.
    fn reopen(&self, root: &Root, dest: &Path) -> Result<OwnedFd, StepError> {
        match &self.fresh {
            Some((dir, name)) => sys::open_entry(*dir, name)
                .map_err(StepError::op(format!("reopen {dest:?} after mount"))),
            None => root.reopen(self.fd.as_fd()),
        }
    }
}

/// One hierarchy at `dest`: fresh with a cgroup namespace, else a bind of
/// our own cgroup. A fresh mount that the kernel refuses falls back to the
/// bind, as runc does for cgroup2. `fresh`: see `Point`.
fn mount_one(
    root: &Root,
    env: &Env,
    e: &Entry<'_>,
    h: &Hierarchy,
    dest: PathBuf,
    fresh: Option<BorrowedFd<'_>>,
) -> Result<(), StepError> {
    let point = Point::make(root, &dest, h.fstype, fresh)?;
    if env.cgroupns {
        let flags = DEFAULT_FLAGS | (e.opts.flags & libc::MS_RDONLY);
        let data = (h.fstype == "cgroup").then_some(h.controllers.as_str());
        let fdp = sys::fd_path(point.fd.as_fd());
        match sys::mount(Some(Path::new(h.fstype)), &fdp, Some(h.fstype), flags, data) {
            Ok(()) if !e.opts.needs_after() => return Ok(()),
            Ok(()) => {
                let top = point.reopen(root, &dest)?;
                return mounts::apply_after(top.as_fd(), &e.opts, &dest);
            }
            Err(err) if sys::is_errno(&err, libc::EPERM) || sys::is_errno(&err, libc::EBUSY) => {}
            Err(err) => {
                let op = format!(
                    "mount {} on {dest:?} (type {}, {:?})",
                    h.fstype, h.fstype, h.controllers
                );
                return Err(StepError::sys(op, err));
            }
        }
    }
    let source = h
        .host_source
        .as_ref()
        .map_err(|msg| StepError::Refused(msg.clone()))?;
    let bind_entry = Entry {
        dest,
        source: Some(source),
        fstype: "bind",
        opts: MountOptions {
            flags: e.opts.flags | libc::MS_BIND | libc::MS_REC,
            ..e.opts.clone()
        },
    };
    bind::bind_on(point.fd.as_fd(), source, &bind_entry, || {
        point.reopen(root, &bind_entry.dest)
    })
}

/// Co-mounted controllers ("cpu,cpuacct") also answer to each name, via
/// symlinks next to the hierarchy's directory.
fn link_comounts(dir: BorrowedFd<'_>, e: &Entry<'_>, hier: &[Hierarchy]) -> Result<(), StepError> {
    let comounted: Vec<&Hierarchy> = hier
        .iter()
        .filter(|h| h.dir.as_bytes().contains(&b','))
        .collect();
    if comounted.is_empty() {
        return Ok(());
    }
    for h in comounted {
        let target = sys::cstring(&h.dir).map_err(StepError::op("symlink target"))?;
        for name in h.dir.as_bytes().split(|b| *b == b',') {
            let cname = sys::cstring(std::ffi::OsStr::from_bytes(name))
                .map_err(StepError::op("symlink name"))?;
            match sys::symlinkat(&target, dir, &cname) {
                Err(err) if !sys::is_errno(&err, libc::EEXIST) => {
                    let op = format!(
                        "symlink {:?} -> {:?}",
                        e.dest.join(std::ffi::OsStr::from_bytes(name)),
                        h.dir
                    );
                    return Err(StepError::sys(op, err));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hybrid_host() {
        let mounts = mountinfo::parse(
            "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
90 80 0:32 / /run/rootfs/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
91 23 0:32 /x /elsewhere rw - cgroup cgroup rw,memory
",
        );
        let lines = mountinfo::parse_cgroup_file(
            "9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/\n0::/c\n",
        );
        let h = hierarchies(&mounts, &lines, Path::new("/run/rootfs"));
        let dirs: Vec<&str> = h.iter().map(|h| h.dir.to_str().unwrap()).collect();
        assert_eq!(dirs, ["cpu,cpuacct", "memory", "systemd", "unified"]);
        assert_eq!(
            h[1].host_source,
            Ok(PathBuf::from("/sys/fs/cgroup/memory/a/b"))
        );
        assert_eq!(h[2].controllers, "name=systemd");
        assert_eq!(h[3].fstype, "cgroup2");
        assert_eq!(
            h[3].host_source,
            Ok(PathBuf::from("/sys/fs/cgroup/unified/c"))
        );
    }

    #[test]
    fn own_cgroup_outside_mount_root_cannot_be_bound() {
        let mounts = mountinfo::parse(
            "35 31 0:32 /../.. /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        let lines = mountinfo::parse_cgroup_file("4:memory:/\n");
        let h = hierarchies(&mounts, &lines, Path::new("/r"));
        assert_eq!(h.len(), 1);
        assert!(h[0].host_source.is_err());
    }
}
