//! `exec`: a new process joins a running container's namespaces, gets the
//! container's settings or runc's overrides, and reports its exit status.

mod common;

use common::tty::{exec_with_pty, read_until};
use common::{Output, Sandbox};
use serde_json::json;
use std::fs;
use std::io::Write;

/// A running container (hostname `exec-box`, init `sleep`) to exec into.
fn running(test: &str) -> Sandbox {
    let mut sb = Sandbox::new(test);
    sb.bundle.args(&["sleep", "1000"]).hostname("exec-box");
    let id = sb.id.clone();
    sb.create_and_start(&id);
    sb
}

fn exec(sb: &Sandbox, args: &[&str]) -> Output {
    let mut full = vec!["exec"];
    full.extend_from_slice(args);
    sb.rt.run(&full)
}

#[test]
fn exec_joins_the_containers_namespaces() {
    let sb = running("exec_namespaces");
    let init = sb.init_pid(&sb.id);
    let script = "hostname; echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo; for n in pid net mnt; do readlink /proc/self/ns/$n; done";
    let out = exec(&sb, &[&sb.id, "sh", "-c", script]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "exec-box", "{out}");
    assert_ne!(lines[1], "1", "exec'd process is the init: {out}");
    assert_eq!(lines[2].trim(), "sleep 1000", "{out}");
    for (i, ns) in ["pid", "net", "mnt"].iter().enumerate() {
        let theirs = fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        assert_eq!(
            lines[3 + i],
            theirs.to_str().unwrap(),
            "{ns} namespace differs: {out}"
        );
    }
}

#[test]
fn exec_exits_with_the_process_status() {
    let sb = running("exec_status");
    assert_eq!(exec(&sb, &[&sb.id, "sh", "-c", "exit 7"]).code(), Some(7));
    let missing = exec(&sb, &[&sb.id, "no-such-program"]);
    missing.assert_failed();
    assert!(
        missing.stderr.contains("executable file not found"),
        "{missing}"
    );
}

#[test]
fn exec_applies_runcs_overrides() {
    let sb = running("exec_overrides");
    let script = "id -u; id -g; pwd; echo $FOO; grep CapEff /proc/self/status";
    let out = exec(
        &sb,
        &[
            "-u",
            "1000:1000",
            "--cwd",
            "/tmp",
            "-e",
            "FOO=bar",
            &sb.id,
            "sh",
            "-c",
            script,
        ],
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..4], ["1000", "1000", "/tmp", "bar"], "{out}");
    // A non-root process without ambient capabilities keeps none.
    assert!(lines[4].ends_with("0000000000000000"), "{out}");
    let root = exec(
        &sb,
        &[
            "--cap",
            "CAP_NET_ADMIN",
            &sb.id,
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    root.assert_ok();
    let eff = u64::from_str_radix(root.stdout.split_whitespace().last().unwrap(), 16).unwrap();
    assert_ne!(eff & (1 << 12), 0, "CAP_NET_ADMIN not effective: {root}");
}

#[test]
fn exec_of_a_process_document_detached_writes_the_pid_file() {
    // keel-specific: the detached process outlives `exec` and is left to us
    // as subreaper, so at cleanup the container's init cannot finish
    // exiting until we reap it; runc 1.1.5's `delete --force` waits for
    // that exit and fails ("container init still running"), keel returns.
    keel_only!();
    let sb = running("exec_process_json");
    // containerd's own process document, pointed at the shared directory.
    let fixture = format!(
        "{}/tests/fixtures/containerd-exec-process.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fixture).unwrap()).unwrap();
    doc["args"] = json!(["sh", "-c", "echo exec-ok > /shared/done; exec sleep 1000"]);
    let process = sb.dir.join("process.json");
    fs::write(&process, doc.to_string()).unwrap();
    let mut done = sb.fifo("done");
    let pid = sb.exec_detached(&["--process", process.to_str().unwrap()], &sb.id, &[]);
    assert_eq!(done.read_line("the exec'd process"), "exec-ok");
    let init = sb.init_pid(&sb.id);
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        fs::read_link(format!("/proc/{init}/ns/pid")).unwrap(),
        "the pid file names a process outside the container"
    );
}

#[test]
fn exec_with_a_tty_sends_the_pty_master_to_the_console_socket() {
    // keel-specific: the detached process outlives `exec` and is left to us
    // as subreaper, so at cleanup the container's init cannot finish
    // exiting until we reap it; runc 1.1.5's `delete --force` waits for
    // that exit and fails ("container init still running"), keel returns.
    keel_only!();
    let sb = running("exec_tty");
    let (_, mut master) = exec_with_pty(&sb, &sb.id, &["sh"]);
    master.write_all(b"tty; echo $((6*7)); exit\n").unwrap();
    let seen = read_until(&mut master, "42");
    assert!(
        seen.contains("/dev/pts/"),
        "no pty in the container: {seen}"
    );
}

#[test]
fn exec_in_a_stopped_container_fails() {
    let (sb, id) = Sandbox::with_stopped_container("exec_stopped");
    let out = exec(&sb, &[&id, "true"]);
    out.assert_failed();
    assert!(out.stderr.contains("stopped"), "{out}");
}

/// linux.personality and linux.memoryPolicy are per-task and inherited, and
/// an exec'd process descends from `exec`, not from the init: they must be
/// set for it too (runc's setns init does).
#[test]
fn exec_gets_the_containers_personality_and_memory_policy() {
    let mut sb = Sandbox::new("exec_personality");
    sb.bundle
        .args(&["sleep", "1000"])
        .set("/linux/personality", json!({"domain": "LINUX32"}))
        .set(
            "/linux/memoryPolicy",
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
        );
    let id = sb.id.clone();
    sb.create_and_start(&id);
    let out = exec(
        &sb,
        &[&id, "sh", "-c", "uname -m; head -n1 /proc/self/numa_maps"],
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        ["i686", "armv8l"].contains(&lines[0]),
        "uname -m under LINUX32: {out}"
    );
    // numa_maps shows a mapping's policy after its address.
    assert_eq!(lines[1].split(' ').nth(1), Some("interleave:0"), "{out}");
}
