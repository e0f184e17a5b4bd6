//! Resolving and creating paths inside a root directory with openat2(2), so
//! that symlinks (absolute or `..`-laden) in the image are interpreted
//! relative to the rootfs and can never lead a mount out of it.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::error::StepError;
use super::sys;

/// Symlinks are followed, but scoped to the root; procfs magic links are not.
pub const IN_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
/// No symlink may appear anywhere in the path (implies no magic links).
pub const NO_SYMLINKS: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS;

/// The lexically cleaned components of a container path below `/`; `..`
/// stops at the root, as it does in the kernel.
pub fn components(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `path` cleaned lexically and made absolute.
pub fn clean(path: &Path) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(components(path));
    p
}

fn relative(components: &[OsString]) -> PathBuf {
    if components.is_empty() {
        PathBuf::from(".")
    } else {
        components.iter().collect()
    }
}

/// Make directory `name` in `dir` (an existing one will do) and open it
/// without following anything: whatever now sits at the name must be the
/// directory itself, not a planted symlink. `shown` names it in errors.
pub fn mkdir_open(dir: BorrowedFd<'_>, name: &CStr, shown: &Path) -> Result<OwnedFd, StepError> {
    match sys::mkdirat(dir, name, 0o755) {
        Err(e) if !sys::is_errno(&e, libc::EEXIST) => {
            return Err(StepError::sys(format!("mkdir {shown:?}"), e))
        }
        _ => {}
    }
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let scoped = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
    sys::openat2(dir, path, flags, 0, scoped)
        .map_err(StepError::op(format!("open new directory {shown:?}")))
}

/// Create `name` in `dir` as an empty file (an existing one will do) and
/// open it, refusing a symlink there. `shown` names it in errors.
pub fn create_file_in(
    dir: BorrowedFd<'_>,
    name: &CStr,
    shown: &Path,
) -> Result<OwnedFd, StepError> {
    let op = || format!("create file {:?}", clean(shown));
    match sys::create_file_at(dir, name, 0o644) {
        Err(e) if !sys::is_errno(&e, libc::EEXIST) => return Err(StepError::sys(op(), e)),
        _ => {}
    }
    sys::open_entry(dir, name).map_err(StepError::op(op()))
}

/// An O_PATH handle on a root directory plus its path as seen by us.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// A resolved mount point, and whether it existed before we looked.
pub struct Target {
    pub fd: OwnedFd,
    pub existed: bool,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = sys::open(path, libc::O_PATH | libc::O_DIRECTORY)?;
        // Containment checks compare against what the kernel reports for
        // resolved fds, so keep the kernel's spelling of the root as well.
        let path = sys::readlink_fd(fd.as_fd()).unwrap_or_else(|_| path.to_path_buf());
        Ok(Root { fd, path })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// openat2 of a container path from the root with the given scoping.
    pub fn open_at(&self, dest: &Path, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
        sys::openat2(self.fd(), &relative(&components(dest)), flags, 0, resolve)
    }

    /// An O_PATH handle on `dest`, symlinks followed inside the root.
    pub fn lookup(&self, dest: &Path) -> io::Result<OwnedFd> {
        self.open_at(dest, libc::O_PATH, IN_ROOT)
    }

    /// Open `dest` as a directory, creating every missing component with
    /// mkdirat(2) relative to its already-resolved parent.
    pub fn mkdir_all(&self, dest: &Path) -> Result<OwnedFd, StepError> {
        self.mkdir_below(dest, 0)
    }

    /// `mkdir_all` of a `dest` just found missing: the search for the
    /// deepest directory that exists starts at its parent.
    pub fn mkdir_missing(&self, dest: &Path) -> Result<OwnedFd, StepError> {
        self.mkdir_below(dest, 1)
    }

    fn mkdir_below(&self, dest: &Path, known_missing: usize) -> Result<OwnedFd, StepError> {
        let comps = components(dest);
        let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
        let mut start = comps.len().saturating_sub(known_missing);
        let mut dir = loop {
            match sys::openat2(self.fd(), &relative(&comps[..start]), dir_flags, 0, IN_ROOT) {
                Ok(fd) => break fd,
                Err(e) if sys::is_errno(&e, libc::ENOENT) && start > 0 => start -= 1,
                Err(e) => return Err(StepError::sys(format!("resolve {:?}", clean(dest)), e)),
            }
        };
        for (i, name) in comps.iter().enumerate().skip(start) {
            let shown = clean(&relative(&comps[..=i]));
            let cname = sys::cstring(name).map_err(StepError::op(format!("mkdir {shown:?}")))?;
            dir = mkdir_open(dir.as_fd(), &cname, &shown)?;
        }
        Ok(dir)
    }

    /// The directory that will contain `dest` (created if missing), and the
    /// final component's name.
    pub fn parent_dir(&self, dest: &Path) -> Result<(OwnedFd, CString), StepError> {
        let mut comps = components(dest);
        let Some(name) = comps.pop() else {
            return Err(StepError::Refused(
                "path resolves to the root itself".into(),
            ));
        };
        let parent: PathBuf = comps.iter().collect();
        let dir = self.mkdir_all(&parent)?;
        let cname = sys::cstring(&name).map_err(StepError::op(format!("name {name:?}")))?;
        Ok((dir, cname))
    }

    /// Create `dest` as a new empty file (parents as directories).
    pub fn create_file(&self, dest: &Path) -> Result<OwnedFd, StepError> {
        let (dir, name) = self.parent_dir(dest)?;
        create_file_in(dir.as_fd(), &name, dest)
    }

    /// Resolve `dest`, creating it (as a file or directory) if missing.
    pub fn open_or_create(&self, dest: &Path, as_file: bool) -> Result<Target, StepError> {
        match self.lookup(dest) {
            Ok(fd) => Ok(Target { fd, existed: true }),
            Err(e) if sys::is_errno(&e, libc::ENOENT) => {
                let fd = if as_file {
                    self.create_file(dest)?
                } else {
                    self.mkdir_missing(dest)?
                };
                Ok(Target { fd, existed: false })
            }
            Err(e) => Err(StepError::sys(format!("resolve {:?}", clean(dest)), e)),
        }
    }

    /// The container path `fd` refers to, checked to lie inside the root.
    pub fn container_path(&self, fd: BorrowedFd<'_>) -> Result<PathBuf, StepError> {
        let real = sys::readlink_fd(fd).map_err(StepError::op("read back resolved path"))?;
        self.inside(real)
    }

    /// `real`, a path as the kernel reports it, made relative to the root.
    fn inside(&self, real: PathBuf) -> Result<PathBuf, StepError> {
        if self.path == Path::new("/") {
            return Ok(real);
        }
        match real.strip_prefix(&self.path) {
            Ok(rest) => Ok(Path::new("/").join(rest)),
            Err(_) => Err(StepError::Refused(format!(
                "{real:?} is outside the rootfs {:?}",
                self.path
            ))),
        }
    }

    /// A fresh handle on the same path. After mounting on `fd`, the old fd
    /// still names the covered directory; this one names the new mount.
    pub fn reopen(&self, fd: BorrowedFd<'_>) -> Result<OwnedFd, StepError> {
        let before = sys::readlink_fd(fd).map_err(StepError::op("read back mount point"))?;
        let path = self.inside(before.clone())?;
        let new = self
            .lookup(&path)
            .map_err(StepError::op(format!("reopen {path:?} after mount")))?;
        let after =
            sys::readlink_fd(new.as_fd()).map_err(StepError::op("read back mount point"))?;
        if before != after {
            return Err(StepError::Refused(format!(
                "mount point {path:?} moved while it was being mounted"
            )));
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_cleaning_clamps_at_root() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(clean(Path::new("/../../etc")), PathBuf::from("/etc"));
        assert_eq!(clean(Path::new("dev//pts/")), PathBuf::from("/dev/pts"));
        assert_eq!(clean(Path::new("/")), PathBuf::from("/"));
        assert!(components(Path::new("/..")).is_empty());
        assert_eq!(relative(&[]), PathBuf::from("."));
    }
}
