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

struct Resource {
    v1: &'static str,
    v2: &'static str,
    requested: Requested,
    apply_v1: Apply,
    /// None: not mapped to cgroup2 yet.
    apply_v2: Option<Apply>,
}

/// In the order they are applied: devices first so the container is
/// confined before anything else, cpuset before cpu (the kernel ties
/// realtime and bandwidth checks to the cpus).
const RESOURCES: &[Resource] = &[
    Resource {
        v1: "devices",
        v2: "devices",
        requested: v1::devices::requested,
        apply_v1: v1::devices::apply,
        apply_v2: None,
    },
    Resource {
        v1: "memory",
        v2: "memory",
        requested: v1::memory::requested,
        apply_v1: v1::memory::apply,
        apply_v2: None,
    },
    Resource {
        v1: "cpuset",
        v2: "cpuset",
        requested: v1::cpuset::requested,
        apply_v1: v1::cpuset::apply,
        apply_v2: None,
    },
    Resource {
        v1: "cpu",
        v2: "cpu",
        requested: v1::cpu::requested,
        apply_v1: v1::cpu::apply,
        apply_v2: None,
    },
    Resource {
        v1: "pids",
        v2: "pids",
        requested: v1::pids::requested,
        apply_v1: v1::pids::apply,
        apply_v2: None,
    },
    Resource {
        v1: "blkio",
        v2: "io",
        requested: v1::blkio::requested,
        apply_v1: v1::blkio::apply,
        apply_v2: None,
    },
    Resource {
        v1: "hugetlb",
        v2: "hugetlb",
        requested: v1::hugetlb::requested,
        apply_v1: v1::hugetlb::apply,
        apply_v2: Some(v2::hugetlb::apply),
    },
    Resource {
        v1: "net_cls",
        v2: "",
        requested: v1::net_cls::requested,
        apply_v1: v1::net_cls::apply,
        apply_v2: None,
    },
    Resource {
        v1: "net_prio",
        v2: "",
        requested: v1::net_prio::requested,
        apply_v1: v1::net_prio::apply,
        apply_v2: None,
    },
];

/// Where one resource goes on this host.
enum Target<'a> {
    V1(&'a Hierarchy),
    V2(&'static str),
    Nowhere(String),
}

fn target<'a>(layout: &'a Layout, r: &Resource) -> Target<'a> {
    if let Some(h) = layout.v1(r.v1) {
        return Target::V1(h);
    }
    if !r.v2.is_empty() && layout.v2_has(r.v2) {
        return match r.apply_v2 {
            Some(_) => Target::V2(r.v2),
            None => Target::Nowhere(format!(
                "the {} controller is only in cgroup2 here, and keel does not map this \
                 resource to cgroup2 yet",
                r.v2
            )),
        };
    }
    Target::Nowhere(layout.why_missing(r.v1))
}

/// Resources set in `res` that the host cannot apply, as (JSON path,
/// reason); `apply` refuses them before writing anything.
pub fn unsupported(layout: &Layout, res: &LinuxResources) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in RESOURCES {
        if let Target::Nowhere(why) = target(layout, r) {
            for field in (r.requested)(res) {
                out.push((field.to_string(), why.clone()));
            }
        }
    }
    if res.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        let why = if layout.v1("rdma").is_some() || layout.v2_has("rdma") {
            "keel does not apply rdma limits yet".to_string()
        } else {
            layout.why_missing("rdma")
        };
        out.push(("linux.resources.rdma".into(), why));
    }
    out
}

/// Apply `res` to the container's cgroup `path` on every hierarchy.
pub fn apply(layout: &Layout, path: &Path, res: &LinuxResources) -> Result<(), CgroupError> {
    if let Some((field, reason)) = unsupported(layout, res).into_iter().next() {
        return Err(CgroupError::Unsupported { field, reason });
    }
    for r in RESOURCES {
        match target(layout, r) {
            Target::V1(h) => {
                (r.apply_v1)(&Dir(host_dir(h, path)?), res)?;
            }
            Target::V2(controller) => {
                if (r.requested)(res).is_empty() {
                    continue;
                }
                let u = layout.unified.as_ref().expect("target found it");
                let dir = host_dir(u, path)?;
                v2::enable(&u.mount_point, &dir, controller)?;
                let apply = r.apply_v2.expect("target checked it");
                apply(&Dir(dir), res)?;
            }
            Target::Nowhere(_) => {}
        }
    }
    if let Some(map) = res.unified().as_ref().filter(|m| !m.is_empty()) {
        let Some(u) = &layout.unified else {
            return Err(CgroupError::unsupported(
                "linux.resources.unified",
                "this host has no cgroup2 hierarchy",
            ));
        };
        v2::apply_unified(layout, &u.mount_point, &host_dir(u, path)?, map)?;
    }
    Ok(())
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
}
