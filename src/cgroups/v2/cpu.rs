//! cgroup2 cpu controller: cpu.weight from shares (converted), cpu.max
//! from quota and period, cpu.max.burst, cpu.idle. Realtime bandwidth has
//! no v2 file: asking for it is an error unless the value is the default.

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const F_SHARES: &str = "linux.resources.cpu.shares";
const F_QUOTA: &str = "linux.resources.cpu.quota";
const F_BURST: &str = "linux.resources.cpu.burst";
const F_IDLE: &str = "linux.resources.cpu.idle";
/// The kernel's default period, for a quota given without one.
const DEFAULT_PERIOD: u64 = 100_000;

pub fn refused(r: &LinuxResources) -> Vec<(String, String)> {
    let Some(c) = r.cpu() else {
        return Vec::new();
    };
    let why = "cgroup v2 has no realtime bandwidth limits (cpu.rt_*)";
    super::refusals([
        (
            c.realtime_runtime().is_some_and(|v| v != 0),
            "linux.resources.cpu.realtimeRuntime",
            why,
        ),
        (
            c.realtime_period().is_some_and(|v| v != 0),
            "linux.resources.cpu.realtimePeriod",
            why,
        ),
    ])
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else {
        return Ok(());
    };
    super::refuse_first(refused(r))?;
    // The kernel refuses a weight for an idle group: leaving idle comes
    // before the weight, entering it after.
    let idle = c.idle().filter(|i| *i != 0 || f.exists("cpu.idle"));
    if let Some(0) = idle {
        fs::write(f, F_IDLE, "cpu.idle", "0")?;
    }
    if let Some(w) = c.shares().and_then(convert::cpu_weight) {
        fs::write(f, F_SHARES, "cpu.weight", &w.to_string())?;
    }
    bandwidth(f, c)?;
    if let Some(i) = idle.filter(|i| *i != 0) {
        fs::write(f, F_IDLE, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// cpu.max holds "QUOTA PERIOD"; a config (or update) that gives only one
/// of them keeps the other's current value. The kernel may refuse a
/// burst above the old quota, so a refused burst is retried after it.
fn bandwidth(f: &dyn Files, c: &LinuxCpu) -> Result<(), CgroupError> {
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    let burst = c.burst().filter(|b| *b != 0 || f.exists("cpu.max.burst"));
    let mut retry_burst = None;
    if let Some(b) = burst {
        match fs::write(f, F_BURST, "cpu.max.burst", &b.to_string()) {
            Err(CgroupError::Write { err, .. })
                if quota.is_some() && err.raw_os_error() == Some(libc::EINVAL) =>
            {
                retry_burst = Some(b);
            }
            other => other?,
        }
    }
    if quota.is_some() || period.is_some() {
        let field = if quota.is_some() {
            F_QUOTA
        } else {
            "linux.resources.cpu.period"
        };
        let current = fs::read(f, field, "cpu.max").unwrap_or_default();
        let mut parts = current.split_whitespace();
        let (old_quota, old_period) = (parts.next(), parts.next());
        let quota = match quota {
            Some(q) => convert::v2_limit(q),
            None => old_quota.unwrap_or("max").to_string(),
        };
        let period = match period {
            Some(p) => p.to_string(),
            None => old_period.map_or(DEFAULT_PERIOD.to_string(), str::to_string),
        };
        fs::write(f, field, "cpu.max", &format!("{quota} {period}"))?;
    }
    if let Some(b) = retry_burst {
        fs::write(f, F_BURST, "cpu.max.burst", &b.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(&format!(r#"{{"cpu":{json}}}"#)).unwrap()
    }

    fn dir() -> FakeDir {
        FakeDir::new(&[
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cpu.max.burst", "0"),
            ("cpu.idle", "0"),
        ])
    }

    #[test]
    fn weight_max_burst_idle() {
        let d = dir();
        let r = res(r#"{"shares":1024,"quota":50000,"period":200000,"burst":1000,"idle":1}"#);
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "cpu.weight=100",
                "cpu.max.burst=1000",
                "cpu.max=50000 200000",
                "cpu.idle=1"
            ]
        );
        // Leaving idle comes first.
        apply(&d, &res(r#"{"idle":0,"shares":512}"#)).unwrap();
        assert_eq!(d.writes()[4..], ["cpu.idle=0", "cpu.weight=59"]);
    }

    #[test]
    fn quota_or_period_alone_keeps_the_other() {
        let d = dir();
        apply(&d, &res(r#"{"quota":20000}"#)).unwrap();
        apply(&d, &res(r#"{"period":50000}"#)).unwrap();
        apply(&d, &res(r#"{"quota":-1}"#)).unwrap();
        assert_eq!(
            d.writes(),
            [
                "cpu.max=20000 100000",
                "cpu.max=20000 50000",
                "cpu.max=max 50000"
            ]
        );
    }

    #[test]
    fn refused_burst_is_retried_after_the_quota() {
        let d = dir().with_rule(|files, file, value| {
            let over = files["cpu.max"].starts_with("max") && value == "90000";
            (file == "cpu.max.burst" && over).then_some(libc::EINVAL)
        });
        apply(&d, &res(r#"{"quota":100000,"burst":90000}"#)).unwrap();
        assert_eq!(d.writes(), ["cpu.max=100000 100000", "cpu.max.burst=90000"]);
    }

    #[test]
    fn realtime_and_missing_files() {
        let e = apply(&dir(), &res(r#"{"realtimeRuntime":1000}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.cpu.realtimeRuntime: not supported on this host: cgroup v2 has \
             no realtime bandwidth limits (cpu.rt_*)"
        );
        apply(&dir(), &res(r#"{"realtimeRuntime":0,"realtimePeriod":0}"#)).unwrap();
        let old = FakeDir::new(&[("cpu.weight", "100"), ("cpu.max", "max 100000")]);
        apply(&old, &res(r#"{"idle":0,"burst":0}"#)).unwrap();
        assert!(old.writes().is_empty());
        let e = apply(&old, &res(r#"{"burst":10}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no /fake/cpu.max.burst"), "{e}");
    }
}
