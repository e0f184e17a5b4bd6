//! `kill`: signal names and numbers, the default signal, `--all`, and how a
//! signal shows in the exit status of a foreground `run`.

mod common;

use common::{Fifo, Sandbox};

/// The container's init traps `signal`, reporting each delivery on
/// /shared/events. `sleep & wait` keeps the shell interruptible: a trap runs
/// as soon as `wait` is interrupted.
fn trapping(signal: &str) -> String {
    format!(
        "trap 'echo got-{signal} > /shared/events' {signal}; echo ready > /shared/events; \
         while :; do sleep 1000 & wait $!; done"
    )
}

/// Create and start `script` as the sandbox's container; wait for `ready`.
fn start_ready(sb: &mut Sandbox, script: &str) -> Fifo {
    let mut events = sb.fifo("events");
    sb.bundle.sh(script);
    let id = sb.id.clone();
    sb.create_and_start(&id);
    assert_eq!(events.read_line("the container to set its trap"), "ready");
    events
}

#[test]
fn kill_accepts_names_with_and_without_sig_and_numbers() {
    let mut sb = Sandbox::new("kill_spellings");
    let mut events = start_ready(&mut sb, &trapping("USR1"));
    for spelling in ["USR1", "SIGUSR1", "10"] {
        sb.rt.ok(&["kill", &sb.id, spelling]);
        assert_eq!(
            events.read_line(&format!("delivery of kill {spelling}")),
            "got-USR1"
        );
    }
    assert_eq!(sb.rt.status(&sb.id), "running");
}

#[test]
fn kill_sends_sigterm_by_default() {
    let mut sb = Sandbox::new("kill_default");
    let mut events = start_ready(&mut sb, &trapping("TERM"));
    sb.rt.ok(&["kill", &sb.id]);
    assert_eq!(
        events.read_line("delivery of the default signal"),
        "got-TERM"
    );
}

#[test]
fn default_kill_ends_a_process_that_is_not_pid_1() {
    // A pid namespace's init ignores signals it has no handler for, so plain
    // `sleep` as pid 1 would survive SIGTERM (runc behaves so too). Without
    // a pid namespace, sleep dies of it.
    let mut sb = Sandbox::new("kill_sleep");
    sb.bundle.args(&["sleep", "1000"]).remove_namespace("pid");
    let id = sb.id.clone();
    sb.create_and_start(&id);
    sb.rt.ok(&["kill", &id]);
    sb.reap_init_killed(&id, libc::SIGTERM);
    assert_eq!(sb.rt.status(&id), "stopped");
}

#[test]
fn kill_all_reaches_every_process_of_the_container() {
    let mut sb = Sandbox::new("kill_all");
    // The init starts a second shell with the same trap, then traps itself.
    let child = trapping("USR1")
        .replace("got-USR1", "child-got-USR1")
        .replace("ready", "child-ready");
    let script = format!(
        "sh -c \"{}\" & {}",
        child.replace('"', "\\\""),
        trapping("USR1")
    );
    let mut events = start_ready_lines(&mut sb, &script, &["child-ready", "ready"]);
    sb.rt.ok(&["kill", "--all", &sb.id, "USR1"]);
    let mut got = [
        events.read_line("USR1 delivery"),
        events.read_line("USR1 delivery"),
    ];
    got.sort();
    assert_eq!(got, ["child-got-USR1", "got-USR1"]);
}

/// Like `start_ready`, for a container that reports several lines, in any order.
fn start_ready_lines(sb: &mut Sandbox, script: &str, expected: &[&str]) -> Fifo {
    let mut events = sb.fifo("events");
    sb.bundle.sh(script);
    let id = sb.id.clone();
    sb.create_and_start(&id);
    let mut got: Vec<String> = expected
        .iter()
        .map(|_| events.read_line("readiness"))
        .collect();
    got.sort();
    let mut want: Vec<&str> = expected.to_vec();
    want.sort();
    assert_eq!(got, want);
    events
}

#[test]
fn foreground_run_killed_by_sigkill_exits_137() {
    let mut sb = Sandbox::new("run_sigkill");
    let mut events = sb.fifo("events");
    sb.bundle.sh("echo ready > /shared/events; exec sleep 1000");
    let id = sb.id.clone();
    let run = sb.spawn_run(&id, &[]);
    assert_eq!(events.read_line("the container to start"), "ready");
    let pid = sb.rt.pid(&id);
    // SAFETY: kill(2) on the container's init, which this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let out = run.wait();
    assert_eq!(out.code(), Some(128 + libc::SIGKILL), "{out}");
}

#[test]
fn kill_with_an_unknown_signal_fails_naming_it() {
    let (sb, id) = Sandbox::with_created_container("kill_unknown_signal");
    for bad in ["FOO", "SIGFOO"] {
        let out = sb.rt.fails(&["kill", &id, bad]);
        assert!(out.stderr.contains(bad), "error does not name {bad}: {out}");
    }
    assert_eq!(sb.rt.status(&id), "created");
}

#[test]
fn kill_of_a_stopped_container_fails() {
    let (sb, id) = Sandbox::with_stopped_container("kill_stopped");
    sb.rt.fails(&["kill", &id, "KILL"]);
}
