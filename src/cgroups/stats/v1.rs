//! Stats from cgroup v1 controller directories, read as runc's `fs`
//! manager reads them (which files, which are optional, how they map).

use super::parse::{self, bad, param, param_opt, text, text_opt};
use super::types::{BlkioEntry, Hugetlb, MemoryEntry, Stats};
use super::StatsError;
use crate::cgroups::fs::Files;

/// USER_HZ: cpuacct.stat counts in these ticks, fixed at 100 on Linux.
const CLOCK_TICKS: u64 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;

/// cpu.stat: CFS throttling (absent when CFS bandwidth is not built in).
pub fn cpu(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let Some(t) = text_opt(f, "cpu.stat")? else {
        return Ok(());
    };
    let th = &mut s.cpu.throttling;
    for (k, v) in parse::key_values(f, "cpu.stat", &t)? {
        match k.as_str() {
            "nr_periods" => th.periods = v,
            "nr_throttled" => th.throttled_periods = v,
            "throttled_time" => th.throttled_time = v,
            _ => {}
        }
    }
    Ok(())
}

/// cpuacct: total and per-cpu usage, and the user/system split.
pub fn cpuacct(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let u = &mut s.cpu.usage;
    let (user, system) = user_system(f)?;
    u.user = user * NS_PER_SEC / CLOCK_TICKS;
    u.kernel = system * NS_PER_SEC / CLOCK_TICKS;
    u.total = param(f, "cpuacct.usage")?;
    let percpu = text(f, "cpuacct.usage_percpu")?;
    u.percpu = percpu
        .split_whitespace()
        .map(|v| v.parse().map_err(|_| bad(f, "cpuacct.usage_percpu", v)))
        .collect::<Result<_, _>>()?;
    // "cpu user system" header, then one line per cpu (kernel 4.7+).
    if let Some(all) = text_opt(f, "cpuacct.usage_all")? {
        for line in all.lines().skip(1) {
            let cols: Vec<&str> = line.split(' ').collect();
            if cols.len() != 3 {
                continue;
            }
            let n = |v: &str| v.parse().map_err(|_| bad(f, "cpuacct.usage_all", line));
            u.percpu_user.push(n(cols[1])?);
            u.percpu_kernel.push(n(cols[2])?);
        }
    }
    Ok(())
}

fn user_system(f: &dyn Files) -> Result<(u64, u64), StatsError> {
    const FILE: &str = "cpuacct.stat";
    let t = text(f, FILE)?;
    let w: Vec<&str> = t.split_whitespace().collect();
    if w.len() < 4 || w[0] != "user" || w[2] != "system" {
        return Err(bad(f, FILE, format!("unexpected content {t:?}")));
    }
    let n = |v: &str| v.parse::<u64>().map_err(|_| bad(f, FILE, v));
    Ok((n(w[1])?, n(w[3])?))
}

/// cpuset: the cpus and nodes, and the flags; each file optional.
pub fn cpuset(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let c = &mut s.cpuset;
    for (file, list) in [("cpuset.cpus", &mut c.cpus), ("cpuset.mems", &mut c.mems)] {
        if let Some(t) = text_opt(f, file)? {
            *list = parse::cpu_list(f, file, &t)?;
        }
    }
    let flags = [
        ("cpuset.cpu_exclusive", &mut c.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut c.mem_hardwall),
        ("cpuset.mem_exclusive", &mut c.mem_exclusive),
        ("cpuset.memory_migrate", &mut c.memory_migrate),
        ("cpuset.memory_spread_page", &mut c.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut c.memory_spread_slab),
        ("cpuset.memory_pressure", &mut c.memory_pressure),
        ("cpuset.sched_load_balance", &mut c.sched_load_balance),
    ];
    for (file, value) in flags {
        if let Some(v) = param_opt(f, file)? {
            *value = v;
        }
    }
    const RELAX: &str = "cpuset.sched_relax_domain_level";
    if let Some(t) = text_opt(f, RELAX)? {
        c.sched_relax_domain_level = t.trim().parse().map_err(|_| bad(f, RELAX, t.trim()))?;
    }
    Ok(())
}

/// memory: memory.stat as raw, and the usage, memsw, kmem and kmem.tcp
/// counter sets (the last three are optional in the kernel).
pub fn memory(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    let Some(t) = text_opt(f, "memory.stat")? else {
        return Ok(());
    };
    let m = &mut s.memory;
    m.raw = parse::key_values(f, "memory.stat", &t)?
        .into_iter()
        .collect();
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = counters(f, "memory")?.unwrap_or_default();
    m.swap = counters(f, "memory.memsw")?.unwrap_or_default();
    m.kernel = counters(f, "memory.kmem")?.unwrap_or_default();
    m.kernel_tcp = counters(f, "memory.kmem.tcp")?.unwrap_or_default();
    Ok(())
}

/// PREFIX.{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}, or
/// None if the kernel lacks the set.
fn counters(f: &dyn Files, prefix: &str) -> Result<Option<MemoryEntry>, StatsError> {
    let Some(usage) = param_opt(f, &format!("{prefix}.usage_in_bytes"))? else {
        if prefix == "memory" {
            // Always there with the controller: its absence is an error.
            param(f, "memory.usage_in_bytes")?;
        }
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        max: param(f, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: param(f, &format!("{prefix}.failcnt"))?,
        limit: param(f, &format!("{prefix}.limit_in_bytes"))?,
    }))
}

/// pids: current and limit ("max", no limit, is 0 as in runc).
pub fn pids(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    s.pids.current = param(f, "pids.current")?;
    s.pids.limit = match param(f, "pids.max")? {
        u64::MAX => 0,
        v => v,
    };
    Ok(())
}

/// Which blkio files fill which lists: runc's groups, tried in order; the
/// first group whose first file has entries is used. bfq's debug files,
/// then bfq, then cfq, then the throttling counters.
const BLKIO_GROUPS: &[&[(&str, Field)]] = &[
    &[
        ("blkio.bfq.sectors_recursive", Field::Sectors),
        ("blkio.bfq.io_service_time_recursive", Field::ServiceTime),
        ("blkio.bfq.io_wait_time_recursive", Field::WaitTime),
        ("blkio.bfq.io_merged_recursive", Field::Merged),
        ("blkio.bfq.io_queued_recursive", Field::Queued),
        ("blkio.bfq.time_recursive", Field::Time),
        ("blkio.bfq.io_serviced_recursive", Field::Serviced),
        ("blkio.bfq.io_service_bytes_recursive", Field::ServiceBytes),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", Field::Serviced),
        ("blkio.bfq.io_service_bytes_recursive", Field::ServiceBytes),
    ],
    &[
        ("blkio.sectors_recursive", Field::Sectors),
        ("blkio.io_service_time_recursive", Field::ServiceTime),
        ("blkio.io_wait_time_recursive", Field::WaitTime),
        ("blkio.io_merged_recursive", Field::Merged),
        ("blkio.io_queued_recursive", Field::Queued),
        ("blkio.time_recursive", Field::Time),
        ("blkio.io_serviced_recursive", Field::Serviced),
        ("blkio.io_service_bytes_recursive", Field::ServiceBytes),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", Field::Serviced),
        (
            "blkio.throttle.io_service_bytes_recursive",
            Field::ServiceBytes,
        ),
    ],
    &[
        ("blkio.throttle.io_serviced", Field::Serviced),
        ("blkio.throttle.io_service_bytes", Field::ServiceBytes),
    ],
];

#[derive(Clone, Copy)]
enum Field {
    ServiceBytes,
    Serviced,
    Queued,
    ServiceTime,
    WaitTime,
    Merged,
    Time,
    Sectors,
}

pub fn blkio(f: &dyn Files, s: &mut Stats) -> Result<(), StatsError> {
    for group in BLKIO_GROUPS {
        for (i, (file, field)) in group.iter().enumerate() {
            let entries = blkio_entries(f, file)?;
            if entries.is_empty() {
                // An empty first file means "try the next group"; a later
                // one ends the search with what was found (runc's rule).
                if i == 0 {
                    break;
                }
                return Ok(());
            }
            let b = &mut s.blkio;
            *match field {
                Field::ServiceBytes => &mut b.io_service_bytes_recursive,
                Field::Serviced => &mut b.io_serviced_recursive,
                Field::Queued => &mut b.io_queued_recursive,
                Field::ServiceTime => &mut b.io_service_time_recursive,
                Field::WaitTime => &mut b.io_wait_time_recursive,
                Field::Merged => &mut b.io_merged_recursive,
                Field::Time => &mut b.io_time_recursive,
                Field::Sectors => &mut b.sectors_recursive,
            } = entries;
            if i == group.len() - 1 {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// "MAJ:MIN [OP] VALUE" lines; the "Total N" line is skipped.
fn blkio_entries(f: &dyn Files, file: &str) -> Result<Vec<BlkioEntry>, StatsError> {
    let Some(t) = text_opt(f, file)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for line in t.lines().filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split([' ', ':']).filter(|w| !w.is_empty()).collect();
        if w.len() == 2 && w[0] == "Total" {
            continue;
        }
        let n = |v: &str| v.parse::<u64>().map_err(|_| bad(f, file, line));
        let (op, value) = match w.len() {
            3 => (String::new(), n(w[2])?),
            4 => (w[2].to_string(), n(w[3])?),
            _ => return Err(bad(f, file, format!("malformed line {line:?}"))),
        };
        out.push(BlkioEntry {
            major: n(w[0])?,
            minor: n(w[1])?,
            op,
            value,
        });
    }
    Ok(out)
}

/// hugetlb.<size>.{usage_in_bytes,max_usage_in_bytes,failcnt}.
pub fn hugetlb(f: &dyn Files, sizes: &[String], s: &mut Stats) -> Result<(), StatsError> {
    for size in sizes {
        let file = |what: &str| format!("hugetlb.{size}.{what}");
        let h = Hugetlb {
            usage: param(f, &file("usage_in_bytes"))?,
            max: param(f, &file("max_usage_in_bytes"))?,
            failcnt: param(f, &file("failcnt"))?,
        };
        s.hugetlb.insert(size.clone(), h);
    }
    Ok(())
}
