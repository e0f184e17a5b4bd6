//! cgroups on this v1/hybrid host, and on a pure cgroup v2 host (the qemu
//! testbed in hack/vm/ runs this suite in one): where a container's
//! processes are placed, the `linux.resources` written to (and enforced by)
//! the cgroup files, `pause`/`resume`, `ps`, `update`, `kill --all`, `exec`
//! joining the cgroup, removal on `delete` and after failed creates, and
//! how `linux.cgroupsPath` is resolved.
//!
//! Every check reads the kernel's own view from outside
//! (/sys/fs/cgroup/CONTROLLER/keel-test/ID on v1, /sys/fs/cgroup/keel-test/ID
//! on v2, /proc/PID/cgroup) and, where it means something, from inside the
//! container. The harness gives each container the absolute cgroup path
//! /keel-test/ID. Where v1 and v2 differ, each test reads the files of the
//! host's layout.

mod common;

use common::sys::PidFd;
use common::{is_keel, Bundle, Fifo, Sandbox, TIMEOUT};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const MIB: i64 = 1 << 20;
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers every container on a v1/hybrid host is placed under.
const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "devices", "blkio",
];

/// Whether /sys/fs/cgroup is itself the cgroup2 hierarchy (a pure v2 host).
fn pure_v2() -> bool {
    nix::sys::statfs::statfs(CGROUP_ROOT)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The cgroup path the harness gives container `id`.
fn cgroup_path(id: &str) -> String {
    format!("/keel-test/{id}")
}

/// The directory of cgroup `path` in the hierarchy mounted at
/// /sys/fs/cgroup/`hierarchy` (`unified` is the hybrid host's cgroup2); on
/// a pure v2 host the one hierarchy at /sys/fs/cgroup, whatever the name.
fn cg_dir(hierarchy: &str, path: &str) -> PathBuf {
    let root = Path::new(CGROUP_ROOT);
    let base = if pure_v2() {
        root.to_path_buf()
    } else {
        root.join(hierarchy)
    };
    base.join(path.trim_start_matches('/'))
}

/// One file of container `id`'s cgroup in `hierarchy`, trimmed.
fn cg_read(hierarchy: &str, id: &str, file: &str) -> String {
    let path = cg_dir(hierarchy, &cgroup_path(id)).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The value of `key` in a flat-keyed file like memory.events.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The hierarchies mounted under /sys/fs/cgroup, by directory name (one,
/// named "", on a pure v2 host).
fn hierarchies() -> Vec<String> {
    if pure_v2() {
        return vec![String::new()];
    }
    let mut names: Vec<String> = fs::read_dir(CGROUP_ROOT)
        .expect("read /sys/fs/cgroup")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Directories of cgroup `path` that exist in any hierarchy.
fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    hierarchies()
        .iter()
        .map(|h| cg_dir(h, path))
        .filter(|d| d.exists())
        .collect()
}

fn assert_no_cgroup(path: &str) {
    let left = cgroup_dirs(path);
    assert!(left.is_empty(), "cgroup directories left behind: {left:?}");
}

/// One line of /proc/PID/cgroup: hierarchy id, controllers, path.
struct CgroupLine {
    id: String,
    controllers: String,
    path: String,
}

impl CgroupLine {
    fn has(&self, controller: &str) -> bool {
        self.controllers.split(',').any(|c| c == controller)
    }

    /// The cgroup2 line of a hybrid host: `0::PATH`.
    fn is_unified(&self) -> bool {
        self.id == "0" && self.controllers.is_empty()
    }
}

fn parse_cgroup_lines(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let mut next = || parts.next().unwrap_or_default().to_string();
            CgroupLine {
                id: next(),
                controllers: next(),
                path: next(),
            }
        })
        .collect()
}

fn proc_cgroup(pid: i32) -> Vec<CgroupLine> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"));
    parse_cgroup_lines(&text)
}

/// Assert that `pid` sits in cgroup `path` in every hierarchy: each v1
/// controller and the cgroup2 hierarchy.
fn assert_placed(pid: i32, path: &str) {
    let lines = proc_cgroup(pid);
    for line in &lines {
        assert_eq!(
            line.path, path,
            "pid {pid} is elsewhere in hierarchy {}:{}",
            line.id, line.controllers
        );
    }
    if pure_v2() {
        assert_eq!(lines.len(), 1, "pid {pid}: only the 0:: line on v2");
    }
    for controller in V1_CONTROLLERS.iter().filter(|_| !pure_v2()) {
        assert!(
            lines.iter().any(|l| l.has(controller)),
            "no {controller} line in /proc/{pid}/cgroup"
        );
    }
    // A pure v1 host shows no 0:: line until cgroup2 is mounted somewhere.
    let host_has_unified = proc_cgroup(std::process::id() as i32)
        .iter()
        .any(CgroupLine::is_unified);
    assert!(
        !host_has_unified || lines.iter().any(CgroupLine::is_unified),
        "no cgroup2 (0::) line in /proc/{pid}/cgroup"
    );
}

/// Give the container its own cgroup namespace and runc's default read-only
/// cgroup mount at /sys/fs/cgroup (the harness drops that mount).
fn own_cgroup_view(bundle: &mut Bundle) {
    // `spec` already gives one on a pure v2 host, as runc's does.
    bundle
        .remove_namespace("cgroup")
        .push("/linux/namespaces", json!({"type": "cgroup"}));
    bundle.push(
        "/mounts",
        json!({
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }),
    );
}

/// Create and start the sandbox's container.
fn start(sb: &mut Sandbox) -> String {
    let id = sb.id.clone();
    sb.create(&id);
    sb.rt.ok(&["start", &id]);
    id
}

fn shared_file(sb: &Sandbox, name: &str) -> String {
    let path = sb.shared.join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn the_init_is_in_its_cgroup_before_it_runs() {
    let mut sb = Sandbox::new("cg_placement");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create(&id);
    // Created, not started: the init must already be in place, so that no
    // code of the container's ever runs outside its limits.
    let init = sb.init_pid(&id);
    assert_placed(init, &cgroup_path(&id));
    assert!(cgroup_procs(&id).contains(&init));
    sb.rt.ok(&["start", &id]);
    assert_placed(init, &cgroup_path(&id));
}

#[test]
fn in_its_own_cgroup_namespace_the_container_sees_its_cgroup_as_root() {
    let mut sb = Sandbox::new("cg_namespace");
    let mut done = sb.fifo("done");
    sb.bundle
        .set("/linux/resources/memory/limit", json!(48 * MIB));
    own_cgroup_view(&mut sb.bundle);
    // Reads only: should the view be wrong, /sys/fs/cgroup/memory could be
    // the test process's own memory cgroup, which must not be written.
    let limit_file = if pure_v2() {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    sb.bundle.sh(&format!(
        "cat /proc/self/cgroup > /shared/cgroup; \
         cat {limit_file} > /shared/limit; echo done > /shared/done"
    ));
    start(&mut sb);
    assert_eq!(done.read_line("the container's report"), "done");
    let text = shared_file(&sb, "cgroup");
    let inside = parse_cgroup_lines(&text);
    assert!(!inside.is_empty());
    for line in &inside {
        assert_eq!(
            line.path, "/",
            "inside, hierarchy {}:{} is not at its root; /proc/self/cgroup:\n{text}",
            line.id, line.controllers
        );
    }
    // The cgroup mount shows the container's own cgroup, limit included.
    assert_eq!(shared_file(&sb, "limit").trim(), (48 * MIB).to_string());
}

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
    let id = start(&mut sb);
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
    let id = start(&mut sb);
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
    let id = start(&mut sb);
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

/// A started container that answers each line of /shared/in with
/// `got LINE` on /shared/out, after saying `ready`.
fn echoing(sb: &mut Sandbox) -> (String, Fifo, Fifo) {
    let (mut out, input) = (sb.fifo("out"), sb.fifo("in"));
    sb.bundle.sh("echo ready > /shared/out; \
         while read line < /shared/in; do echo \"got $line\" > /shared/out; done");
    let id = start(sb);
    assert_eq!(out.read_line("the container to start"), "ready");
    (id, out, input)
}

/// The status `list --format json` gives container `id`.
fn listed_status(sb: &Sandbox, id: &str) -> String {
    let out = sb.rt.ok(&["list", "--format", "json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let item = list
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("{id} not listed: {out}"));
    item["status"].as_str().unwrap_or_default().to_string()
}

/// The State line of /proc/PID/status, e.g. `D (disk sleep)`.
fn proc_state(pid: i32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn pause_freezes_the_container_and_resume_lets_it_continue() {
    let mut sb = Sandbox::new("cg_pause_resume");
    let (id, mut out, mut input) = echoing(&mut sb);
    sb.rt.ok(&["pause", &id]);
    assert_eq!(sb.rt.status(&id), "paused");
    assert_eq!(listed_status(&sb, &id), "paused");
    let init = sb.init_pid(&id);
    if pure_v2() {
        // cgroup.events says when every task has stopped; a task frozen by
        // cgroup2 sleeps in the kernel's freezer trap.
        assert_eq!(cg_read("", &id, "cgroup.freeze"), "1");
        let events = cg_read("", &id, "cgroup.events");
        assert_eq!(keyed(&events, "frozen"), Some(1), "{events}");
        assert!(!proc_state(init).starts_with('R'), "{}", proc_state(init));
    } else {
        assert_eq!(cg_read("freezer", &id, "freezer.state"), "FROZEN");
        // FROZEN is the kernel's word that every task is in the
        // refrigerator, which /proc shows as an uninterruptible sleep.
        assert!(proc_state(init).starts_with('D'), "{}", proc_state(init));
    }
    // Queued while frozen, answered once thawed.
    input.write_line("ping");
    sb.rt.ok(&["resume", &id]);
    assert_eq!(sb.rt.status(&id), "running");
    if pure_v2() {
        let events = cg_read("", &id, "cgroup.events");
        assert_eq!(keyed(&events, "frozen"), Some(0), "{events}");
    } else {
        assert_eq!(cg_read("freezer", &id, "freezer.state"), "THAWED");
    }
    assert_eq!(out.read_line("the answer after resume"), "got ping");
    let again = sb.rt.fails(&["resume", &id]);
    assert!(again.stderr.contains("not paused"), "{again}");
}

#[test]
fn pause_of_a_stopped_container_fails() {
    let mut sb = Sandbox::new("cg_pause_stopped");
    sb.bundle.args(&["true"]);
    let id = start(&mut sb);
    sb.wait_exit(&id);
    let out = sb.rt.fails(&["pause", &id]);
    assert!(out.stderr.contains("not running"), "{out}");
    assert_eq!(sb.rt.status(&id), "stopped");
}

#[test]
fn kill_and_delete_force_end_a_paused_container() {
    let mut sb = Sandbox::new("cg_paused_end");
    let (id, _out, _input) = echoing(&mut sb);
    sb.rt.ok(&["pause", &id]);
    // A frozen process acts on SIGKILL only once thawed: kill must see to it.
    sb.rt.ok(&["kill", &id, "KILL"]);
    let status = sb.reap_init(&id);
    assert!(libc::WIFSIGNALED(status), "wait status {status:#x}");
    assert_eq!(libc::WTERMSIG(status), libc::SIGKILL);
    sb.rt.ok(&["delete", &id]);
    assert_no_cgroup(&cgroup_path(&id));

    let other = sb.other_id("forced");
    sb.create(&other);
    sb.rt.ok(&["start", &other]);
    sb.rt.ok(&["pause", &other]);
    let init = PidFd::open(sb.init_pid(&other)).expect("pidfd of the init");
    sb.rt.ok(&["delete", "--force", &other]);
    assert!(init.wait_exit(TIMEOUT), "the paused init survived");
    assert!(!sb.state_dir(&other).exists(), "state dir left behind");
    assert_no_cgroup(&cgroup_path(&other));
}

/// The pids in container `id`'s cgroup.procs (pids hierarchy), sorted.
fn cgroup_procs(id: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = cg_read("pids", id, "cgroup.procs")
        .lines()
        .map(|l| l.parse().expect("a pid in cgroup.procs"))
        .collect();
    pids.sort_unstable();
    pids
}

/// The parent pid of `pid`, from /proc/PID/stat.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// A started container whose init (a shell) has a background `sleep`.
fn init_with_a_child(sb: &mut Sandbox) -> String {
    let mut out = sb.fifo("out");
    sb.bundle.sh("sleep 1000 & echo ready > /shared/out; wait");
    let id = start(sb);
    assert_eq!(out.read_line("the background sleep to start"), "ready");
    id
}

#[test]
fn ps_json_lists_the_host_pids_of_the_cgroup() {
    let mut sb = Sandbox::new("cg_ps_json");
    let id = init_with_a_child(&mut sb);
    let out = sb.rt.ok(&["ps", "--format", "json", &id]);
    let mut pids: Vec<i32> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    // Exactly runc's bytes: compact JSON and a newline (containerd parses it).
    assert_eq!(out.stdout, format!("{}\n", json!(pids)), "{out}");
    pids.sort_unstable();
    assert_eq!(pids, cgroup_procs(&id), "{out}");
    assert_eq!(pids.len(), 2, "{out}");
    let init = sb.init_pid(&id);
    assert!(pids.contains(&init), "init {init} missing: {out}");
    let child = pids.iter().find(|p| **p != init).unwrap();
    // The other one is the init's child (it may not have exec'd sleep yet).
    assert_eq!(parent_of(*child), Some(init), "{out}");
}

#[test]
fn ps_table_has_a_header_and_a_line_per_process() {
    let mut sb = Sandbox::new("cg_ps_table");
    let id = init_with_a_child(&mut sb);
    let out = sb.rt.ok(&["ps", &id]);
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap_or_else(|| panic!("no PID column: {out}"));
    let mut pids: Vec<i32> = lines
        .map(|l| l.split_whitespace().nth(column).unwrap().parse().unwrap())
        .collect();
    pids.sort_unstable();
    assert_eq!(pids, cgroup_procs(&id), "{out}");
}

#[test]
fn ps_json_of_a_container_without_processes_is_null() {
    // runc prints its nil slice as `null` (as `list` does); drop-in means
    // the same bytes.
    let mut sb = Sandbox::new("cg_ps_empty");
    sb.bundle.args(&["true"]);
    let id = start(&mut sb);
    sb.wait_exit(&id);
    let out = sb.rt.ok(&["ps", "--format", "json", &id]);
    assert_eq!(out.stdout, "null\n", "{out}");
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
    let id = start(&mut sb);
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
    let id = start(&mut sb);
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
    let id = start(&mut sb);
    let doc = sb.dir.join("resources.json");
    fs::write(&doc, json!({"pids": {"limit": 9}}).to_string()).unwrap();
    let call = sb.rt.command_via_sh(
        &format!("exec \"$@\" < {}", doc.display()),
        &["update", "--resources", "-", &id],
    );
    call.spawn().wait().assert_ok();
    assert_eq!(cg_read("pids", &id, "pids.max"), "9");
}

#[test]
fn delete_removes_the_cgroup_from_every_hierarchy() {
    let mut sb = Sandbox::new("cg_delete");
    sb.bundle.args(&["true"]);
    let id = start(&mut sb);
    let path = cgroup_path(&id);
    // One directory per mounted hierarchy, cgroup2 included.
    assert_eq!(cgroup_dirs(&path).len(), hierarchies().len());
    sb.wait_exit(&id);
    sb.rt.ok(&["delete", &id]);
    assert_no_cgroup(&path);
}

/// Start a container without a pid namespace whose shell leaves a
/// `sleep 1000` in the background (then runs `rest`): its id, the sleep's
/// pid, and a pidfd to see it end. The sleep is orphaned to us when its
/// shell dies; the sandbox reaps it.
fn start_with_background_sleep(sb: &mut Sandbox, rest: &str) -> (String, i32, PidFd) {
    let mut child = sb.fifo("child");
    sb.bundle
        .remove_namespace("pid")
        .sh(&format!("sleep 1000 & echo $! > /shared/child{rest}"));
    let id = start(sb);
    let pid: i32 = child
        .read_line("the background sleep's pid")
        .parse()
        .unwrap();
    let sleeper = PidFd::open(pid).expect("pidfd of the background sleep");
    sb.adopt(pid);
    (id, pid, sleeper)
}

#[test]
fn delete_ends_processes_that_outlive_the_init() {
    // Without a pid namespace a background process survives its init; the
    // container is stopped, but its cgroup still holds the process, which
    // `delete` must end before it can remove the cgroup.
    let mut sb = Sandbox::new("cg_delete_leftover");
    let (id, pid, sleeper) = start_with_background_sleep(&mut sb, "");
    sb.wait_exit(&id);
    assert_eq!(sb.rt.status(&id), "stopped");
    assert_eq!(cgroup_procs(&id), [pid]);
    sb.rt.ok(&["delete", &id]);
    assert!(sleeper.wait_exit(TIMEOUT), "the background sleep survived");
    assert_no_cgroup(&cgroup_path(&id));
}

#[test]
fn a_create_failing_on_a_resource_leaves_no_cgroup() {
    let mut sb = Sandbox::new("cg_bad_cpuset");
    sb.bundle.set("/linux/resources/cpu/cpus", json!("99"));
    let id = sb.id.clone();
    let out = sb.try_create(&id, &[]);
    out.assert_failed();
    sb.assert_nothing_left(&id);
    assert_no_cgroup(&cgroup_path(&id));
    if is_keel() {
        let err = out.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "want one error line: {out}");
        assert!(err.contains("linux.resources.cpu.cpus"), "{out}");
        assert!(err.contains("99"), "{out}");
    }
}

#[test]
fn a_create_failing_after_the_cgroup_was_made_leaves_no_cgroup() {
    let mut sb = Sandbox::new("cg_bad_exec");
    sb.bundle.args(&["no-such-program"]);
    let id = sb.id.clone();
    let out = sb.try_create(&id, &[]);
    out.assert_failed();
    sb.assert_nothing_left(&id);
    assert_no_cgroup(&cgroup_path(&id));
}

#[test]
fn exec_runs_in_the_containers_cgroup() {
    // Without a cgroup namespace (which `spec` adds on a pure v2 host) the
    // process sees the host's cgroup paths.
    let mut sb = Sandbox::new("cg_exec");
    sb.bundle
        .remove_namespace("cgroup")
        .args(&["sleep", "1000"]);
    let id = start(&mut sb);
    let out = sb.rt.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    let lines = parse_cgroup_lines(&out.stdout);
    assert_eq!(lines.len(), proc_cgroup(sb.init_pid(&id)).len(), "{out}");
    for line in &lines {
        assert_eq!(line.path, cgroup_path(&id), "{out}");
    }
}

#[test]
fn a_detached_exec_process_is_in_the_containers_cgroup() {
    // keel-specific: the detached process is left to us as subreaper, and
    // runc 1.1.5's `delete --force` then fails waiting for the container's
    // init (see exec.rs).
    keel_only!();
    let mut sb = Sandbox::new("cg_exec_detached");
    let mut out = sb.fifo("out");
    sb.bundle.args(&["sleep", "1000"]);
    let id = start(&mut sb);
    let pid_file = sb.dir.join("exec.pid");
    let script = "echo started > /shared/out; exec sleep 1000";
    let pid_arg = pid_file.to_str().unwrap();
    sb.rt
        .ok(&["exec", "-d", "--pid-file", pid_arg, &id, "sh", "-c", script]);
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    sb.adopt(pid);
    assert_eq!(out.read_line("the exec'd process"), "started");
    assert_placed(pid, &cgroup_path(&id));
    assert!(cgroup_procs(&id).contains(&pid));
}

#[test]
fn exec_in_a_paused_container_needs_ignore_paused() {
    let mut sb = Sandbox::new("cg_exec_paused");
    let mut out = sb.fifo("out");
    sb.bundle.args(&["sleep", "1000"]);
    let id = start(&mut sb);
    sb.rt.ok(&["pause", &id]);
    let refused = sb.rt.fails(&["exec", &id, "true"]);
    assert!(refused.stderr.contains("paused"), "{refused}");
    // Accepted with the flag; the process joins the frozen cgroup and may
    // only run once the container is resumed, so the call goes on while
    // the test resumes it.
    let script = "echo exec-ran > /shared/out";
    let call = sb
        .rt
        .spawn(&["exec", "--ignore-paused", &id, "sh", "-c", script]);
    sb.rt.ok(&["resume", &id]);
    call.wait().assert_ok();
    assert_eq!(out.read_line("the queued exec"), "exec-ran");
}

#[test]
fn kill_all_finds_the_processes_through_the_cgroup() {
    // Without its own pid namespace, killing the init does not end the
    // container's other processes: only the cgroup knows them.
    let mut sb = Sandbox::new("cg_kill_all");
    let (id, _, sleeper) = start_with_background_sleep(&mut sb, "; wait");
    sb.rt.ok(&["kill", "--all", &id, "KILL"]);
    sb.wait_exit(&id);
    assert!(sleeper.wait_exit(TIMEOUT), "the background sleep survived");
    sb.rt.ok(&["delete", &id]);
    assert_no_cgroup(&cgroup_path(&id));
}

/// Cgroup paths outside the harness's /keel-test that a test made (through
/// the runtime), removed on drop in order if still there and empty: a
/// container's directory before its parent. Declared before the sandbox,
/// it drops after it, once the containers are deleted.
#[derive(Default)]
struct ExtraCgroups(Vec<String>);

impl Drop for ExtraCgroups {
    fn drop(&mut self) {
        for path in &self.0 {
            // Only keel's own names; never the machine's process_api.
            assert!(path.starts_with("/keel") && !path.contains("process_api"));
            for h in hierarchies() {
                let _ = fs::remove_dir(cg_dir(&h, path));
            }
        }
    }
}

/// Create container `id` with `linux.cgroupsPath` set to `path`, or
/// without one for None (the harness would set /keel-test/ID).
fn create_with_cgroups_path(sb: &mut Sandbox, id: &str, path: Option<&str>) {
    sb.prepare(id);
    match path {
        Some(p) => sb.bundle.set("/linux/cgroupsPath", json!(p)),
        None => sb.bundle.remove("/linux/cgroupsPath"),
    };
    sb.bundle.save();
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    sb.rt.ok(&["create", "--bundle", &bundle, id]);
    sb.note_init(id);
}

#[test]
fn a_relative_cgroups_path_starts_at_each_hierarchys_root() {
    // keel's documented choice (crun's). NEVER run with runc: it resolves a
    // relative path under the caller's own cgroup, which on this machine
    // is the memory cgroup under process_api that must not be written to.
    keel_only!();
    let mut extra = ExtraCgroups::default();
    let mut sb = Sandbox::new("cg_relative");
    let id = sb.id.clone();
    let rel = format!("keel-test-rel/{id}");
    extra.0 = vec![format!("/{rel}"), "/keel-test-rel".to_string()];
    create_with_cgroups_path(&mut sb, &id, Some(&rel));
    // The same path in every hierarchy, memory included, where the test
    // process itself sits below the root.
    assert_placed(sb.init_pid(&id), &format!("/{rel}"));
    assert!(cg_dir("memory", &rel).is_dir());
    sb.rt.ok(&["delete", "--force", &id]);
    assert_no_cgroup(&rel);
}

#[test]
fn no_cgroups_path_means_keel_slash_id() {
    // keel-specific default (runc's differs and is relative to the caller).
    keel_only!();
    let mut extra = ExtraCgroups::default();
    let mut sb = Sandbox::new("cg_default_path");
    let (missing, empty) = (sb.id.clone(), sb.other_id("empty"));
    extra.0 = vec![
        format!("/keel/{missing}"),
        format!("/keel/{empty}"),
        "/keel".to_string(),
    ];
    create_with_cgroups_path(&mut sb, &missing, None);
    create_with_cgroups_path(&mut sb, &empty, Some(""));
    for id in [&missing, &empty] {
        assert_placed(sb.init_pid(id), &format!("/keel/{id}"));
    }
    for id in [&missing, &empty] {
        sb.rt.ok(&["delete", "--force", id]);
        assert_no_cgroup(&format!("/keel/{id}"));
    }
    // The parent keel chose goes with its last container.
    assert_no_cgroup("/keel");
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
