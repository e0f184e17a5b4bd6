//! `linux.resources`: written to the cgroup files, enforced by the kernel
//! (devices, pids, memory), on a hybrid host's cgroup2 too, and changed
//! live by `update`.

use crate::common::{is_keel, Sandbox};
use crate::keel_only;
use crate::support::{cg_dir, cg_read, cgroup_path, keyed, pure_v2, shared_file, CGROUP_ROOT, MIB};
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The whole disk holding the root filesystem, as (major, minor), if the
/// root is on a block device at all: the blkio throttle takes disks, not
/// partitions.
fn root_disk() -> Option<(u64, u64)> {
    let dev = fs::metadata("/").ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let sys = fs::canonicalize(sys).ok()?;
    let disk = if sys.join("partition").exists() {
        sys.parent()?.to_path_buf()
    } else {
        sys
    };
    let text = fs::read_to_string(disk.join("dev")).ok()?;
    let (major, minor) = text.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[test]
fn resources_are_written_to_the_cgroup_files() {
    let mut sb = Sandbox::new("cg_resources");
    let v2 = pure_v2();
    let mut resources = json!({
        "memory": {"limit": 64 * MIB, "reservation": 32 * MIB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 42},
    });
    let disk = root_disk();
    if let Some((major, minor)) = disk {
        resources["blockIO"] = json!({"throttleReadBpsDevice": [
            {"major": major, "minor": minor, "rate": 4 * MIB}
        ]});
    } else {
        eprintln!("note: / is not on a block device; blkio throttle not checked");
    }
    if !v2 {
        // v1 only: cgroup v2 has no swappiness (keel refuses it there).
        resources["memory"]["swappiness"] = json!(10);
    }
    sb.bundle.set("/linux/resources", resources);
    let id = sb.id.clone();
    sb.create(&id);
    if v2 {
        return check_v2_resources(&id, disk);
    }
    let expected = [
        ("memory", "memory.limit_in_bytes", (64 * MIB).to_string()),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            (32 * MIB).to_string(),
        ),
        ("memory", "memory.swappiness", "10".to_string()),
        ("cpu", "cpu.shares", "512".to_string()),
        ("cpu", "cpu.cfs_quota_us", "50000".to_string()),
        ("cpu", "cpu.cfs_period_us", "100000".to_string()),
        ("cpuset", "cpuset.cpus", "0".to_string()),
        ("pids", "pids.max", "42".to_string()),
    ];
    for (hierarchy, file, want) in expected {
        assert_eq!(cg_read(hierarchy, &id, file), want, "{hierarchy}/{file}");
    }
    if let Some((major, minor)) = disk {
        assert_eq!(
            cg_read("blkio", &id, "blkio.throttle.read_bps_device"),
            format!("{major}:{minor} {}", 4 * MIB)
        );
    }
}

/// The v2 files for `resources_are_written_to_the_cgroup_files`: shares
/// 512 is cpu.weight 59 by runc's conversion.
fn check_v2_resources(id: &str, disk: Option<(u64, u64)>) {
    let expected = [
        ("memory.max", (64 * MIB).to_string()),
        ("memory.low", (32 * MIB).to_string()),
        ("cpu.weight", "59".to_string()),
        ("cpu.max", "50000 100000".to_string()),
        ("cpuset.cpus", "0".to_string()),
        ("pids.max", "42".to_string()),
    ];
    for (file, want) in expected {
        assert_eq!(cg_read("", id, file), want, "{file}");
    }
    if let Some((major, minor)) = disk {
        let io = cg_read("", id, "io.max");
        let want = format!("{major}:{minor} rbps={} ", 4 * MIB);
        assert!(io.starts_with(&want), "io.max: {io:?}");
    }
}

#[test]
fn a_device_the_rules_deny_cannot_be_opened() {
    // A config's device rules come first and the devices every container
    // may use are appended (runc does the same), so a rule alone cannot
    // deny /dev/zero. A config that defines /dev/zero itself takes it off
    // that list; then the rules decide. (Not /dev/null: both runtimes
    // reopen it for the init's stdio, so denying it fails create.)
    let mut sb = Sandbox::new("cg_devices");
    let mut out = sb.fifo("out");
    sb.bundle.push(
        "/linux/devices",
        json!({"path": "/dev/zero", "type": "c", "major": 1, "minor": 5,
               "fileMode": 438, "uid": 0, "gid": 0}),
    );
    sb.bundle.set(
        "/linux/resources/devices",
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
        ]),
    );
    sb.bundle.sh(
        "{ echo x > /dev/zero; } 2> /shared/zero-err; echo \"zero $?\" > /shared/out; \
         echo x > /dev/null; echo \"null $?\" > /shared/out",
    );
    let id = sb.create_and_start_own();
    assert_ne!(out.read_line("the write to /dev/zero"), "zero 0");
    let err = shared_file(&sb, "zero-err");
    assert!(err.contains("Operation not permitted"), "{err}");
    // A default device stays usable.
    assert_eq!(out.read_line("the write to /dev/null"), "null 0");
    if !pure_v2() {
        // v2 has no list to read: the eBPF program is the rules.
        let list = cg_read("devices", &id, "devices.list");
        assert!(!list.lines().any(|l| l.starts_with("c 1:5 ")), "{list}");
        assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    }
}

#[test]
fn forks_beyond_the_pids_limit_fail() {
    let mut sb = Sandbox::new("cg_pids_enforced");
    let mut done = sb.fifo("done");
    sb.bundle.set("/linux/resources/pids/limit", json!(10));
    // A shell that tries 20 background sleeps; busybox sh gives up on the
    // first fork the kernel refuses. The init stays, holding the cgroup.
    sb.bundle.sh(
        "sh -c 'for i in $(seq 20); do sleep 1000 & done' 2> /shared/err; \
         echo done > /shared/done; exec sleep 1000",
    );
    let id = sb.create_and_start_own();
    assert_eq!(done.read_line("the fork loop to end"), "done");
    let err = shared_file(&sb, "err");
    assert!(err.contains("can't fork"), "no fork failed: {err:?}");
    assert_eq!(cg_read("pids", &id, "pids.max"), "10");
    let current: u32 = cg_read("pids", &id, "pids.current").parse().unwrap();
    assert!(current <= 10, "pids.current {current} is over the limit");
    // The kernel counts the forks it refused at the limit.
    let events = cg_read("pids", &id, "pids.events");
    let refused: u64 = events
        .strip_prefix("max ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pids.events: {events:?}"));
    assert!(refused > 0, "pids.events: {events:?}");
}

#[test]
fn a_process_over_the_memory_limit_is_oom_killed() {
    let mut sb = Sandbox::new("cg_memory_enforced");
    let mut out = sb.fifo("out");
    // No swap to escape to: memory+swap is capped at the same 32 MiB.
    sb.bundle.set(
        "/linux/resources/memory",
        json!({"limit": 32 * MIB, "swap": 32 * MIB}),
    );
    // dd fills (and so touches) a 64 MiB buffer reading /dev/zero.
    sb.bundle
        .sh("dd if=/dev/zero of=/dev/null bs=64M count=1 2> /dev/null; \
         echo \"dd $?\" > /shared/out; exec sleep 1000");
    let id = sb.create_and_start_own();
    // 128 + SIGKILL: the OOM killer's signal.
    assert_eq!(out.read_line("dd's exit status"), "dd 137");
    if pure_v2() {
        return check_v2_oom(&id);
    }
    assert_eq!(
        cg_read("memory", &id, "memory.memsw.limit_in_bytes"),
        (32 * MIB).to_string()
    );
    // Usage went up to the limit (give or take the last charge the kernel
    // refused) and no further. Not memory.failcnt: this kernel leaves it 0.
    let peak: i64 = cg_read("memory", &id, "memory.max_usage_in_bytes")
        .parse()
        .unwrap();
    assert!(
        (31 * MIB..=32 * MIB).contains(&peak),
        "peak usage {peak} is not at the limit"
    );
    let oom = cg_read("memory", &id, "memory.oom_control");
    let kills = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .unwrap_or_else(|| panic!("no oom_kill count: {oom}"));
    assert_eq!(kills, "1", "memory.oom_control:\n{oom}");
}

/// v2's view of the OOM kill: no swap beyond the limit (memory+swap equal
/// to the limit is memory.swap.max 0), peak at the limit, one oom_kill.
fn check_v2_oom(id: &str) {
    let swap = cg_dir("", &cgroup_path(id)).join("memory.swap.max");
    if swap.exists() {
        assert_eq!(cg_read("", id, "memory.swap.max"), "0");
    }
    assert_eq!(cg_read("", id, "memory.max"), (32 * MIB).to_string());
    if cg_dir("", &cgroup_path(id)).join("memory.peak").exists() {
        let peak: i64 = cg_read("", id, "memory.peak").parse().unwrap();
        assert!(
            (31 * MIB..=32 * MIB).contains(&peak),
            "peak usage {peak} is not at the limit"
        );
    }
    let events = cg_read("", id, "memory.events");
    assert_eq!(
        keyed(&events, "oom_kill"),
        Some(1),
        "memory.events:\n{events}"
    );
}

#[test]
fn a_hybrid_hosts_cgroup2_controllers_are_used() {
    // This host is hybrid: hugetlb is offered by cgroup2 (the `unified`
    // mount), not by any v1 hierarchy, and the limit must land there.
    // runc 1.1.5 refuses such a config here ("cannot set hugetlb limit").
    keel_only!();
    let hybrid = fs::read_to_string(Path::new(CGROUP_ROOT).join("unified/cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "hugetlb"));
    if !hybrid {
        eprintln!("skipped: no hugetlb in a cgroup2 mount at /sys/fs/cgroup/unified");
        return;
    }
    let mut sb = Sandbox::new("cg_hybrid_hugetlb");
    sb.bundle.set(
        "/linux/resources/hugepageLimits",
        json!([{"pageSize": "2MB", "limit": 8 * MIB}]),
    );
    let id = sb.id.clone();
    sb.create(&id);
    assert_eq!(
        cg_read("unified", &id, "hugetlb.2MB.max"),
        (8 * MIB).to_string()
    );
}

/// The memory limit file of container `id` for this host's layout.
fn memory_limit(id: &str) -> String {
    match pure_v2() {
        true => cg_read("", id, "memory.max"),
        false => cg_read("memory", id, "memory.limit_in_bytes"),
    }
}

#[test]
fn update_changes_the_live_limits() {
    let mut sb = Sandbox::new("cg_update");
    sb.bundle.args(&["sleep", "1000"]);
    sb.bundle.set("/linux/resources/pids/limit", json!(50));
    let id = sb.create_and_start_own();
    sb.rt
        .ok(&["update", "--memory", "64m", "--pids-limit", "20", &id]);
    assert_eq!(memory_limit(&id), (64 * MIB).to_string());
    assert_eq!(cg_read("pids", &id, "pids.max"), "20");

    let doc = sb.dir.join("resources.json");
    fs::write(&doc, json!({"pids": {"limit": 7}}).to_string()).unwrap();
    sb.rt.ok(&["update", "-r", doc.to_str().unwrap(), &id]);
    assert_eq!(cg_read("pids", &id, "pids.max"), "7");
    // Untouched by a document that does not name it.
    assert_eq!(memory_limit(&id), (64 * MIB).to_string());

    let bad = sb.rt.fails(&["update", "--memory", "lots", &id]);
    assert!(bad.stderr.contains("memory"), "{bad}");
    if is_keel() {
        assert!(
            bad.stderr.contains("--memory") && bad.stderr.contains("lots"),
            "{bad}"
        );
    }
    assert_eq!(memory_limit(&id), (64 * MIB).to_string());
}

#[test]
fn update_accepts_runcs_cpu_share_flag() {
    // runc's flag is --cpu-share (singular); scripts written for runc use it.
    let mut sb = Sandbox::new("cg_update_share");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
    sb.rt.ok(&["update", "--cpu-share", "300", &id]);
    if pure_v2() {
        // runc's conversion of 300 shares.
        assert_eq!(cg_read("", &id, "cpu.weight"), "39");
    } else {
        assert_eq!(cg_read("cpu", &id, "cpu.shares"), "300");
    }
}

#[test]
fn update_reads_a_resources_document_from_stdin() {
    // containerd sends its document on stdin: `update --resources - ID`.
    let mut sb = Sandbox::new("cg_update_stdin");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
    let doc = sb.dir.join("resources.json");
    fs::write(&doc, json!({"pids": {"limit": 9}}).to_string()).unwrap();
    let call = sb.rt.command_via_sh(
        &format!("exec \"$@\" < {}", doc.display()),
        &["update", "--resources", "-", &id],
    );
    call.spawn().wait().assert_ok();
    assert_eq!(cg_read("pids", &id, "pids.max"), "9");
}
