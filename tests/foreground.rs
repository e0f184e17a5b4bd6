//! Foreground `run`: it forwards the signals it gets to the container,
//! relays the container's terminal through its own stdio, and exits with
//! the container's status (128+N when the process died of signal N).

mod common;

use common::tty::read_until;
use common::{Sandbox, Spawned};
use serde_json::json;
use std::fs::File;
use std::io::Write;
use std::process::Stdio;

/// Send `signal` to the foreground `keel run` process itself, as a shell's
/// job control or a supervisor would.
fn signal_runtime(run: &Spawned, signal: i32) {
    // SAFETY: kill(2) on our own unreaped child, the runtime.
    let rc = unsafe { libc::kill(run.pid(), signal) };
    assert_eq!(
        rc,
        0,
        "kill {}: {}",
        run.pid(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn run_forwards_signals_it_receives_to_the_container() {
    let mut sb = Sandbox::new("run_forwards_signals");
    let mut events = sb.fifo("events");
    // USR1 is reported; TERM ends the process with a code only the trap
    // gives. `sleep & wait` lets a trap run as soon as a signal arrives.
    sb.bundle.sh(
        "trap 'echo got-USR1 > /shared/events' USR1; trap 'exit 7' TERM; \
         echo ready > /shared/events; while :; do sleep 1000 & wait $!; done",
    );
    let id = sb.id.clone();
    let run = sb.spawn_run(&id, &[]);
    assert_eq!(events.read_line("the container to set its traps"), "ready");

    signal_runtime(&run, libc::SIGUSR1);
    assert_eq!(events.read_line("the forwarded USR1"), "got-USR1");
    signal_runtime(&run, libc::SIGTERM);
    let out = run.wait();
    assert_eq!(
        out.code(),
        Some(7),
        "run did not exit with the trap's code: {out}"
    );
}

#[test]
fn run_relays_the_terminal_through_its_own_stdio() {
    let mut sb = Sandbox::new("run_relays_terminal");
    sb.bundle
        .set("/process/terminal", json!(true))
        .args(&["sh"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    // The runtime's stdio is a terminal, as when a user types `runc run`.
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut run = sb.rt.command(&["run", "--bundle", &bundle, &id]);
    for slot in 0..3 {
        let slave = pty.slave.try_clone().expect("dup pty slave");
        match slot {
            0 => run.cmd.stdin(Stdio::from(slave)),
            1 => run.cmd.stdout(Stdio::from(slave)),
            _ => run.cmd.stderr(Stdio::from(slave)),
        };
    }
    let run = run.spawn();
    // Only the runtime may hold the slave, or the master never hangs up.
    drop(pty.slave);
    let mut master = File::from(pty.master);
    // The typed line never contains "42"; only the shell's answer does.
    master.write_all(b"echo $((6*7)); exit 5\n").unwrap();
    read_until(&mut master, "42");
    let out = run.wait();
    assert_eq!(
        out.code(),
        Some(5),
        "run did not exit with the shell's code: {out}"
    );
}

/// `run` a process, without a pid namespace, that sends itself `signal`
/// (a pid namespace's init would ignore it); returns run's exit code.
fn run_killing_itself(test: &str, signal: &str) -> Option<i32> {
    let mut sb = Sandbox::new(test);
    sb.bundle
        .remove_namespace("pid")
        .sh(&format!("kill -{signal} $$; echo survived"));
    // No core file in the bundle for SIGSEGV.
    sb.bundle.push(
        "/process/rlimits",
        json!({"type": "RLIMIT_CORE", "hard": 0, "soft": 0}),
    );
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    assert!(
        !out.stdout.contains("survived"),
        "{signal} did not kill: {out}"
    );
    out.code()
}

#[test]
fn run_exits_128_plus_the_signal_that_killed_the_process() {
    assert_eq!(run_killing_itself("run_self_kill", "KILL"), Some(128 + 9));
    assert_eq!(run_killing_itself("run_self_segv", "SEGV"), Some(128 + 11));
    assert_eq!(run_killing_itself("run_self_term", "TERM"), Some(128 + 15));
}

#[test]
fn a_pid_namespace_init_ignores_a_fatal_signal_it_sends_itself() {
    // The kernel protects a pid namespace's init from signals sent inside
    // the namespace that it has no handler for, SIGKILL included: the
    // process lives on and `run` reports its own exit code.
    let mut sb = Sandbox::new("run_init_self_kill");
    sb.bundle
        .sh("kill -KILL $$; kill -SEGV $$; echo survived; exit 3");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    assert_eq!(out.code(), Some(3), "{out}");
    assert_eq!(out.stdout, "survived\n", "{out}");
}
