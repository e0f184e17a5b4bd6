//! `linux.cgroupsPath` resolution. The result is one absolute cgroup path
//! used under every hierarchy. A relative path is taken from each
//! hierarchy's root, as crun does: runc resolves it under the caller's own
//! cgroup, which can be a cgroup the caller must not write to (on this
//! project's test machine, the management's memory cgroup).

use std::path::{Component, Path, PathBuf};

use super::error::CgroupError;
use super::layout::Hierarchy;

/// The parent of containers that do not name a cgroups path.
pub const DEFAULT_PARENT: &str = "/keel";

/// The container's cgroup path and, when keel chose it, the shared parent
/// that `remove` prunes once it is empty.
pub fn resolve(
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<(PathBuf, Option<PathBuf>), CgroupError> {
    let given = cgroups_path.filter(|p| !p.as_os_str().is_empty());
    let Some(given) = given else {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(CgroupError::Path {
                path: String::new(),
                msg: format!("container id {id:?} cannot name a cgroup"),
            });
        }
        let path = Path::new(DEFAULT_PARENT).join(id);
        return Ok((path, Some(PathBuf::from(DEFAULT_PARENT))));
    };
    let path = clean(given);
    if path == Path::new("/") {
        return Err(CgroupError::Path {
            path: given.display().to_string(),
            msg: "names the root of the cgroup hierarchies, which a container cannot own".into(),
        });
    }
    Ok((path, None))
}

/// Lexically clean a path and make it absolute: `a/./b//c/../d` becomes
/// `/a/b/d`; `..` never climbs above the root.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The directory of cgroup `path` in hierarchy `h`. A mount that shows
/// only a subtree (its root is not "/") can reach only paths inside it.
pub fn host_dir(h: &Hierarchy, path: &Path) -> Result<PathBuf, CgroupError> {
    let rel = path.strip_prefix(&h.root).map_err(|_| CgroupError::Path {
        path: path.display().to_string(),
        msg: format!(
            "outside the part of the hierarchy mounted at {} (which shows {})",
            h.mount_point.display(),
            h.root.display()
        ),
    })?;
    Ok(h.mount_point.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<&Path> {
        Some(Path::new(s))
    }

    #[test]
    fn absolute_relative_and_default() {
        let (path, prune) = resolve(p("/keel-test/1-2"), "x").unwrap();
        assert_eq!(path, Path::new("/keel-test/1-2"));
        assert_eq!(prune, None);
        // Relative: from the hierarchy root, not the caller's cgroup.
        assert_eq!(resolve(p("a/b"), "x").unwrap().0, Path::new("/a/b"));
        let (path, prune) = resolve(None, "web").unwrap();
        assert_eq!(path, Path::new("/keel/web"));
        assert_eq!(prune.as_deref(), Some(Path::new("/keel")));
        assert_eq!(resolve(p(""), "web").unwrap().0, Path::new("/keel/web"));
    }

    #[test]
    fn cleaning_and_refusals() {
        assert_eq!(clean(Path::new("a/./b//c/../d")), Path::new("/a/b/d"));
        assert_eq!(clean(Path::new("/../../x")), Path::new("/x"));
        assert_eq!(resolve(p("/a/../b/"), "x").unwrap().0, Path::new("/b"));
        let e = resolve(p("/.."), "x").unwrap_err().to_string();
        assert!(
            e.starts_with("linux.cgroupsPath \"/..\": names the root"),
            "{e}"
        );
        assert!(resolve(None, "a/b").is_err());
        assert!(resolve(None, "").is_err());
    }

    #[test]
    fn host_dirs_under_mount_roots() {
        let mut h = Hierarchy {
            controllers: vec!["memory".into()],
            mount_point: "/sys/fs/cgroup/memory".into(),
            root: "/".into(),
        };
        let dir = host_dir(&h, Path::new("/keel/a")).unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/keel/a"));
        h.root = "/outer".into();
        let dir = host_dir(&h, Path::new("/outer/keel/a")).unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/keel/a"));
        assert!(host_dir(&h, Path::new("/keel/a")).is_err());
    }
}
