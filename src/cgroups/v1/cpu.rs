//! v1 cpu controller: shares, CFS quota/period/burst, idle and realtime
//! runtime/period. (cpus and mems belong to the cpuset controller.)

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const F_SHARES: &str = "linux.resources.cpu.shares";
const F_QUOTA: &str = "linux.resources.cpu.quota";
const F_PERIOD: &str = "linux.resources.cpu.period";
const F_BURST: &str = "linux.resources.cpu.burst";
const F_IDLE: &str = "linux.resources.cpu.idle";
const F_RT_RUNTIME: &str = "linux.resources.cpu.realtimeRuntime";
const F_RT_PERIOD: &str = "linux.resources.cpu.realtimePeriod";

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let Some(c) = r.cpu() else {
        return Vec::new();
    };
    let fields = [
        (c.shares().is_some_and(|v| v != 0), F_SHARES),
        (c.quota().is_some_and(|v| v != 0 && v != -1), F_QUOTA),
        (c.period().is_some_and(|v| v != 0), F_PERIOD),
        (c.burst().is_some_and(|v| v != 0), F_BURST),
        (c.idle().is_some_and(|v| v != 0), F_IDLE),
        (c.realtime_runtime().is_some_and(|v| v != 0), F_RT_RUNTIME),
        (c.realtime_period().is_some_and(|v| v != 0), F_RT_PERIOD),
    ];
    fields.iter().filter(|(s, _)| *s).map(|(_, f)| *f).collect()
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else {
        return Ok(());
    };
    // Shares before idle: an idle group refuses cpu.shares writes.
    shares(f, c)?;
    bandwidth(f, c)?;
    if let Some(idle) = c.idle() {
        if idle != 0 || f.exists("cpu.idle") {
            fs::write(f, F_IDLE, "cpu.idle", &idle.to_string())?;
        }
    }
    realtime(f, c)
}

/// The kernel clamps shares to 2..262144 without an error; a value it did
/// not keep is reported.
fn shares(f: &dyn Files, c: &LinuxCpu) -> Result<(), CgroupError> {
    let Some(shares) = c.shares().filter(|v| *v != 0) else {
        return Ok(());
    };
    fs::write(f, F_SHARES, "cpu.shares", &shares.to_string())?;
    let stored = fs::read_u64(f, F_SHARES, "cpu.shares")?;
    if stored != shares {
        return Err(CgroupError::invalid(
            F_SHARES,
            format!("{shares} is outside the range the kernel accepts (it kept {stored})"),
        ));
    }
    Ok(())
}

/// A knob whose write may be refused (EINVAL) until a companion value is in
/// place: the period and burst against the quota, the realtime period
/// against the runtime. Returns the write to retry after the companion.
fn early<'a>(
    f: &dyn Files,
    knob: Option<(&'a str, &'a str, String)>,
    companion_set: bool,
) -> Result<Option<(&'a str, &'a str, String)>, CgroupError> {
    let Some((field, file, value)) = knob else {
        return Ok(None);
    };
    match fs::write(f, field, file, &value) {
        Err(CgroupError::Write { err, .. })
            if companion_set && err.raw_os_error() == Some(libc::EINVAL) =>
        {
            Ok(Some((field, file, value)))
        }
        Err(e) => Err(e),
        Ok(()) => Ok(None),
    }
}

fn bandwidth(f: &dyn Files, c: &LinuxCpu) -> Result<(), CgroupError> {
    let quota = c.quota().filter(|v| *v != 0);
    let period = c.period().filter(|v| *v != 0);
    let period = period.map(|v| (F_PERIOD, "cpu.cfs_period_us", v.to_string()));
    let burst = c
        .burst()
        .filter(|v| *v != 0 || f.exists("cpu.cfs_burst_us"));
    let burst = burst.map(|v| (F_BURST, "cpu.cfs_burst_us", v.to_string()));
    let retry_period = early(f, period, quota.is_some())?;
    let retry_burst = early(f, burst, quota.is_some())?;
    if let Some(q) = quota {
        fs::write(f, F_QUOTA, "cpu.cfs_quota_us", &q.to_string())?;
    }
    for (field, file, value) in retry_period.into_iter().chain(retry_burst) {
        fs::write(f, field, file, &value)?;
    }
    Ok(())
}

fn realtime(f: &dyn Files, c: &LinuxCpu) -> Result<(), CgroupError> {
    let runtime = c.realtime_runtime().filter(|v| *v != 0);
    let period = c.realtime_period().filter(|v| *v != 0);
    let period = period.map(|v| (F_RT_PERIOD, "cpu.rt_period_us", v.to_string()));
    let retry = early(f, period, runtime.is_some())?;
    if let Some(rt) = runtime {
        let value = rt.to_string();
        match fs::write(f, F_RT_RUNTIME, "cpu.rt_runtime_us", &value) {
            // The usual cause: realtime time is handed down the tree, and a
            // new parent cgroup starts with none to give.
            Err(CgroupError::Write { err, .. }) if err.raw_os_error() == Some(libc::EINVAL) => {
                return Err(CgroupError::invalid(
                    F_RT_RUNTIME,
                    format!(
                        "{} refused {rt}: the parent cgroup's cpu.rt_runtime_us (minus its other \
                         children's) must be at least this, and no more than the period",
                        f.path("cpu.rt_runtime_us").display()
                    ),
                ));
            }
            other => other?,
        }
    }
    if let Some((field, file, value)) = retry {
        fs::write(f, field, file, &value)?;
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
            ("cpu.shares", "1024"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_burst_us", "0"),
            ("cpu.idle", "0"),
            ("cpu.rt_runtime_us", "0"),
            ("cpu.rt_period_us", "1000000"),
        ])
    }

    #[test]
    fn writes_each_knob() {
        let d = dir();
        let r = res(
            r#"{"shares":512,"quota":50000,"period":200000,"burst":1000,"idle":1,"realtimeRuntime":1000,"realtimePeriod":500000}"#,
        );
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "cpu.shares=512",
                "cpu.cfs_period_us=200000",
                "cpu.cfs_burst_us=1000",
                "cpu.cfs_quota_us=50000",
                "cpu.idle=1",
                "cpu.rt_period_us=500000",
                "cpu.rt_runtime_us=1000",
            ]
        );
        assert_eq!(requested(&r).len(), 7);
        assert!(requested(&res(r#"{"quota":-1,"cpus":"0"}"#)).is_empty());
    }

    #[test]
    fn refused_period_is_retried_after_quota() {
        // A kernel that refuses a period shorter than the current quota.
        let d = dir().with_rule(|files, file, value| {
            let quota: i64 = files["cpu.cfs_quota_us"].parse().ok()?;
            let v: i64 = value.parse().ok()?;
            (file == "cpu.cfs_period_us" && v < quota).then_some(libc::EINVAL)
        });
        d.files
            .borrow_mut()
            .insert("cpu.cfs_quota_us".into(), "400000".into());
        apply(&d, &res(r#"{"quota":20000,"period":50000}"#)).unwrap();
        assert_eq!(
            d.writes(),
            ["cpu.cfs_quota_us=20000", "cpu.cfs_period_us=50000"]
        );
        // Without a quota to fix it, the refusal is the error.
        let e = apply(&d, &res(r#"{"period":1000}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.cpu.period: write \"1000\" to /fake/cpu.cfs_period_us")
        );
    }

    #[test]
    fn clamped_shares_and_missing_knobs() {
        let d = dir().with_rule(|_, file, _| (file == "cpu.shares").then_some(0));
        let e = apply(&d, &res(r#"{"shares":1}"#)).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.cpu.shares: 1 is outside the range the kernel accepts (it kept 1024)"
        );
        let old = FakeDir::new(&[("cpu.shares", "1024")]);
        apply(&old, &res(r#"{"idle":0,"burst":0}"#)).unwrap();
        let e = apply(&old, &res(r#"{"idle":1}"#)).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.cpu.idle: not supported on this host: the kernel has no \
             /fake/cpu.idle (file absent)"
        );
    }
}
