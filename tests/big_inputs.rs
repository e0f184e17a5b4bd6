//! Big inputs an engine may hand over: 10,000 mounts, 10,000 environment
//! variables, a 1 MiB hook argument. Each is handled, or refused with a
//! clear one-line error, in bounded time and memory. The bounds are
//! generous (a debug build on two busy cores); the measured figures are
//! printed so a run shows them (`--nocapture`).

mod common;

use common::{Sandbox, TIMEOUT};
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Far above what keel needs; a runtime that copies inputs per item or
/// holds quadratic structures goes past it.
const MAX_RSS_KIB: i64 = 512 * 1024;

struct Measured {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    max_rss_kib: i64,
}

/// Run the runtime with `args` under the sandbox's root, measuring wall
/// time and peak RSS (its own, and that of the children it reaped).
fn measure(sb: &Sandbox, args: &[&str]) -> Measured {
    let out = sb.dir.join("measure.out");
    let err = sb.dir.join("measure.err");
    let start = Instant::now();
    #[allow(clippy::zombie_processes)]
    let child = Command::new(&sb.rt.bin)
        .arg("--root")
        .arg(&sb.rt.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn the runtime");
    // Reaped by wait4 below, which also gives the rusage `wait` would not.
    let pid = child.id() as i32;
    std::mem::forget(child);
    let pidfd = common::sys::PidFd::open(pid).expect("pidfd of our child");
    if !pidfd.wait_exit(TIMEOUT) {
        pidfd.kill(libc::SIGKILL);
    }
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    Measured {
        status: ExitStatus::from_raw(status),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        elapsed: start.elapsed(),
        max_rss_kib: usage.ru_maxrss,
    }
}

fn report(what: &str, m: &Measured) {
    eprintln!(
        "{what}: {:?} in {:.2?}, peak RSS {} KiB",
        m.status, m.elapsed, m.max_rss_kib
    );
    assert!(m.elapsed < TIMEOUT, "{what} took {:?}", m.elapsed);
    assert!(
        m.max_rss_kib < MAX_RSS_KIB,
        "{what} peaked at {} KiB",
        m.max_rss_kib
    );
}

/// A foreground `run` of the sandbox's container.
fn run(sb: &mut Sandbox) -> Measured {
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    measure(sb, &["run", "--bundle", &bundle, &id])
}

#[test]
fn ten_thousand_env_entries_reach_the_process() {
    let mut sb = Sandbox::new("big_env");
    for i in 0..10_000 {
        sb.bundle.env(&format!("BIG_{i}=value-{i}"));
    }
    sb.bundle.sh("env | grep -c '^BIG_'; echo $BIG_9999");
    let m = run(&mut sb);
    report("run with 10,000 env entries", &m);
    assert!(m.status.success(), "{}", m.stderr);
    assert_eq!(m.stdout, "10000\nvalue-9999\n", "{}", m.stderr);
}

#[test]
fn ten_thousand_mounts_are_made() {
    let mut sb = Sandbox::new("big_mounts");
    for i in 0..10_000 {
        let mount = json!({"destination": format!("/big/{i}"), "type": "tmpfs",
                           "source": "tmpfs", "options": ["size=4k"]});
        sb.bundle.push("/mounts", mount);
    }
    sb.bundle.sh("grep -c ' /big/' /proc/self/mountinfo");
    let m = run(&mut sb);
    report("run with 10,000 tmpfs mounts", &m);
    assert!(m.status.success(), "{}", m.stderr);
    assert_eq!(m.stdout.trim(), "10000", "{}", m.stderr);
    sb.assert_no_process_or_mount();
}

#[test]
fn a_one_mib_hook_argument_is_refused_clearly() {
    let mut sb = Sandbox::new("big_hook_arg");
    // Linux caps one argument at 128 KiB (MAX_ARG_STRLEN): exec must fail,
    // and the error must say so without echoing the argument.
    let big = "x".repeat(1 << 20);
    let hook = json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 0", "sh", big]});
    sb.bundle.push("/hooks/prestart", hook).args(&["true"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let m = measure(&sb, &["create", "--bundle", &bundle, &id]);
    report("create with a 1 MiB prestart hook argument", &m);
    assert!(!m.status.success(), "a 1 MiB argument was accepted");
    if common::is_keel() {
        let err = m.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "want one error line: {err:.300}");
        assert!(
            err.len() < 1000,
            "the error echoes the argument: {err:.300}"
        );
        assert!(
            err.contains("prestart") && err.contains("Argument list too long"),
            "{err}"
        );
    }
    sb.assert_nothing_left(&id);
}
