//! `pause` and `resume`: the freezer, what `state` and `list` say, and the
//! commands that must still work on a paused container.

use crate::common::sys::PidFd;
use crate::common::{Fifo, Sandbox, TIMEOUT};
use crate::support::{assert_no_cgroup, cg_read, cgroup_path, keyed, pure_v2};
use serde_json::Value;
use std::fs;

/// A started container that answers each line of /shared/in with
/// `got LINE` on /shared/out, after saying `ready`.
fn echoing(sb: &mut Sandbox) -> (String, Fifo, Fifo) {
    let (mut out, input) = (sb.fifo("out"), sb.fifo("in"));
    sb.bundle.sh("echo ready > /shared/out; \
         while read line < /shared/in; do echo \"got $line\" > /shared/out; done");
    let id = sb.create_and_start_own();
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
    let (sb, id) = Sandbox::with_stopped_container("cg_pause_stopped");
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
    sb.reap_init_killed(&id, libc::SIGKILL);
    sb.rt.ok(&["delete", &id]);
    assert_no_cgroup(&cgroup_path(&id));

    let other = sb.other_id("forced");
    sb.create_and_start(&other);
    sb.rt.ok(&["pause", &other]);
    let init = PidFd::open(sb.init_pid(&other)).expect("pidfd of the init");
    sb.rt.ok(&["delete", "--force", &other]);
    assert!(init.wait_exit(TIMEOUT), "the paused init survived");
    assert!(!sb.state_dir(&other).exists(), "state dir left behind");
    assert_no_cgroup(&cgroup_path(&other));
}

#[test]
fn exec_in_a_paused_container_needs_ignore_paused() {
    let mut sb = Sandbox::new("cg_exec_paused");
    let mut out = sb.fifo("out");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
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
