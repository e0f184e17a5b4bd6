//! Tests as root on this host (hybrid: v1 controllers, hugetlb in cgroup2):
//! every resource written and read back from its file, processes joined,
//! frozen and thawed, limits enforced, and nothing left behind, also when
//! create fails. Each test uses its own `/keel-test/<pid>-<n>`.

mod harness;
mod v2;

use std::os::fd::RawFd;

use harness::{block_device, errno, fixture, proc_state, res, try_opens};

use super::{Cgroup, CgroupError};

fn nothing(_: &mut [i32; 4], _: RawFd) {}

/// Fork a grandchild that stays until `go` closes, then try once more.
fn fork_twice(out: &mut [i32; 4], go: RawFd) {
    // SAFETY: fork/read/_exit only (async-signal-safe).
    unsafe {
        let first = libc::fork();
        if first == 0 {
            let mut b = 0u8;
            while libc::read(go, (&mut b as *mut u8).cast(), 1) > 0 {}
            libc::_exit(0);
        }
        out[0] = first;
        let second = libc::fork();
        if second == 0 {
            libc::_exit(0);
        }
        out[1] = second;
        out[2] = if second < 0 { errno() } else { 0 };
    }
}

/// errno (or 0) of opening /dev/null rw, /dev/zero r, /dev/zero w.
fn open_devices(out: &mut [i32; 4], _: RawFd) {
    try_opens(
        &[
            (b"/dev/null\0", libc::O_RDWR),
            (b"/dev/zero\0", libc::O_RDONLY),
            (b"/dev/zero\0", libc::O_WRONLY),
        ],
        out,
    );
}

#[test]
fn state_round_trip() {
    let l = crate::cgroups::layout::tests::host();
    let cg = Cgroup::with_layout(l, None, "abc").unwrap();
    let json = serde_json::to_string(&cg).unwrap();
    assert!(json.contains(r#""path":"/keel/abc""#), "{json}");
    assert_eq!(serde_json::from_str::<Cgroup>(&json).unwrap(), cg);
    assert_eq!(cg.kind(), crate::cgroups::Kind::Hybrid);
}

#[test]
fn every_resource_is_written_and_read_back() {
    let Some(fx) = fixture() else { return };
    let (major, minor) = block_device();
    let r = res(&format!(
        r#"{{"memory":{{"limit":67108864,"reservation":33554432,"swap":134217728,
             "swappiness":10,"disableOOMKiller":true,"useHierarchy":true,"kernelTCP":16777216}},
            "cpu":{{"shares":512,"quota":50000,"period":100000,"burst":1000,"cpus":"0","mems":"0"}},
            "pids":{{"limit":10}},
            "blockIO":{{"weight":300,"throttleReadBpsDevice":[{{"major":{major},"minor":{minor},"rate":1048576}}],
                "throttleWriteIOPSDevice":[{{"major":{major},"minor":{minor},"rate":100}}]}},
            "hugepageLimits":[{{"pageSize":"2MB","limit":4194304}}],
            "devices":[{{"allow":false,"access":"rwm"}},
                {{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}},
                {{"allow":true,"type":"c","major":1,"minor":5,"access":"r"}}]}}"#
    ));
    fx.cg.create(Some(&r)).unwrap();
    let expect = [
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("memory", "memory.memsw.limit_in_bytes", "134217728"),
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("memory", "memory.swappiness", "10"),
        ("memory", "memory.use_hierarchy", "1"),
        ("memory", "memory.kmem.tcp.limit_in_bytes", "16777216"),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_burst_us", "1000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
        ("pids", "pids.max", "10"),
        ("blkio", "blkio.bfq.weight", "300"),
        ("devices", "devices.list", "c 1:3 rwm\nc 1:5 r"),
        ("unified", "hugetlb.2MB.max", "4194304"),
    ];
    for (controller, file, value) in expect {
        assert_eq!(fx.read(controller, file), value, "{controller} {file}");
    }
    assert!(fx
        .read("memory", "memory.oom_control")
        .contains("oom_kill_disable 1"));
    let dev = format!("{major}:{minor}");
    let bps = fx.read("blkio", "blkio.throttle.read_bps_device");
    assert_eq!(bps, format!("{dev} 1048576"));
    let iops = fx.read("blkio", "blkio.throttle.write_iops_device");
    assert_eq!(iops, format!("{dev} 100"));
}

#[test]
fn processes_join_freeze_thaw_and_leave() {
    let Some(fx) = fixture() else { return };
    fx.cg.create(Some(&res(r#"{"pids":{"limit":5}}"#))).unwrap();
    let child = fx.spawn(nothing);
    fx.cg.add(child.pid).unwrap();
    assert_eq!(fx.cg.pids().unwrap(), [child.pid]);
    let own = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid)).unwrap();
    let path = fx.cg.path().display().to_string();
    assert!(
        own.lines().any(|l| l == format!("4:memory:{path}")),
        "{own}"
    );
    assert!(own.lines().any(|l| l == format!("0::{path}")), "{own}");

    fx.cg.freeze().unwrap();
    assert!(fx.cg.is_frozen());
    assert_eq!(fx.read("freezer", "freezer.state"), "FROZEN");
    eprintln!("frozen child's State: {}", proc_state(child.pid));
    fx.cg.thaw().unwrap();
    assert!(!fx.cg.is_frozen());
    assert_eq!(fx.read("freezer", "freezer.state"), "THAWED");
    // Running again: it reads `go`, reports and exits when released.
    assert_eq!(child.go(), [0; 4]);
    assert_eq!(child.finish(), 0);
    assert!(fx.cg.pids().unwrap().is_empty());
    fx.cg.remove().unwrap();
    fx.assert_gone();
}

#[test]
fn pids_limit_stops_a_fork() {
    let Some(fx) = fixture() else { return };
    fx.cg.create(Some(&res(r#"{"pids":{"limit":2}}"#))).unwrap();
    let child = fx.spawn(fork_twice);
    fx.cg.add(child.pid).unwrap();
    let [first, second, err, _] = child.go();
    assert!(first > 0, "the first fork fits the limit");
    assert_eq!((second, err), (-1, libc::EAGAIN), "the second one does not");
    assert_eq!(
        fx.cg.pids().unwrap(),
        [child.pid.min(first), child.pid.max(first)]
    );
    // Processes left: remove says so and names the directory.
    let e = fx.cg.remove().unwrap_err();
    assert!(matches!(e, CgroupError::Busy { .. }), "{e}");
    assert!(
        e.to_string().contains("cannot remove it: 2 process(es)"),
        "{e}"
    );
    assert_eq!(child.finish(), 0);
    fx.cg.remove().unwrap();
    fx.assert_gone();
}

#[test]
fn device_rules_are_enforced() {
    let Some(fx) = fixture() else { return };
    let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rw"},
        {"allow":false,"type":"c","major":1,"minor":5,"access":"w"}]}"#);
    fx.cg.create(Some(&r)).unwrap();
    assert_eq!(fx.read("devices", "devices.list"), "c 1:5 r");
    let child = fx.spawn(open_devices);
    fx.cg.add(child.pid).unwrap();
    assert_eq!(child.go()[..3], [libc::EPERM, 0, libc::EPERM]);
    assert_eq!(child.finish(), 0);
}

#[test]
fn update_raises_and_lowers_limits() {
    let Some(fx) = fixture() else { return };
    let mem = |l: i64, s: i64| res(&format!(r#"{{"memory":{{"limit":{l},"swap":{s}}}}}"#));
    fx.cg.create(Some(&mem(64 << 20, 128 << 20))).unwrap();
    fx.cg.update(&mem(256 << 20, 512 << 20)).unwrap();
    assert_eq!(
        fx.read("memory", "memory.limit_in_bytes"),
        (256u64 << 20).to_string()
    );
    assert_eq!(
        fx.read("memory", "memory.memsw.limit_in_bytes"),
        (512u64 << 20).to_string()
    );
    fx.cg.update(&mem(32 << 20, 48 << 20)).unwrap();
    assert_eq!(
        fx.read("memory", "memory.limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        fx.read("memory", "memory.memsw.limit_in_bytes"),
        (48u64 << 20).to_string()
    );
    fx.cg.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    let unlimited = fx.read("memory", "memory.limit_in_bytes");
    assert_eq!(fx.read("memory", "memory.memsw.limit_in_bytes"), unlimited);
    fx.cg
        .update(&res(r#"{"pids":{"limit":-1},"cpu":{"shares":2048}}"#))
        .unwrap();
    assert_eq!(fx.read("pids", "pids.max"), "max");
    assert_eq!(fx.read("cpu", "cpu.shares"), "2048");
}

#[test]
fn a_failing_create_leaves_nothing() {
    let cases = [
        (
            r#"{"cpu":{"cpus":"99"}}"#,
            "linux.resources.cpu.cpus: write \"99\" to ",
        ),
        (
            r#"{"blockIO":{"leafWeight":300}}"#,
            "linux.resources.blockIO.leafWeight: not supported",
        ),
        (
            r#"{"network":{"classID":1}}"#,
            "linux.resources.network.classID: not supported",
        ),
        (
            r#"{"memory":{"kernel":1048576}}"#,
            "linux.resources.memory.kernel: not supported",
        ),
        (
            r#"{"cpu":{"realtimeRuntime":10000}}"#,
            "linux.resources.cpu.realtimeRuntime: ",
        ),
        (
            r#"{"memory":{"useHierarchy":false}}"#,
            "linux.resources.memory.useHierarchy: ",
        ),
        (
            r#"{"unified":{"memory.high":"1"}}"#,
            "linux.resources.unified[\"memory.high\"]: ",
        ),
    ];
    for (json, start) in cases {
        let Some(fx) = fixture() else { return };
        let e = fx.cg.create(Some(&res(json))).unwrap_err().to_string();
        eprintln!("{json}: {e}");
        assert!(e.starts_with(start), "{json}: {e}");
        assert!(!e.contains('\n'));
        fx.assert_gone();
    }
}

#[test]
fn paths_resolve_from_each_hierarchy_root() {
    let Some(fx) = fixture() else { return };
    let rel = Cgroup::for_container(Some("keel-test/rel".as_ref()), "x").unwrap();
    assert_eq!(
        rel.v1_dir("memory").unwrap(),
        std::path::Path::new("/sys/fs/cgroup/memory/keel-test/rel")
    );
    let default = Cgroup::for_container(None, "abc").unwrap();
    assert_eq!(
        default.unified_dir().unwrap(),
        std::path::Path::new("/sys/fs/cgroup/unified/keel/abc")
    );
    // A cgroup with a prunable parent removes the parent once empty.
    let mut shared = fx.cg.clone();
    shared.path = fx.cg.path.join("inner");
    shared.prune = Some(fx.cg.path.clone());
    shared.create(None).unwrap();
    shared.remove().unwrap();
    fx.assert_gone();
}

#[test]
fn proc_lines_once_placed_rewrite_only_the_layouts_hierarchies() {
    use super::layout::{Hierarchy, Layout};
    let h = |controllers: &[&str], at: &str| Hierarchy {
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
        mount_point: at.into(),
        root: "/".into(),
    };
    let layout = Layout {
        v1: vec![
            h(&["cpu", "cpuacct"], "/sys/fs/cgroup/cpu,cpuacct"),
            h(&["name=systemd"], "/sys/fs/cgroup/systemd"),
        ],
        unified: Some(h(&["hugetlb"], "/sys/fs/cgroup/unified")),
    };
    let cg = Cgroup::with_layout(layout, Some("/k/c1".as_ref()), "c1").unwrap();
    let own = "12:memory:/process_api/x\n4:cpu,cpuacct:/user.slice\n1:name=systemd:/init.scope\n0::/user.slice\n";
    assert_eq!(
        cg.proc_lines_once_placed(own),
        "12:memory:/process_api/x\n4:cpu,cpuacct:/k/c1\n1:name=systemd:/k/c1\n0::/k/c1\n"
    );
}
