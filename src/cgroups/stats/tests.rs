//! The stats readers against fixture directories (testdata/) holding the
//! files a kernel shows: pure v2 with every controller, pure v2 with only
//! memory, v1 controllers, and a hybrid host's split.

use std::path::PathBuf;

use serde_json::json;

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/cgroups/stats/testdata")
        .join(name)
}

fn sizes() -> Vec<String> {
    vec!["2MB".into(), "1GB".into()]
}

fn v2_only(name: &str) -> Dirs {
    Dirs {
        v1: BTreeMap::new(),
        unified: Some(fixture(name)),
    }
}

fn v1_dirs() -> Dirs {
    let v1 = ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"]
        .iter()
        .map(|c| (c.to_string(), fixture(&format!("v1/{c}"))))
        .collect();
    Dirs { v1, unified: None }
}

#[test]
fn pure_v2_maps_onto_runcs_fields() {
    let s = collect_from(&v2_only("v2"), &sizes()).unwrap();
    let u = &s.cpu.usage;
    assert_eq!(
        (u.total, u.user, u.kernel),
        (123_456_000, 100_000_000, 23_456_000)
    );
    assert!(u.percpu.is_empty(), "v2 has no per-cpu usage");
    let th = &s.cpu.throttling;
    assert_eq!(
        (th.periods, th.throttled_periods, th.throttled_time),
        (10, 2, 5_000_000)
    );
    assert_eq!((s.pids.current, s.pids.limit), (3, 100));
    let m = &s.memory;
    assert_eq!((m.usage.usage, m.usage.limit), (5_242_880, 33_554_432));
    // Swap as memory + swap, limits added too.
    assert_eq!((m.swap.usage, m.swap.limit), (6_291_456, 67_108_864));
    assert_eq!(m.cache, 1_048_576, "cache is memory.stat's file");
    assert_eq!(m.raw["pgmajfault"], 2);
    assert_eq!(m.raw.len(), 18);
    let bytes = &s.blkio.io_service_bytes_recursive;
    let ops: Vec<(u64, u64, &str, u64)> = bytes
        .iter()
        .map(|e| (e.major, e.minor, e.op.as_str(), e.value))
        .collect();
    assert_eq!(
        ops,
        [
            (8, 0, "Read", 1_048_576),
            (8, 0, "Write", 4096),
            (253, 1, "Read", 0),
            (253, 1, "Write", 8192)
        ]
    );
    assert_eq!(s.blkio.io_serviced_recursive.len(), 4);
    assert_eq!(s.blkio.io_serviced_recursive[0].value, 12);
    assert_eq!(
        s.hugetlb["2MB"],
        Hugetlb {
            usage: 4_194_304,
            max: 0,
            failcnt: 3
        }
    );
    assert_eq!(s.hugetlb["1GB"], Hugetlb::default());
}

#[test]
fn pure_v2_without_pids_or_swap_falls_back_like_runc() {
    let s = collect_from(&v2_only("v2-minimal"), &sizes()).unwrap();
    assert_eq!(
        (s.pids.current, s.pids.limit),
        (2, 0),
        "counted from cgroup.procs"
    );
    assert_eq!(s.memory.usage.limit, u64::MAX, "max is unlimited");
    assert_eq!(s.memory.swap, MemoryEntry::default());
    assert!(s.hugetlb.is_empty() && s.blkio == Blkio::default());
    assert_eq!(s.cpu.usage.total, 1_000_000);
}

#[test]
fn v1_controllers() {
    let s = collect_from(&v1_dirs(), &sizes()).unwrap();
    let u = &s.cpu.usage;
    assert_eq!(
        (u.user, u.kernel),
        (30_000_000, 10_000_000),
        "ticks of 10ms"
    );
    assert_eq!(u.total, 23_148_761);
    assert_eq!(u.percpu, [7_855_690, 15_293_071]);
    assert_eq!(
        (u.percpu_user.clone(), u.percpu_kernel.clone()),
        (vec![0, 8_000_000], vec![8_000_000, 4_000_000])
    );
    assert_eq!(s.cpu.throttling.throttled_time, 123_456_789);
    assert_eq!(
        (s.cpuset.cpus.clone(), s.cpuset.mems.clone()),
        (vec![0, 1], vec![0])
    );
    assert_eq!(
        (
            s.cpuset.sched_load_balance,
            s.cpuset.sched_relax_domain_level
        ),
        (1, -1)
    );
    let m = &s.memory;
    assert_eq!(
        m.usage,
        MemoryEntry {
            limit: 67_108_864,
            usage: 704_512,
            max: 2_248_704,
            failcnt: 0
        }
    );
    assert_eq!(m.swap.failcnt, 7);
    assert_eq!(m.kernel.limit, 9_223_372_036_854_771_712);
    assert_eq!(
        m.kernel_tcp,
        MemoryEntry::default(),
        "no kmem.tcp files: zeros"
    );
    assert_eq!(m.cache, 4096);
    assert_eq!((s.pids.current, s.pids.limit), (2, 0), "max is no limit");
    // bfq's first file has only a Total: the throttle counters are used.
    let serviced = &s.blkio.io_serviced_recursive;
    assert_eq!(serviced.len(), 6);
    assert_eq!((serviced[0].op.as_str(), serviced[0].value), ("Read", 10));
    assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 8192);
    assert!(s.hugetlb.is_empty());
}

#[test]
fn a_hybrid_host_reads_hugetlb_from_cgroup2_and_the_rest_from_v1() {
    let mut dirs = v1_dirs();
    dirs.unified = Some(fixture("unified-hugetlb"));
    let s = collect_from(&dirs, &sizes()).unwrap();
    assert_eq!(s.hugetlb.keys().collect::<Vec<_>>(), ["2MB"]);
    assert_eq!(s.memory.usage.usage, 704_512);
    assert_eq!(
        s.cpu.usage.total, 23_148_761,
        "v1 cpuacct, not cgroup2's cpu.stat"
    );
}

#[test]
fn a_broken_file_names_itself() {
    let e = collect_from(&v2_only("v1/cpu"), &sizes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("v1/cpu/cgroup.procs"), "{e}");
}

#[test]
fn the_document_has_runcs_field_names_and_omissions() {
    let s = collect_from(&v1_dirs(), &sizes()).unwrap();
    let v = serde_json::to_value(&s).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&v),
        [
            "blkio",
            "cpu",
            "cpuset",
            "hugetlb",
            "intel_rdt",
            "memory",
            "network_interfaces",
            "pids"
        ]
    );
    assert_eq!(
        keys(&v["cpu"]["usage"]),
        [
            "kernel",
            "percpu",
            "percpu_kernel",
            "percpu_user",
            "total",
            "user"
        ]
    );
    assert_eq!(
        v["cpu"]["throttling"],
        json!({"periods": 20, "throttledPeriods": 5, "throttledTime": 123456789})
    );
    assert_eq!(
        keys(&v["memory"]),
        ["cache", "kernel", "kernelTCP", "raw", "swap", "usage"]
    );
    assert_eq!(v["memory"]["kernelTCP"], json!({"limit": 0, "failcnt": 0}));
    assert_eq!(
        v["blkio"]["ioServicedRecursive"][0],
        json!({"major": 8, "op": "Read", "value": 10})
    );
    assert_eq!(v["pids"], json!({"current": 2}), "a zero limit is omitted");
    assert_eq!(v["intel_rdt"], json!({}));
    assert_eq!(v["network_interfaces"], json!(null));
    // Zeros that runc omits, and empty objects it still prints.
    let empty = serde_json::to_string(&Stats::default()).unwrap();
    assert_eq!(
        empty,
        r#"{"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},"pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}"#
    );
}
