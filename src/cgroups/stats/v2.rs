//! Stats from a cgroup2 directory, mapped onto runc's (v1-shaped) document
//! as runc's `fs2` manager maps them: usec become nsec, io.stat becomes
//! the v1 "Read"/"Write" tables, swap is reported as memory plus swap.

use super::parse::{self, bad, param, param_opt, text, text_opt};
use super::types::{BlkioEntry, Hugetlb, MemoryEntry, Stats};
use super::StatsError;
use crate::cgroups::fs::Files;

/// pids.current and pids.max; without the pids controller, the number of
/// processes listed in cgroup.procs and no limit.
pub fn pids(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let Some(current) = param_opt(f, "pids.current")? else {
        s.pids.current = text(f, "cgroup.procs")?.lines().count() as u64;
        s.pids.limit = 0;
        return Ok(());
    };
    s.pids.current = current;
    s.pids.limit = match param(f, "pids.max")? {
        u64::MAX => 0,
        v => v,
    };
    Ok(())
}

/// memory.stat as raw (its "file" is the cache), memory.current/max as
/// usage, and memory.swap.current/max plus memory as swap.
pub fn memory(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let Some(t) = text_opt(f, "memory.stat")? else {
        return Ok(());
    };
    let m = &mut s.memory;
    m.raw = parse::key_values(f, "memory.stat", &t)?
        .into_iter()
        .collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage = MemoryEntry {
        usage: param(f, "memory.current")?,
        limit: param(f, "memory.max")?,
        ..MemoryEntry::default()
    };
    // Without swap accounting the swap files are absent: zeros, as runc.
    if let Some(swap) = param_opt(f, "memory.swap.current")? {
        let limit = param(f, "memory.swap.max")?;
        m.swap = MemoryEntry {
            usage: swap.saturating_add(m.usage.usage),
            limit: match limit {
                u64::MAX => u64::MAX,
                l => l.saturating_add(m.usage.limit),
            },
            ..MemoryEntry::default()
        };
    }
    Ok(())
}

/// cpu.stat (present even without the cpu controller).
pub fn cpu(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let Some(t) = text_opt(f, "cpu.stat")? else {
        return Ok(());
    };
    let (u, th) = (&mut s.cpu.usage, &mut s.cpu.throttling);
    for (k, v) in parse::key_values(f, "cpu.stat", &t)? {
        let ns = v.saturating_mul(1000);
        match k.as_str() {
            "usage_usec" => u.total = ns,
            "user_usec" => u.user = ns,
            "system_usec" => u.kernel = ns,
            "nr_periods" => th.periods = v,
            "nr_throttled" => th.throttled_periods = v,
            "throttled_usec" => th.throttled_time = ns,
            _ => {}
        }
    }
    Ok(())
}

/// io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ..." per device.
/// Bytes go to ioServiceBytesRecursive and operations to
/// ioServicedRecursive, as Read and Write; other keys have no v1 home.
pub fn io(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    const FILE: &str = "io.stat";
    let Some(t) = text_opt(f, FILE)? else {
        return Ok(());
    };
    let b = &mut s.blkio;
    for line in t.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let n = |v: &str| v.parse::<u64>().map_err(|_| bad(f, FILE, line));
        let (major, minor) = (n(major)?, n(minor)?);
        for item in words {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let (op, table) = match key {
                "rbytes" => ("Read", &mut b.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut b.io_service_bytes_recursive),
                "rios" => ("Read", &mut b.io_serviced_recursive),
                "wios" => ("Write", &mut b.io_serviced_recursive),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: n(value)?,
            });
        }
    }
    Ok(())
}

/// hugetlb.<size>.current, and the "max" count of hugetlb.<size>.events
/// (allocations refused at the limit) as failcnt; v2 keeps no peak.
pub fn hugetlb(f: &dyn Files, sizes: &[String], s: &mut Stats) -> Result<(), StatsError> {
    for size in sizes {
        let Some(usage) = param_opt(f, &format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let failcnt = parse::value_of(f, &format!("hugetlb.{size}.events"), "max")?;
        let h = Hugetlb {
            usage,
            max: 0,
            failcnt,
        };
        s.hugetlb.insert(size.clone(), h);
    }
    Ok(())
}
