//! cgroup v1: one hierarchy per controller (or per group of controllers
//! mounted together), each with its own directory for the container. One
//! file per controller maps the spec's resources to that controller's
//! files; each offers `requested` (the JSON paths set to a non-default
//! value, which therefore need the controller) and `apply`.

pub mod blkio;
pub mod cpu;
pub mod cpuset;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod memory;
pub mod net_cls;
pub mod net_prio;
pub mod pids;

use std::path::{Path, PathBuf};

use super::error::CgroupError;

/// Setup a hierarchy needs once the container's directory exists, before
/// resources are applied or tasks join. `chain` is every directory from
/// just below the mount point down to the container's, top-down.
pub fn prepare(controllers: &[String], chain: &[PathBuf]) -> Result<(), CgroupError> {
    if controllers.iter().any(|c| c == "cpuset") {
        cpuset::inherit(chain)?;
    }
    Ok(())
}

/// Every directory from below `mount` down to `dir`, top-down.
pub fn chain(mount: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|a| *a != mount && a.starts_with(mount))
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_from_the_mount_point_down() {
        let c = chain(Path::new("/m/cpuset"), Path::new("/m/cpuset/keel/a"));
        assert_eq!(
            c,
            [Path::new("/m/cpuset/keel"), Path::new("/m/cpuset/keel/a")]
        );
        assert!(chain(Path::new("/m/cpuset"), Path::new("/m/cpuset")).is_empty());
    }
}
