//! A container's resource usage as `events` reports it, in runc's format
//! (see `types`). Each part is read from the v1 controller that carries it
//! on this host, else from the cgroup2 directory, so pure v1, hybrid and
//! pure v2 hosts all give the same document.

mod parse;
mod types;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

pub use types::*;

use super::fs::{Dir, Files};
use super::Cgroup;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("read {}: {err}", file.display())]
    Read { file: PathBuf, err: io::Error },
    #[error("{}: {msg}", file.display())]
    Parse { file: PathBuf, msg: String },
}

/// Where a container's stats live: its directory per v1 controller, and its
/// cgroup2 directory.
#[derive(Debug, Default)]
pub struct Dirs {
    pub v1: BTreeMap<String, PathBuf>,
    pub unified: Option<PathBuf>,
}

/// The v1 controllers whose stats runc reports.
const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "hugetlb",
];

impl Dirs {
    pub fn of(cg: &Cgroup) -> Dirs {
        let v1 = V1_CONTROLLERS
            .iter()
            .filter_map(|c| Some((c.to_string(), cg.v1_dir(c)?)))
            .collect();
        Dirs {
            v1,
            unified: cg.unified_dir(),
        }
    }

    fn v1(&self, controller: &str) -> Option<Dir> {
        self.v1.get(controller).cloned().map(Dir)
    }
}

/// The container's stats now.
pub fn collect(cg: &Cgroup) -> Result<Stats, StatsError> {
    collect_from(&Dirs::of(cg), &parse::host_hugepage_sizes())
}

/// Stats from `dirs`, with the host's hugepage sizes `sizes`.
pub fn collect_from(dirs: &Dirs, sizes: &[String]) -> Result<Stats, StatsError> {
    let mut s = Stats::default();
    let unified = dirs.unified.clone().map(Dir);
    let v2 = unified.as_ref().map(|d| d as &dyn Files);
    // Each part: the v1 readers if any of their controllers is mounted,
    // else the cgroup2 reader.
    let cpu_v1 = [dirs.v1("cpu"), dirs.v1("cpuacct")];
    if let Some(d) = &cpu_v1[0] {
        v1::cpu(d, &mut s)?;
    }
    if let Some(d) = &cpu_v1[1] {
        v1::cpuacct(d, &mut s)?;
    }
    if let (None, None, Some(d)) = (&cpu_v1[0], &cpu_v1[1], v2) {
        v2::cpu(d, &mut s)?;
    }
    if let Some(d) = dirs.v1("cpuset") {
        v1::cpuset(&d, &mut s)?;
    }
    match (dirs.v1("memory"), v2) {
        (Some(d), _) => v1::memory(&d, &mut s)?,
        (None, Some(d)) => v2::memory(d, &mut s)?,
        _ => {}
    }
    match (dirs.v1("pids"), v2) {
        (Some(d), _) => v1::pids(&d, &mut s)?,
        (None, Some(d)) => v2::pids(d, &mut s)?,
        _ => {}
    }
    match (dirs.v1("blkio"), v2) {
        (Some(d), _) => v1::blkio(&d, &mut s)?,
        (None, Some(d)) => v2::io(d, &mut s)?,
        _ => {}
    }
    match (dirs.v1("hugetlb"), v2) {
        (Some(d), _) => v1::hugetlb(&d, sizes, &mut s)?,
        (None, Some(d)) => v2::hugetlb(d, sizes, &mut s)?,
        _ => {}
    }
    Ok(s)
}
