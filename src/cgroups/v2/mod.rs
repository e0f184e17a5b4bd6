//! cgroup2 (the unified hierarchy): the whole host on a pure v2 system, or
//! the extra `unified` mount of a hybrid one. One file per controller
//! (memory, cpu, io, hugetlb, rdma; pids and cpuset share v1's files,
//! which have the same names and values), the freezer, device rules as an
//! eBPF program, enabling controllers down the tree, and
//! `linux.resources.unified` keys.

mod bpf;
pub mod cpu;
pub mod device_prog;
pub mod devices;
pub mod events;
pub mod freezer;
pub mod hugetlb;
pub mod io;
pub mod memory;
pub mod rdma;

use std::collections::HashMap;
use std::path::Path;

use super::error::CgroupError;
use super::fs::{self, Dir, Files};
use super::layout::Layout;
use super::v1;

/// cgroup.* keys a config may set; the others (procs, threads, type,
/// subtree_control, freeze, kill) belong to the runtime.
const CGROUP_KEYS: &[&str] = &["cgroup.max.depth", "cgroup.max.descendants"];

/// Controllers every container gets where cgroup2 offers them, whether or
/// not its config limits them, so that stats and later updates work.
pub const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

/// The fields among `checks` that a config sets but cgroup v2 has no file
/// for, as (JSON path, why): each check is (set to anything but the
/// default, path, why). The controllers' `refused` lists are built this
/// way, so `validate` reports every one and `apply` the first.
pub fn refusals<F: Into<String>>(
    checks: impl IntoIterator<Item = (bool, F, &'static str)>,
) -> Vec<(String, String)> {
    checks
        .into_iter()
        .filter(|(set, _, _)| *set)
        .map(|(_, field, why)| (field.into(), why.to_string()))
        .collect()
}

/// Refuse the first of `refused` before anything is written.
pub fn refuse_first(refused: Vec<(String, String)>) -> Result<(), CgroupError> {
    match refused.into_iter().next() {
        Some((field, why)) => Err(CgroupError::unsupported(field, why)),
        None => Ok(()),
    }
}

/// Enable the `WANTED` controllers that `offered` lists, for the cgroup at
/// `dir`. Best effort: no resource asked for them, and a parent that holds
/// processes (which cgroup2 forbids to enable controllers) is the caller's
/// business; a resource that needs one enables it strictly. Each parent's
/// cgroup.subtree_control is read once for all of them.
pub fn enable_wanted(mount: &Path, dir: &Path, offered: &[String]) {
    let mut todo: Vec<&str> = WANTED
        .iter()
        .copied()
        .filter(|c| offered.iter().any(|o| o == c))
        .collect();
    if todo.is_empty() {
        return;
    }
    let cg = Unified::read(mount, dir.to_path_buf());
    todo.retain(|c| !cg.has(c));
    for p in parents(mount, dir) {
        if todo.is_empty() {
            return;
        }
        let d = Dir(p);
        let enabled = match fs::read(&d, "cgroup setup", "cgroup.subtree_control") {
            Ok(enabled) => enabled,
            Err(e) => return crate::logging::debug(&format!("cgroup2: {e}")),
        };
        // A controller that cannot be enabled here cannot be below either.
        todo.retain(|c| {
            let field = format!("cgroup setup (enable the {c} controller)");
            let on = enabled.split_whitespace().any(|x| x == *c)
                || fs::write(&d, &field, "cgroup.subtree_control", &format!("+{c}"))
                    .map_err(|e| crate::logging::debug(&format!("cgroup2: {e}")))
                    .is_ok();
            on
        });
    }
}

/// A container's cgroup2 directory and the controllers it is offered: its
/// cgroup.controllers, read once for all the resources applied to it and
/// kept up to date by `enable`. That file is its parent's subtree_control,
/// which the kernel keeps within the parent's own cgroup.controllers, and
/// so on up: a controller listed there is enabled in every ancestor.
pub struct Unified<'m> {
    mount: &'m Path,
    pub dir: Dir,
    offered: Vec<String>,
}

impl<'m> Unified<'m> {
    /// The cgroup at `dir` in the hierarchy mounted at `mount`. A file
    /// that cannot be read offers nothing: `enable` then goes through the
    /// parents, and a write fails naming its file.
    pub fn read(mount: &'m Path, dir: std::path::PathBuf) -> Unified<'m> {
        let dir = Dir(dir);
        let text = dir.read("cgroup.controllers").unwrap_or_default();
        let offered = text.split_whitespace().map(String::from).collect();
        Unified {
            mount,
            dir,
            offered,
        }
    }

    pub fn has(&self, controller: &str) -> bool {
        self.offered.iter().any(|c| c == controller)
    }

    /// Make `controller` available to the cgroup: cgroup2 offers it only
    /// if every ancestor lists it in cgroup.subtree_control. Ancestors hold
    /// no processes (keel's parents, or the root, which is exempt), so
    /// enabling is allowed. It is never undone: sibling containers may
    /// rely on it. `field` names what needs it, for errors.
    pub fn enable(&mut self, controller: &str, field: &str) -> Result<(), CgroupError> {
        if self.has(controller) {
            return Ok(());
        }
        let field = format!("{field} (enable the {controller} controller)");
        for p in parents(self.mount, &self.dir.0) {
            let d = Dir(p);
            let enabled = fs::read(&d, &field, "cgroup.subtree_control")?;
            if !enabled.split_whitespace().any(|c| c == controller) {
                let value = format!("+{controller}");
                fs::write(&d, &field, "cgroup.subtree_control", &value)?;
            }
        }
        self.offered.push(controller.to_string());
        Ok(())
    }
}

/// The cgroups above `dir`, top-down from the hierarchy's root `mount`.
fn parents(mount: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let mut parents = vec![mount.to_path_buf()];
    parents.extend(v1::chain(mount, dir));
    parents.pop();
    parents
}

/// The JSON path of one unified key.
pub fn unified_field(key: &str) -> String {
    format!("linux.resources.unified[{key:?}]")
}

/// Check a `linux.resources.unified` key against the host; returns the
/// controller to enable for it (None for cgroup.* keys).
pub fn check_key<'k>(key: &'k str, layout: &Layout) -> Result<Option<&'k str>, String> {
    let Some(u) = &layout.unified else {
        return Err("this host has no cgroup2 hierarchy to write it to".into());
    };
    let Some((prefix, rest)) = key.split_once('.') else {
        return Err("must be a cgroup2 file name like \"memory.high\"".into());
    };
    if prefix.is_empty() || rest.is_empty() || key.contains('/') {
        return Err("must be a cgroup2 file name like \"memory.high\"".into());
    }
    if prefix == "cgroup" {
        return if CGROUP_KEYS.contains(&key) {
            Ok(None)
        } else {
            Err("is managed by the runtime, not the config".into())
        };
    }
    if u.controllers.iter().any(|c| c == prefix) {
        return Ok(Some(prefix));
    }
    let where_ = match layout.v1(prefix) {
        Some(h) => format!(
            "; it is a cgroup v1 controller here (mounted at {}), set through its own \
             linux.resources field",
            h.mount_point.display()
        ),
        None => String::new(),
    };
    Err(format!(
        "cgroup2 at {} does not offer the {prefix} controller (its cgroup.controllers: {:?}){where_}",
        u.mount_point.display(),
        u.controllers.join(" ")
    ))
}

/// Write each unified key (in key order) into the container's cgroup2 dir.
pub fn apply_unified(
    layout: &Layout,
    cg: &mut Unified,
    map: &HashMap<String, String>,
) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let field = unified_field(key);
        let controller = check_key(key, layout).map_err(|msg| CgroupError::invalid(&field, msg))?;
        if let Some(c) = controller {
            cg.enable(c, &field)?;
        }
        fs::write(&cg.dir as &dyn Files, &field, key, &map[key])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::layout::tests::host;
    use std::path::PathBuf;

    /// A tree of plain files posing as cgroup2 (a write lands at offset
    /// 0, so a file shows the last value written to it).
    fn fake_tree(name: &str, parents_enabled: &str, offered: &str) -> (PathBuf, PathBuf) {
        let mount = std::env::temp_dir().join(format!("keel-{name}-{}", std::process::id()));
        let dir = mount.join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        for p in [&mount, &mount.join("a")] {
            std::fs::write(p.join("cgroup.subtree_control"), parents_enabled).unwrap();
        }
        std::fs::write(dir.join("cgroup.controllers"), offered).unwrap();
        (mount, dir)
    }

    #[test]
    fn wanted_controllers_are_enabled_down_the_tree_once() {
        let read = |p: &Path| std::fs::read_to_string(p.join("cgroup.subtree_control")).unwrap();
        let offered = ["cpu", "memory", "hugetlb"].map(String::from);
        let (mount, dir) = fake_tree("enable-some", "cpu", "cpu");
        enable_wanted(&mount, &dir, &offered);
        assert_eq!(read(&mount), "+memory", "cpu listed, memory written");
        assert_eq!(read(&mount.join("a")), "+memory");
        std::fs::remove_dir_all(&mount).unwrap();

        // Offered to the container already: its parents are left alone.
        let (mount, dir) = fake_tree("enable-none", "cpu", "cpu memory");
        enable_wanted(&mount, &dir, &offered);
        Unified::read(&mount, dir)
            .enable("memory", "linux.resources.memory")
            .unwrap();
        assert_eq!(
            (read(&mount), read(&mount.join("a"))),
            ("cpu".into(), "cpu".into())
        );
        std::fs::remove_dir_all(&mount).unwrap();
    }

    #[test]
    fn unified_keys_on_this_host() {
        let l = host();
        assert_eq!(check_key("hugetlb.2MB.max", &l), Ok(Some("hugetlb")));
        assert_eq!(check_key("cgroup.max.depth", &l), Ok(None));
        let e = check_key("memory.high", &l).unwrap_err();
        assert!(e.contains("does not offer the memory controller"), "{e}");
        assert!(e.contains("mounted at /sys/fs/cgroup/memory"), "{e}");
        assert!(check_key("cgroup.procs", &l)
            .unwrap_err()
            .contains("runtime"));
        assert!(check_key("nodot", &l).is_err());
        assert!(check_key("hugetlb.../x", &l).is_err());
        let v1_only = Layout {
            v1: l.v1.clone(),
            unified: None,
        };
        assert!(check_key("hugetlb.2MB.max", &v1_only)
            .unwrap_err()
            .contains("no cgroup2"));
        assert_eq!(unified_field("a.b"), "linux.resources.unified[\"a.b\"]");
    }
}
