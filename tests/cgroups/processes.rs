//! `ps` and `kill --all`: the container's processes as its cgroup knows them.

use crate::common::{Sandbox, TIMEOUT};
use crate::support::{assert_no_cgroup, cgroup_path, cgroup_procs, start_with_background_sleep};
use serde_json::json;
use std::fs;

/// A started container whose init (a shell) has a background `sleep`.
fn init_with_a_child(sb: &mut Sandbox) -> String {
    let mut out = sb.fifo("out");
    sb.bundle.sh("sleep 1000 & echo ready > /shared/out; wait");
    let id = sb.create_and_start_own();
    assert_eq!(out.read_line("the background sleep to start"), "ready");
    id
}

/// The parent pid of `pid`, from /proc/PID/stat.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    after_comm.split_whitespace().nth(1)?.parse().ok()
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
    let (sb, id) = Sandbox::with_stopped_container("cg_ps_empty");
    let out = sb.rt.ok(&["ps", "--format", "json", &id]);
    assert_eq!(out.stdout, "null\n", "{out}");
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
