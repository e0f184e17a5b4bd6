//! v1 memory controller: limit, memory+swap, reservation, kernel and TCP
//! kernel memory, OOM killer, swappiness and hierarchy accounting.

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";
const F_LIMIT: &str = "linux.resources.memory.limit";
const F_SWAP: &str = "linux.resources.memory.swap";

/// Fields set to something other than their default, which therefore need
/// the controller.
pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let Some(m) = r.memory() else {
        return Vec::new();
    };
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0 && v != -1);
    #[allow(deprecated)] // the spec keeps `kernel` for old configs
    let fields = [
        (set(m.limit()), F_LIMIT),
        (set(m.swap()), F_SWAP),
        (set(m.reservation()), "linux.resources.memory.reservation"),
        (set(m.kernel()), "linux.resources.memory.kernel"),
        (set(m.kernel_tcp()), "linux.resources.memory.kernelTCP"),
        (
            m.swappiness().is_some(),
            "linux.resources.memory.swappiness",
        ),
        (
            m.disable_oom_killer() == Some(true),
            "linux.resources.memory.disableOOMKiller",
        ),
        (
            m.use_hierarchy() == Some(false),
            "linux.resources.memory.useHierarchy",
        ),
    ];
    fields.iter().filter(|(s, _)| *s).map(|(_, f)| *f).collect()
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = r.memory() else {
        return Ok(());
    };
    limit_and_swap(f, m)?;
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        let field = "linux.resources.memory.reservation";
        fs::write(f, field, "memory.soft_limit_in_bytes", &v.to_string())?;
    }
    kernel_limits(f, m)?;
    if let Some(off) = m.disable_oom_killer() {
        let field = "linux.resources.memory.disableOOMKiller";
        fs::write(f, field, "memory.oom_control", if off { "1" } else { "0" })?;
    }
    if let Some(v) = m.swappiness() {
        let field = "linux.resources.memory.swappiness";
        if v > 100 {
            return Err(CgroupError::invalid(
                field,
                format!("{v} is outside 0..100"),
            ));
        }
        fs::write(f, field, "memory.swappiness", &v.to_string())?;
    }
    use_hierarchy(f, m.use_hierarchy())
}

/// The kernel keeps memsw >= limit at every step, so the order depends on
/// the direction: raising goes memsw first, lowering goes limit first. An
/// unlimited limit with no swap given means both unlimited (runc does the
/// same; memsw would otherwise refuse the new limit).
fn limit_and_swap(f: &dyn Files, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    for (field, v) in [(F_LIMIT, limit), (F_SWAP, swap)] {
        if v < -1 {
            return Err(CgroupError::invalid(
                field,
                format!("{v} is below -1 (unlimited)"),
            ));
        }
    }
    if !f.exists(MEMSW) {
        match swap {
            // Unlimited is what a host without swap accounting does anyway.
            0 | -1 => swap = 0,
            _ => {
                return Err(CgroupError::unsupported(
                    F_SWAP,
                    format!("swap accounting is off: no {}", f.path(MEMSW).display()),
                ))
            }
        }
    } else if limit == -1 && swap == 0 {
        swap = -1;
    }
    if limit != 0 && swap != 0 {
        let current = fs::read_u64(f, F_LIMIT, LIMIT)?;
        if swap == -1 || current < swap as u64 {
            fs::write(f, F_SWAP, MEMSW, &swap.to_string())?;
            return set_limit(f, limit);
        }
    }
    if limit != 0 {
        set_limit(f, limit)?;
    }
    if swap != 0 {
        fs::write(f, F_SWAP, MEMSW, &swap.to_string())?;
    }
    Ok(())
}

/// EBUSY means the cgroup already uses more than the new limit; say how much.
fn set_limit(f: &dyn Files, limit: i64) -> Result<(), CgroupError> {
    match fs::write(f, F_LIMIT, LIMIT, &limit.to_string()) {
        Err(CgroupError::Write { err, .. }) if err.raw_os_error() == Some(libc::EBUSY) => {
            let usage = fs::read(f, F_LIMIT, "memory.usage_in_bytes")?;
            let peak = fs::read(f, F_LIMIT, "memory.max_usage_in_bytes")?;
            Err(CgroupError::invalid(
                F_LIMIT,
                format!(
                    "{limit} is below what the cgroup already uses ({usage} bytes, peak {peak}): \
                     {} refused it",
                    f.path(LIMIT).display()
                ),
            ))
        }
        other => other,
    }
}

/// Kernel memory limits: obsolete since Linux 5.4, and newer kernels keep
/// the v1 file but ignore writes to it. A limit the kernel silently drops
/// is reported, not skipped: the read-back must show it.
fn kernel_limits(f: &dyn Files, m: &LinuxMemory) -> Result<(), CgroupError> {
    #[allow(deprecated)]
    let kernel = m.kernel();
    let knobs = [
        (
            kernel,
            "linux.resources.memory.kernel",
            "memory.kmem.limit_in_bytes",
        ),
        (
            m.kernel_tcp(),
            "linux.resources.memory.kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
        ),
    ];
    for (value, field, file) in knobs {
        let Some(v) = value.filter(|v| *v != 0) else {
            continue;
        };
        if v == -1 && !f.exists(file) {
            continue;
        }
        fs::write(f, field, file, &v.to_string())?;
        if v > 0 && fs::read_u64(f, field, file)? > v as u64 {
            return Err(CgroupError::unsupported(
                field,
                format!(
                    "the kernel ignores {} (kernel memory limits are obsolete since Linux 5.4)",
                    f.path(file).display()
                ),
            ));
        }
    }
    Ok(())
}

/// Modern kernels always account hierarchically: the file accepts only 1,
/// and newer ones drop it. Asking for hierarchy where it is implicit is fine.
fn use_hierarchy(f: &dyn Files, value: Option<bool>) -> Result<(), CgroupError> {
    let field = "linux.resources.memory.useHierarchy";
    let file = "memory.use_hierarchy";
    match value {
        None => Ok(()),
        Some(true) if !f.exists(file) => Ok(()),
        Some(v) => match fs::write(f, field, file, if v { "1" } else { "0" }) {
            Err(CgroupError::Write { err, .. }) if err.raw_os_error() == Some(libc::EINVAL) => {
                Err(CgroupError::unsupported(
                    field,
                    format!(
                        "{} refused {v}: this kernel always accounts memory hierarchically",
                        f.path(file).display()
                    ),
                ))
            }
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    const UNLIMITED: &str = "9223372036854771712";

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(&format!(r#"{{"memory":{json}}}"#)).unwrap()
    }

    /// A memory cgroup whose kernel keeps memsw >= limit, as v1 does.
    fn dir(limit: &str, memsw: &str) -> FakeDir {
        let num = |s: &str| s.parse::<i64>().map(|v| if v < 0 { i64::MAX } else { v });
        FakeDir::new(&[
            (LIMIT, limit),
            (MEMSW, memsw),
            ("memory.soft_limit_in_bytes", UNLIMITED),
            ("memory.kmem.limit_in_bytes", UNLIMITED),
            ("memory.kmem.tcp.limit_in_bytes", UNLIMITED),
            ("memory.oom_control", "oom_kill_disable 0"),
            ("memory.swappiness", "60"),
            ("memory.use_hierarchy", "1"),
        ])
        .with_rule(move |files, file, value| {
            let (l, s) = (num(&files[LIMIT]).ok()?, num(&files[MEMSW]).ok()?);
            let v = num(value).ok()?;
            match file {
                LIMIT if v > s => Some(libc::EINVAL),
                MEMSW if v < l => Some(libc::EINVAL),
                "memory.use_hierarchy" if value == "0" => Some(libc::EINVAL),
                _ => None,
            }
        })
    }

    #[test]
    fn raising_writes_memsw_first_lowering_limit_first() {
        let d = dir(UNLIMITED, UNLIMITED);
        apply(&d, &res(r#"{"limit":1000,"swap":2000}"#)).unwrap();
        assert_eq!(
            d.writes(),
            [format!("{LIMIT}=1000"), format!("{MEMSW}=2000")]
        );
        let d = dir("1000", "2000");
        apply(&d, &res(r#"{"limit":5000,"swap":8000}"#)).unwrap();
        assert_eq!(
            d.writes(),
            [format!("{MEMSW}=8000"), format!("{LIMIT}=5000")]
        );
        let d = dir("5000", "8000");
        apply(&d, &res(r#"{"limit":-1}"#)).unwrap();
        assert_eq!(d.writes(), [format!("{MEMSW}=-1"), format!("{LIMIT}=-1")]);
    }

    #[test]
    fn other_knobs() {
        let d = dir(UNLIMITED, UNLIMITED);
        let r = res(
            r#"{"reservation":4096,"kernelTCP":8192,"disableOOMKiller":true,"swappiness":10,"useHierarchy":true}"#,
        );
        apply(&d, &r).unwrap();
        assert_eq!(d.get("memory.soft_limit_in_bytes"), "4096");
        assert_eq!(d.get("memory.kmem.tcp.limit_in_bytes"), "8192");
        assert_eq!(d.get("memory.oom_control"), "1");
        assert_eq!(d.get("memory.swappiness"), "10");
        assert_eq!(requested(&r).len(), 4, "useHierarchy true is the default");
    }

    #[test]
    fn refusals_name_field_and_reason() {
        let e = apply(&dir(UNLIMITED, UNLIMITED), &res(r#"{"swappiness":101}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swappiness: 101 is outside 0..100"
        );
        let e = apply(
            &dir(UNLIMITED, UNLIMITED),
            &res(r#"{"useHierarchy":false}"#),
        );
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("useHierarchy: not supported") && e.contains("hierarchically"),
            "{e}"
        );
        let no_swap = FakeDir::new(&[(LIMIT, UNLIMITED)]);
        let e = apply(&no_swap, &res(r#"{"limit":1000,"swap":2000}"#)).unwrap_err();
        assert!(e
            .to_string()
            .contains("swap: not supported on this host: swap accounting is off"));
        apply(&no_swap, &res(r#"{"limit":1000,"swap":-1}"#)).unwrap();
        assert_eq!(no_swap.writes(), [format!("{LIMIT}=1000")]);
    }

    #[test]
    fn ignored_kernel_limit_is_reported() {
        // A kernel that accepts the write and keeps the old value.
        let d = dir(UNLIMITED, UNLIMITED)
            .with_rule(|_, file, _| (file == "memory.kmem.limit_in_bytes").then_some(0));
        let e = apply(&d, &res(r#"{"kernel":1048576}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.memory.kernel: not supported"),
            "{e}"
        );
        assert!(
            e.contains("ignores /fake/memory.kmem.limit_in_bytes"),
            "{e}"
        );
        apply(&dir(UNLIMITED, UNLIMITED), &res(r#"{"kernel":-1}"#)).unwrap();
    }
}
