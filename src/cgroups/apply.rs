//! Which hierarchy applies each resource. A resource goes to its v1
//! controller when that is mounted, else to cgroup2 when cgroup2 offers
//! the controller and keel has its v2 mapping; otherwise, if the config
//! sets it to anything but the default, the error names the field and
//! what the host lacks. Never a silent skip.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::error::CgroupError;
use super::fs::{Dir, Files};
use super::layout::{Hierarchy, Layout};
use super::path::host_dir;
use super::{v1, v2};

type Requested = fn(&LinuxResources) -> Vec<&'static str>;
type Apply = fn(&dyn Files, &LinuxResources) -> Result<(), CgroupError>;
type Refused = fn(&LinuxResources) -> Vec<(String, String)>;

/// How a resource is done on cgroup2.
enum V2 {
    /// Not at all (v1-only controllers).
    None,
    /// Files of `controller`, which must be enabled; `refused` lists the
    /// fields v2 cannot express.
    Controller {
        controller: &'static str,
        apply: Apply,
        refused: Refused,
    },
    /// Device rules: an eBPF program, on any cgroup2 directory.
    Devices,
}

struct Resource {
    v1: &'static str,
    requested: Requested,
    apply_v1: Apply,
    v2: V2,
}

fn nothing_refused(_: &LinuxResources) -> Vec<(String, String)> {
    Vec::new()
}

/// In the order they are applied: devices first so the container is
/// confined before anything else, cpuset before cpu (the kernel ties
/// realtime and bandwidth checks to the cpus).
const RESOURCES: &[Resource] = &[
    Resource {
        v1: "devices",
        requested: v1::devices::requested,
        apply_v1: v1::devices::apply,
        v2: V2::Devices,
    },
    Resource {
        v1: "memory",
        requested: v1::memory::requested,
        apply_v1: v1::memory::apply,
        v2: V2::Controller {
            controller: "memory",
            apply: v2::memory::apply,
            refused: v2::memory::refused,
        },
    },
    Resource {
        v1: "cpuset",
        requested: v1::cpuset::requested,
        apply_v1: v1::cpuset::apply,
        v2: V2::Controller {
            controller: "cpuset",
            apply: v1::cpuset::apply,
            refused: nothing_refused,
        },
    },
    Resource {
        v1: "cpu",
        requested: v1::cpu::requested,
        apply_v1: v1::cpu::apply,
        v2: V2::Controller {
            controller: "cpu",
            apply: v2::cpu::apply,
            refused: v2::cpu::refused,
        },
    },
    Resource {
        v1: "pids",
        requested: v1::pids::requested,
        apply_v1: v1::pids::apply,
        v2: V2::Controller {
            controller: "pids",
            apply: v1::pids::apply,
            refused: nothing_refused,
        },
    },
    Resource {
        v1: "blkio",
        requested: v1::blkio::requested,
        apply_v1: v1::blkio::apply,
        v2: V2::Controller {
            controller: "io",
            apply: v2::io::apply,
            refused: v2::io::refused,
        },
    },
    Resource {
        v1: "hugetlb",
        requested: v1::hugetlb::requested,
        apply_v1: v1::hugetlb::apply,
        v2: V2::Controller {
            controller: "hugetlb",
            apply: v2::hugetlb::apply,
            refused: nothing_refused,
        },
    },
    Resource {
        v1: "net_cls",
        requested: v1::net_cls::requested,
        apply_v1: v1::net_cls::apply,
        v2: V2::None,
    },
    Resource {
        v1: "net_prio",
        requested: v1::net_prio::requested,
        apply_v1: v1::net_prio::apply,
        v2: V2::None,
    },
    Resource {
        v1: "rdma",
        requested: v2::rdma::requested,
        apply_v1: v2::rdma::apply,
        v2: V2::Controller {
            controller: "rdma",
            apply: v2::rdma::apply,
            refused: nothing_refused,
        },
    },
];

/// Where one resource goes on this host.
enum Target<'a> {
    V1(&'a Hierarchy),
    V2(&'a Hierarchy),
    Nowhere(String),
}

fn target<'a>(layout: &'a Layout, r: &Resource) -> Target<'a> {
    if let Some(h) = layout.v1(r.v1) {
        return Target::V1(h);
    }
    match (&r.v2, &layout.unified) {
        (V2::Devices, Some(u)) => Target::V2(u),
        (V2::Controller { controller, .. }, Some(u)) if layout.v2_has(controller) => Target::V2(u),
        (V2::Controller { controller, .. }, _) => Target::Nowhere(layout.why_missing(controller)),
        _ => Target::Nowhere(layout.why_missing(r.v1)),
    }
}

/// Resources set in `res` that the host cannot apply, as (JSON path,
/// reason); `apply` refuses them before writing anything.
pub fn unsupported(layout: &Layout, res: &LinuxResources) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in RESOURCES {
        match (target(layout, r), &r.v2) {
            (Target::Nowhere(why), _) => {
                for field in (r.requested)(res) {
                    out.push((field.to_string(), why.clone()));
                }
            }
            (Target::V2(_), V2::Controller { refused, .. }) => {
                out.extend(refused(res));
            }
            _ => {}
        }
    }
    out
}

/// Apply `res` to the container's cgroup `path` on every hierarchy.
pub fn apply(layout: &Layout, path: &Path, res: &LinuxResources) -> Result<(), CgroupError> {
    if let Some((field, reason)) = unsupported(layout, res).into_iter().next() {
        return Err(CgroupError::Unsupported { field, reason });
    }
    // The cgroup2 directory's controllers, read when first needed.
    let mut unified = None;
    for r in RESOURCES {
        let requested = (r.requested)(res);
        match (target(layout, r), &r.v2) {
            (Target::V1(h), _) => (r.apply_v1)(&Dir(host_dir(h, path)?), res)?,
            (Target::V2(u), V2::Devices) => v2::devices::apply(&host_dir(u, path)?, res)?,
            (
                Target::V2(u),
                V2::Controller {
                    controller, apply, ..
                },
            ) => {
                let cg = unified_of(&mut unified, u, path)?;
                match requested.first() {
                    Some(field) => cg.enable(controller, field)?,
                    // Defaults (an update back to unlimited) still go to
                    // a controller the cgroup already has.
                    None if !cg.has(controller) => continue,
                    None => {}
                }
                apply(&cg.dir, res)?;
            }
            _ => {}
        }
    }
    if let Some(map) = res.unified().as_ref().filter(|m| !m.is_empty()) {
        let Some(u) = &layout.unified else {
            return Err(CgroupError::unsupported(
                "linux.resources.unified",
                "this host has no cgroup2 hierarchy",
            ));
        };
        v2::apply_unified(layout, unified_of(&mut unified, u, path)?, map)?;
    }
    Ok(())
}

/// `cache`, or the container's cgroup `path` in cgroup2 `u` read into it.
fn unified_of<'c, 'm>(
    cache: &'c mut Option<v2::Unified<'m>>,
    u: &'m Hierarchy,
    path: &Path,
) -> Result<&'c mut v2::Unified<'m>, CgroupError> {
    if cache.is_none() {
        *cache = Some(v2::Unified::read(&u.mount_point, host_dir(u, path)?));
    }
    Ok(cache.as_mut().expect("filled above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::layout::tests::host;

    #[test]
    fn where_each_resource_goes_on_this_host() {
        let l = host();
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000},"hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "network":{"classID":1,"priorities":[{"name":"lo","priority":1}]},
                "rdma":{"mlx5_0":{"hcaHandles":1}}}"#,
        )
        .unwrap();
        let problems = unsupported(&l, &res);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "linux.resources.network.classID",
                "linux.resources.network.priorities",
                "linux.resources.rdma"
            ]
        );
        assert!(
            problems[0]
                .1
                .contains("net_cls controller is neither mounted"),
            "{problems:?}"
        );
        let quiet: LinuxResources =
            serde_json::from_str(r#"{"network":{"classID":0,"priorities":[]}}"#).unwrap();
        assert!(
            unsupported(&l, &quiet).is_empty(),
            "defaults need no controller"
        );
    }

    fn pure_v2(controllers: &str) -> Layout {
        let mi = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        Layout::parse(mi, "0::/\n", |_| Some(controllers.into())).unwrap()
    }

    #[test]
    fn where_each_resource_goes_on_a_pure_v2_host() {
        let l = pure_v2("cpuset cpu io memory pids");
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000,"swappiness":10,"disableOOMKiller":false},
                "cpu":{"shares":512,"realtimeRuntime":100},
                "blockIO":{"weight":100,"leafWeight":10},
                "devices":[{"allow":false,"access":"rwm"}],
                "hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "network":{"classID":1}}"#,
        )
        .unwrap();
        let problems = unsupported(&l, &res);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "linux.resources.memory.swappiness",
                "linux.resources.cpu.realtimeRuntime",
                "linux.resources.blockIO.leafWeight",
                "linux.resources.hugepageLimits",
                "linux.resources.network.classID",
            ]
        );
        assert_eq!(
            problems[3].1,
            "the cgroup2 hierarchy at /sys/fs/cgroup does not offer the hugetlb controller \
             (its cgroup.controllers: \"cpuset cpu io memory pids\")"
        );
        assert!(
            matches!(target(&l, &RESOURCES[0]), Target::V2(_)),
            "devices by eBPF"
        );
        let memory = pure_v2("cpu");
        let e = apply(&memory, Path::new("/keel/x"), &res)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "linux.resources.memory.limit: not supported on this host: the \
                           cgroup2 hierarchy at /sys/fs/cgroup does not offer the memory"
            ),
            "{e}"
        );
    }
}
