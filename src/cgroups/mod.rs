//! Control groups: where a container's processes live and what limits
//! them. The host layout (pure v1, hybrid, pure v2) is detected from
//! /proc/self/mountinfo; one cgroup path (from `linux.cgroupsPath`) names
//! the container's directory in every hierarchy; each resource is applied
//! by the controller that carries it on this host (see `apply`), with one
//! file per controller under `v1/` and `v2/`.
//!
//! Each resource goes to its v1 controller where that is mounted, else to
//! cgroup2 (so a hybrid host uses both, and a pure v2 host only cgroup2,
//! with device rules as an eBPF program). pause/resume use the v1 freezer
//! where mounted, else cgroup.freeze.

mod apply;
mod clone;
mod convert;
mod device_rules;
mod error;
#[cfg(test)]
mod fake;
mod fs;
pub mod grace;
mod layout;
pub mod oom;
mod path;
mod self_join;
pub mod stats;
#[cfg(test)]
mod tests;
mod v1;
mod v2;
mod validate;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResources, Spec};
use serde::{Deserialize, Serialize};

pub use clone::clone_into;
pub use error::CgroupError;
pub use fs::is_cgroup2_root;
pub use layout::{Hierarchy, Kind, Layout};
pub use self_join::TaskFiles;

use fs::{Dir, Files};

/// A container's cgroup: the same path in every hierarchy of the host.
/// Stored in the container's state, so that later commands find the
/// directories the container was created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// Absolute cgroup path, e.g. `/keel/<id>`.
    path: PathBuf,
    /// A parent that keel chose (the default `/keel`), removed by `remove`
    /// when no other container uses it.
    prune: Option<PathBuf>,
    layout: Layout,
}

/// One of the container's directories.
struct Place<'a> {
    hierarchy: &'a Hierarchy,
    dir: PathBuf,
    v1: bool,
}

enum Freezer {
    V1(Dir),
    V2(PathBuf),
}

/// v1 hierarchies whose cgroup.procs lists the container's processes, in
/// order of preference for `pids` (every container has them on v1).
const PIDS_FROM: &[&str] = &["pids", "freezer", "memory", "cpu", "devices"];

impl Cgroup {
    /// Detect the host layout and resolve `linux.cgroupsPath`: an absolute
    /// path is used as given under each hierarchy, a relative one from each
    /// hierarchy's root (not the caller's cgroup), and none gives
    /// `/keel/<id>`.
    pub fn for_container(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        Cgroup::with_layout(Layout::detect()?, cgroups_path, id)
    }

    pub fn with_layout(
        layout: Layout,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let (path, prune) = path::resolve(cgroups_path, id)?;
        let cg = Cgroup {
            path,
            prune,
            layout,
        };
        // Every hierarchy must be able to show the path.
        cg.places()?;
        Ok(cg)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn kind(&self) -> Kind {
        self.layout.kind()
    }

    /// The container's directory in each hierarchy: v1 ones, then cgroup2.
    fn places(&self) -> Result<Vec<Place<'_>>, CgroupError> {
        let v1 = self.layout.v1.iter().map(|h| (h, true));
        let v2 = self.layout.unified.iter().map(|h| (h, false));
        v1.chain(v2)
            .map(|(hierarchy, v1)| {
                let dir = path::host_dir(hierarchy, &self.path)?;
                Ok(Place { hierarchy, dir, v1 })
            })
            .collect()
    }

    /// The container's directory in the v1 hierarchy of `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        let h = self.layout.v1(controller)?;
        path::host_dir(h, &self.path).ok()
    }

    /// The container's directory in the cgroup2 hierarchy.
    pub fn unified_dir(&self) -> Option<PathBuf> {
        path::host_dir(self.layout.unified.as_ref()?, &self.path).ok()
    }

    /// Make the container's directory in every mounted hierarchy (so that
    /// pause, ps and stats work whatever the config limits) and apply
    /// `resources`. On error, whatever this call made is removed again.
    pub fn create(&self, resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
        let mut made = Vec::new();
        let result = self.create_dirs(&mut made).and_then(|()| match resources {
            Some(r) => apply::apply(&self.layout, &self.path, r),
            None => Ok(()),
        });
        if result.is_err() {
            self.undo(&made);
        }
        result
    }

    fn create_dirs(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        for p in self.places()? {
            let mount = &p.hierarchy.mount_point;
            made.extend(fs::make_dirs(mount, &p.dir)?);
            if p.v1 {
                v1::prepare(&p.hierarchy.controllers, &v1::chain(mount, &p.dir))?;
            } else {
                v2::enable_wanted(mount, &p.dir, &p.hierarchy.controllers);
            }
        }
        Ok(())
    }

    /// Remove what a failed create made, deepest first. Only the
    /// container's own directory is removed with its contents: a parent
    /// made by this call may meanwhile hold another container's cgroup.
    fn undo(&self, made: &[PathBuf]) {
        let leaves: Vec<PathBuf> = self
            .places()
            .map_or_else(|_| Vec::new(), |ps| ps.into_iter().map(|p| p.dir).collect());
        for dir in made.iter().rev() {
            if leaves.contains(dir) {
                let _ = fs::remove_tree(dir);
            } else {
                fs::prune(dir);
            }
        }
    }

    /// Move `pid` (a whole process) into the container's cgroup in every
    /// hierarchy.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        self.add_after_clone(pid, false, false)
    }

    /// The container's cgroup2 directory, opened for
    /// clone3(CLONE_INTO_CGROUP); None without a cgroup2 hierarchy.
    pub fn unified_fd(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.unified_dir()?;
        let flags = libc::O_DIRECTORY | libc::O_PATH | libc::O_CLOEXEC;
        let file = std::fs::File::options()
            .read(true)
            .custom_flags(flags)
            .open(dir)
            .ok()?;
        Some(file.into())
    }

    /// The container's directories in the v1 hierarchies.
    pub fn v1_dirs(&self) -> Result<Vec<PathBuf>, CgroupError> {
        Ok(self
            .places()?
            .into_iter()
            .filter(|p| p.v1)
            .map(|p| p.dir)
            .collect())
    }

    /// `add` for a process that clone3 may already have started in the
    /// cgroup2 directory (`in_unified`), and that may join the v1 ones
    /// itself (`TaskFiles`, `v1_joined`): only the other hierarchies remain.
    pub fn add_after_clone(
        &self,
        pid: i32,
        in_unified: bool,
        v1_joined: bool,
    ) -> Result<(), CgroupError> {
        let left = |p: &Place| if p.v1 { !v1_joined } else { !in_unified };
        for p in self.places()?.into_iter().filter(left) {
            let d = Dir(p.dir);
            let file = d.0.join("cgroup.procs");
            fs::Files::write(&d, "cgroup.procs", &pid.to_string())
                .map_err(|err| CgroupError::Join { pid, file, err })?;
        }
        Ok(())
    }

    /// `own`, a /proc/<pid>/cgroup text, as it reads once that process is
    /// placed: every hierarchy of the layout shows the container's path.
    pub fn proc_lines_once_placed(&self, own: &str) -> String {
        let path = self.path.to_string_lossy();
        let placed = |controllers: &str| match controllers {
            "" => self.layout.unified.is_some(),
            _ => self.layout.v1_of_line(controllers).is_some(),
        };
        let mut out = String::with_capacity(own.len());
        for line in own.lines() {
            let mut parts = line.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(id), Some(controllers), Some(_)) if placed(controllers) => {
                    out.push_str(&format!("{id}:{controllers}:{path}\n"))
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The container's processes, sorted (from its sub-cgroups too).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = PIDS_FROM
            .iter()
            .find_map(|c| self.v1_dir(c))
            .or_else(|| self.unified_dir())
            .ok_or_else(|| CgroupError::Layout("no hierarchy lists processes".into()))?;
        let mut pids = Vec::new();
        fs::procs_recursive(&dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// The v1 freezer where it is mounted, else cgroup2's.
    fn freezer(&self) -> Result<Freezer, CgroupError> {
        if let Some(dir) = self.v1_dir("freezer") {
            return Ok(Freezer::V1(Dir(dir)));
        }
        self.unified_dir()
            .map(Freezer::V2)
            .ok_or_else(|| CgroupError::unsupported("pause", self.layout.why_missing("freezer")))
    }

    /// Stop every process of the container and wait until the kernel says
    /// they all are (see `v1::freezer` and `v2::freezer` for the wait).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(d) => v1::freezer::freeze(&d),
            Freezer::V2(dir) => v2::freezer::freeze(&dir),
        }
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(d) => v1::freezer::thaw(&d),
            Freezer::V2(dir) => v2::freezer::thaw(&dir),
        }
    }

    pub fn is_frozen(&self) -> bool {
        match self.freezer() {
            Ok(Freezer::V1(d)) => v1::freezer::is_frozen(&d),
            Ok(Freezer::V2(dir)) => v2::freezer::is_frozen(&Dir(dir)),
            Err(_) => false,
        }
    }

    /// SIGKILL every process of the container and its sub-cgroups in one
    /// step through cgroup2's cgroup.kill, which also catches a process
    /// forked while the kill runs. False where the kernel has no
    /// cgroup.kill (before 5.14) or there is no cgroup2 hierarchy.
    pub fn kill_all(&self) -> Result<bool, CgroupError> {
        let Some(dir) = self.unified_dir().map(Dir) else {
            return Ok(false);
        };
        if !dir.exists("cgroup.kill") {
            return Ok(false);
        }
        fs::write(&dir, "kill", "cgroup.kill", "1")?;
        Ok(true)
    }

    /// Remove the container's directory (and any cgroups made inside it)
    /// from every hierarchy. Already gone is fine; processes still inside
    /// are an error naming the directory. Every hierarchy is tried; the
    /// first error is returned.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first = None;
        for p in self.places()? {
            if let Err(e) = fs::remove_tree(&p.dir) {
                first.get_or_insert(e);
            }
        }
        if let Some(parent) = &self.prune {
            for p in self.places()? {
                if let Ok(dir) = path::host_dir(p.hierarchy, parent) {
                    fs::prune(&dir);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Whether the container's directory is there in any hierarchy (a
    /// create that crashed may have named a cgroup it never made).
    pub fn exists(&self) -> bool {
        self.places()
            .is_ok_and(|ps| ps.iter().any(|p| p.dir.is_dir()))
    }

    /// Apply `resources` to the existing cgroup (for `update`).
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        apply::apply(&self.layout, &self.path, resources)
    }
}

/// Checks of `linux.cgroupsPath` and `linux.resources` without side
/// effects, as (JSON path, message): malformed or out-of-range values,
/// device rules with a bad type, resources and `unified` keys this host
/// cannot apply.
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    validate::validate(spec)
}

/// The resources to create a container's cgroup with: the config's
/// `linux.resources`, with the device rules completed by the devices every
/// container may use (as runc does).
pub fn container_resources(spec: &Spec) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    r.set_devices(Some(device_rules::container_rules(spec)));
    r
}
