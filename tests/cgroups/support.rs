//! What the cgroup tests share: this host's layout (v1/hybrid or pure v2),
//! reading a container's cgroup files and /proc/PID/cgroup, and starting
//! the containers several tests need.

use crate::common::sys::PidFd;
use crate::common::Sandbox;
use std::fs;
use std::path::{Path, PathBuf};

pub const MIB: i64 = 1 << 20;
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers every container on a v1/hybrid host is placed under.
const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "devices", "blkio",
];

/// Whether /sys/fs/cgroup is itself the cgroup2 hierarchy (a pure v2 host).
pub fn pure_v2() -> bool {
    nix::sys::statfs::statfs(CGROUP_ROOT)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The cgroup path the harness gives container `id`.
pub fn cgroup_path(id: &str) -> String {
    format!("/keel-test/{id}")
}

/// The directory of cgroup `path` in the hierarchy mounted at
/// /sys/fs/cgroup/`hierarchy` (`unified` is the hybrid host's cgroup2); on
/// a pure v2 host the one hierarchy at /sys/fs/cgroup, whatever the name.
pub fn cg_dir(hierarchy: &str, path: &str) -> PathBuf {
    let root = Path::new(CGROUP_ROOT);
    let base = if pure_v2() {
        root.to_path_buf()
    } else {
        root.join(hierarchy)
    };
    base.join(path.trim_start_matches('/'))
}

/// One file of container `id`'s cgroup in `hierarchy`, trimmed.
pub fn cg_read(hierarchy: &str, id: &str, file: &str) -> String {
    let path = cg_dir(hierarchy, &cgroup_path(id)).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The value of `key` in a flat-keyed file like memory.events.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The hierarchies mounted under /sys/fs/cgroup, by directory name (one,
/// named "", on a pure v2 host).
pub fn hierarchies() -> Vec<String> {
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
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    hierarchies()
        .iter()
        .map(|h| cg_dir(h, path))
        .filter(|d| d.exists())
        .collect()
}

pub fn assert_no_cgroup(path: &str) {
    let left = cgroup_dirs(path);
    assert!(left.is_empty(), "cgroup directories left behind: {left:?}");
}

/// One line of /proc/PID/cgroup: hierarchy id, controllers, path.
pub struct CgroupLine {
    pub id: String,
    pub controllers: String,
    pub path: String,
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

pub fn parse_cgroup_lines(text: &str) -> Vec<CgroupLine> {
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

pub fn proc_cgroup(pid: i32) -> Vec<CgroupLine> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"));
    parse_cgroup_lines(&text)
}

/// Assert that `pid` sits in cgroup `path` in every hierarchy: each v1
/// controller and the cgroup2 hierarchy.
pub fn assert_placed(pid: i32, path: &str) {
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

pub fn shared_file(sb: &Sandbox, name: &str) -> String {
    let path = sb.shared.join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The pids in container `id`'s cgroup.procs (pids hierarchy), sorted.
pub fn cgroup_procs(id: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = cg_read("pids", id, "cgroup.procs")
        .lines()
        .map(|l| l.parse().expect("a pid in cgroup.procs"))
        .collect();
    pids.sort_unstable();
    pids
}

/// Start a container without a pid namespace whose shell leaves a
/// `sleep 1000` in the background (then runs `rest`): its id, the sleep's
/// pid, and a pidfd to see it end. The sleep is orphaned to us when its
/// shell dies; the sandbox reaps it.
pub fn start_with_background_sleep(sb: &mut Sandbox, rest: &str) -> (String, i32, PidFd) {
    let mut child = sb.fifo("child");
    sb.bundle
        .remove_namespace("pid")
        .sh(&format!("sleep 1000 & echo $! > /shared/child{rest}"));
    let id = sb.create_and_start_own();
    let pid: i32 = child
        .read_line("the background sleep's pid")
        .parse()
        .unwrap();
    let sleeper = PidFd::open(pid).expect("pidfd of the background sleep");
    sb.adopt(pid);
    (id, pid, sleeper)
}
