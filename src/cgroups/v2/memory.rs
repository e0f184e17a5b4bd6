//! cgroup2 memory controller: memory.max from the limit, memory.low from
//! the reservation, memory.swap.max from memory+swap minus the limit (v2
//! limits swap alone). v1-only knobs (swappiness, kernel memory, OOM
//! killer off, non-hierarchical accounting) have no v2 file: asking for
//! them is an error unless the value is the default.

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const F_LIMIT: &str = "linux.resources.memory.limit";
const F_SWAP: &str = "linux.resources.memory.swap";
const F_RESERVATION: &str = "linux.resources.memory.reservation";
const SWAP_MAX: &str = "memory.swap.max";

/// Fields this controller cannot express, with why.
pub fn refused(r: &LinuxResources) -> Vec<(String, String)> {
    let Some(m) = r.memory() else {
        return Vec::new();
    };
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0 && v != -1);
    #[allow(deprecated)] // the spec keeps `kernel` for old configs
    let kernel = m.kernel();
    let checks = [
        (
            m.swappiness().is_some(),
            "linux.resources.memory.swappiness",
            "cgroup v2 has no per-cgroup swappiness",
        ),
        (
            set(kernel),
            "linux.resources.memory.kernel",
            "cgroup v2 has no separate kernel memory limit (memory.max counts it)",
        ),
        (
            set(m.kernel_tcp()),
            "linux.resources.memory.kernelTCP",
            "cgroup v2 has no separate TCP memory limit (memory.max counts it)",
        ),
        (
            m.disable_oom_killer() == Some(true),
            "linux.resources.memory.disableOOMKiller",
            "cgroup v2 cannot turn the OOM killer off for a cgroup",
        ),
        (
            m.use_hierarchy() == Some(false),
            "linux.resources.memory.useHierarchy",
            "cgroup v2 always accounts memory hierarchically",
        ),
    ];
    super::refusals(checks)
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = r.memory() else {
        return Ok(());
    };
    super::refuse_first(refused(r))?;
    let limit = m.limit().unwrap_or(0);
    for (field, v) in [(F_LIMIT, limit), (F_SWAP, m.swap().unwrap_or(0))] {
        if v < -1 {
            let msg = format!("{v} is below -1 (unlimited)");
            return Err(CgroupError::invalid(field, msg));
        }
    }
    swap(f, m, limit)?;
    if limit != 0 {
        fs::write(f, F_LIMIT, "memory.max", &convert::v2_limit(limit))?;
    }
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        fs::write(f, F_RESERVATION, "memory.low", &convert::v2_limit(v))?;
    }
    Ok(())
}

/// A host without swap accounting has no memory.swap.max: unlimited or
/// no swap is what it does anyway, anything else is an error.
fn swap(f: &dyn Files, m: &LinuxMemory, limit: i64) -> Result<(), CgroupError> {
    let value = convert::swap_max(m.swap().unwrap_or(0), limit)
        .map_err(|msg| CgroupError::invalid(F_SWAP, msg))?;
    let Some(value) = value else {
        return Ok(());
    };
    if !f.exists(SWAP_MAX) && (value == "max" || value == "0") {
        return Ok(());
    }
    fs::write(f, F_SWAP, SWAP_MAX, &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(&format!(r#"{{"memory":{json}}}"#)).unwrap()
    }

    fn dir() -> FakeDir {
        FakeDir::new(&[
            ("memory.max", "max"),
            ("memory.low", "0"),
            (SWAP_MAX, "max"),
        ])
    }

    #[test]
    fn limit_swap_and_reservation() {
        let d = dir();
        apply(&d, &res(r#"{"limit":1000,"swap":3000,"reservation":500}"#)).unwrap();
        assert_eq!(
            d.writes(),
            ["memory.swap.max=2000", "memory.max=1000", "memory.low=500"]
        );
        let d = dir();
        apply(&d, &res(r#"{"limit":-1}"#)).unwrap();
        assert_eq!(d.writes(), ["memory.swap.max=max", "memory.max=max"]);
        let d = dir();
        apply(&d, &res(r#"{"limit":1000,"swap":1000}"#)).unwrap();
        assert_eq!(d.writes(), ["memory.swap.max=0", "memory.max=1000"]);
    }

    #[test]
    fn no_swap_accounting() {
        let d = FakeDir::new(&[("memory.max", "max")]);
        apply(&d, &res(r#"{"limit":1000,"swap":1000}"#)).unwrap();
        assert_eq!(d.writes(), ["memory.max=1000"]);
        let e = apply(&d, &res(r#"{"limit":1000,"swap":2000}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swap: not supported on this host: the kernel has no \
             /fake/memory.swap.max (file absent)"
        );
    }

    #[test]
    fn v1_knobs_are_refused_unless_default() {
        let d = dir();
        let defaults =
            res(r#"{"kernel":-1,"kernelTCP":0,"disableOOMKiller":false,"useHierarchy":true}"#);
        apply(&d, &defaults).unwrap();
        assert!(d.writes().is_empty());
        let all = res(
            r#"{"swappiness":10,"kernel":1,"kernelTCP":1,"disableOOMKiller":true,"useHierarchy":false}"#,
        );
        let refused = refused(&all);
        let fields: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields.len(), 5, "{fields:?}");
        let e = apply(&d, &res(r#"{"limit":1000,"swappiness":10}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swappiness: not supported on this host: cgroup v2 has no \
             per-cgroup swappiness"
        );
        assert!(d.writes().is_empty(), "nothing written before the refusal");
        let e = apply(&d, &res(r#"{"swap":2000}"#)).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.memory.swap: a swap limit needs"),
            "{e}"
        );
    }
}
