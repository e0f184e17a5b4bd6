//! The container lifecycle as an engine drives it: create, start, the
//! process running and exiting, state at each step, delete.

mod common;

use common::sys::cmdline;
use common::{is_rfc3339_utc, Fifo, Sandbox};
use std::fs;

/// A container that reports it runs, then waits for the test to let it exit.
const WAIT_FOR_GATE: &str = "echo started > /shared/events; read line < /shared/gate; exit 0";

/// A new sandbox whose container ran `before`, then said it started and now
/// waits at the gate (`WAIT_FOR_GATE`). It waits while the returned gate is
/// held open; the container's id is the sandbox's.
fn waiting_at_gate(test: &str, before: &str) -> (Sandbox, Fifo) {
    let mut sb = Sandbox::new(test);
    let (mut events, gate) = (sb.fifo("events"), sb.fifo("gate"));
    sb.bundle.sh(&format!("{before}{WAIT_FOR_GATE}"));
    let id = sb.id.clone();
    sb.create_and_start(&id);
    events.read_line("the container to start");
    (sb, gate)
}

#[test]
fn status_follows_create_start_and_exit() {
    let mut sb = Sandbox::new("status_follows");
    let (mut events, mut gate) = (sb.fifo("events"), sb.fifo("gate"));
    sb.bundle.sh(WAIT_FOR_GATE);
    let id = sb.id.clone();
    let pid_file = sb.dir.join("init.pid");
    sb.try_create(&id, &["--pid-file", pid_file.to_str().unwrap()])
        .assert_ok();
    assert_eq!(sb.rt.status(&id), "created");
    let pid = sb.init_pid(&id);
    // runc writes the bare number; engines parse it as such.
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap(),
        pid.to_string(),
        "pid file"
    );

    sb.rt.ok(&["start", &id]);
    assert_eq!(sb.rt.status(&id), "running");
    assert_eq!(events.read_line("the container to start"), "started");
    // The process has run `echo`, so it is the configured one by now.
    assert_eq!(
        cmdline(pid).as_deref(),
        Some(format!("sh -c {WAIT_FOR_GATE}").as_str())
    );
    assert_eq!(sb.rt.pid(&id), pid, "state pid while running");

    gate.write_line("exit");
    // Exited but not yet reaped (a zombie): already stopped.
    sb.wait_exit(&id);
    assert_eq!(sb.rt.status(&id), "stopped");
    sb.reap_init_exited(&id, 0);
    // Reaped, as a shim would: still stopped.
    assert_eq!(sb.rt.status(&id), "stopped");
    sb.rt.ok(&["delete", &id]);
    assert!(
        !sb.state_dir(&id).exists(),
        "state dir remains after delete"
    );
}

#[test]
fn state_prints_the_oci_state_fields() {
    let mut sb = Sandbox::new("state_fields");
    sb.bundle.args(&["sleep", "1000"]);
    sb.bundle
        .set("/annotations", serde_json::json!({"org.keel.test": "yes"}));
    let id = sb.id.clone();
    sb.create(&id);
    let state = sb.rt.state(&id);
    let bundle = sb.bundle.dir.to_str().unwrap();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], sb.init_pid(&id));
    assert_eq!(state["bundle"], bundle);
    assert_eq!(state["rootfs"], format!("{bundle}/rootfs"));
    assert!(
        state["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "ociVersion: {state}"
    );
    let created = state["created"].as_str().unwrap_or_default();
    assert!(
        is_rfc3339_utc(created),
        "created is not RFC3339: {created:?}"
    );
    assert!(state["owner"].is_string(), "owner: {state}");
    assert_eq!(
        state["annotations"]["org.keel.test"], "yes",
        "annotations: {state}"
    );
}

#[test]
fn start_twice_fails_and_leaves_the_container_running() {
    let (sb, _gate) = waiting_at_gate("start_twice", "");
    let id = sb.id.clone();
    sb.rt.fails(&["start", &id]);
    assert_eq!(sb.rt.status(&id), "running");
}

#[test]
fn start_of_a_stopped_container_fails() {
    let (sb, id) = Sandbox::with_stopped_container("start_stopped");
    sb.rt.fails(&["start", &id]);
    assert_eq!(sb.rt.status(&id), "stopped");
}

#[test]
fn delete_refuses_a_running_container_unless_forced() {
    let (sb, _gate) = waiting_at_gate("delete_running", "");
    let id = sb.id.clone();
    sb.rt.fails(&["delete", &id]);
    assert_eq!(sb.rt.status(&id), "running");
    sb.rt.ok(&["delete", "--force", &id]);
    sb.wait_exit(&id);
    assert!(
        !sb.state_dir(&id).exists(),
        "state dir remains after delete --force"
    );
    sb.rt.fails(&["state", &id]);
}

#[test]
fn an_init_whose_name_is_not_utf8_is_still_running() {
    // The kernel keeps 15 bytes of a process name, cutting "é" in two:
    // /proc/PID/stat then holds a byte that is not UTF-8, and the init
    // must still count as alive (not stopped, not deletable).
    let rename = "printf 'abcdefghijklmn\\303\\251' > /proc/$$/comm; ";
    let (sb, _gate) = waiting_at_gate("init_name_bytes", rename);
    let id = sb.id.clone();
    let comm = fs::read(format!("/proc/{}/comm", sb.init_pid(&id))).unwrap();
    assert_eq!(
        comm, b"abcdefghijklmn\xc3\n",
        "the name as the kernel keeps it"
    );
    assert_eq!(sb.rt.status(&id), "running");
    sb.rt.fails(&["delete", &id]);
    assert_eq!(sb.rt.status(&id), "running");
}

#[test]
fn delete_force_removes_a_created_container() {
    let (sb, id) = Sandbox::with_created_container("delete_created");
    sb.rt.ok(&["delete", "--force", &id]);
    sb.wait_exit(&id);
    assert!(
        !sb.state_dir(&id).exists(),
        "state dir remains after delete --force"
    );
}

#[test]
fn delete_force_of_an_unknown_container_succeeds() {
    // runc treats it as already done; containerd relies on that when it
    // cleans up after a failed create.
    let sb = Sandbox::new("delete_unknown");
    sb.rt.ok(&["delete", "--force", "no-such-container"]);
}

#[test]
fn run_detach_returns_while_the_container_runs() {
    let mut sb = Sandbox::new("run_detach");
    let (mut events, mut gate) = (sb.fifo("events"), sb.fifo("gate"));
    sb.bundle.sh(WAIT_FOR_GATE);
    let id = sb.id.clone();
    // The container blocks on the gate, so `run -d` can only return early.
    sb.run(&id, &["--detach"]).assert_ok();
    sb.note_init(&id);
    assert_eq!(events.read_line("the container to start"), "started");
    assert_eq!(sb.rt.status(&id), "running");
    gate.write_line("exit");
    sb.wait_exit(&id);
    assert_eq!(sb.rt.status(&id), "stopped");
}

#[test]
fn run_keep_keeps_the_state_after_exit() {
    let mut sb = Sandbox::new("run_keep");
    sb.bundle.sh("exit 4");
    let id = sb.id.clone();
    let out = sb.run(&id, &["--keep"]);
    assert_eq!(out.code(), Some(4), "{out}");
    assert_eq!(sb.rt.status(&id), "stopped");
    sb.rt.ok(&["delete", &id]);
    assert!(!sb.state_dir(&id).exists());
}

#[test]
fn run_without_keep_removes_the_state() {
    let mut sb = Sandbox::new("run_removes");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "hello from keel\n");
    assert!(!sb.state_dir(&id).exists(), "state dir remains after run");
}

#[test]
fn duplicate_id_fails_and_keeps_the_first_container() {
    let (mut sb, id) = Sandbox::with_created_container("duplicate_id");
    let pid = sb.init_pid(&id);
    sb.try_create(&id, &[]).assert_failed();
    assert_eq!(sb.rt.status(&id), "created");
    assert_eq!(sb.rt.pid(&id), pid);
    sb.rt.ok(&["start", &id]);
    assert_eq!(sb.rt.status(&id), "running");
}

#[test]
fn invalid_ids_fail_before_anything_is_created() {
    let mut sb = Sandbox::new("invalid_ids");
    sb.save_config("valid-id-for-cgroups");
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    for id in ["../x", "a/b", "", ".", ".."] {
        sb.rt.fails(&["create", "--bundle", &bundle, id]);
        assert!(
            !sb.dir.join("x").exists() && !sb.rt.root.join("a").exists(),
            "{id:?} escaped the root"
        );
        let entries = fs::read_dir(&sb.rt.root).map(|d| d.count()).unwrap_or(0);
        assert_eq!(entries, 0, "create {id:?} left something in the root");
        sb.assert_no_process_or_mount();
    }
}

#[test]
fn foreground_run_exits_with_the_container_status() {
    for (script, code) in [("exit 0", 0), ("exit 3", 3)] {
        let mut sb = Sandbox::new("run_exit_status");
        sb.bundle.sh(script);
        let id = sb.id.clone();
        let out = sb.run(&id, &[]);
        assert_eq!(out.code(), Some(code), "{out}");
    }
}

#[test]
fn run_with_no_pivot_works() {
    // Engines pass --no-pivot where pivot_root is impossible (a ramfs root);
    // the container must still get the bundle's rootfs as its root.
    let mut sb = Sandbox::new("no_pivot");
    sb.bundle.sh("head -n 1 /etc/passwd");
    let id = sb.id.clone();
    let out = sb.run(&id, &["--no-pivot"]);
    out.assert_ok();
    assert_eq!(out.stdout, "root:x:0:0:root:/root:/bin/sh\n");
}

/// config.md makes `process` optional and runtime.md says `start` MUST
/// fail without it: the container is made, and stays created when `start`
/// refuses it, for `delete --force` to remove. (runc 1.1 refuses the
/// create.)
#[test]
fn a_config_without_process_is_created_and_start_fails() {
    keel_only!();
    let mut sb = Sandbox::new("no_process");
    sb.bundle.remove("/process");
    let id = sb.id.clone();
    sb.create(&id);
    assert_eq!(sb.rt.status(&id), "created");
    let out = sb.rt.fails(&["start", &id]);
    common::assert_keel_error(&out, &["without a process", "stays created"]);
    assert_eq!(sb.rt.status(&id), "created");
    sb.rt.ok(&["delete", "--force", &id]);
    sb.wait_exit(&id);
    assert!(!sb.state_dir(&id).exists(), "state dir remains");
    // `run` is create and start: it fails the same way, leaving nothing,
    // and its message says so.
    let other = sb.other_id("run");
    let out = sb.run(&other, &[]);
    sb.assert_failed_cleanly(&other, &out, &["without a process", "was removed"]);
    assert!(
        !out.stderr.contains("stays created"),
        "run removed it: {out}"
    );
}
