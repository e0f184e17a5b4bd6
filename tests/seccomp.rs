//! linux.seccomp, observed from inside the container: a profile's errno
//! and kill actions take effect, a real engine's profile runs a shell, an
//! exec'd process is filtered too, a bad profile fails create cleanly, and
//! one refusing calls keel makes after loading it still runs.

mod common;

use common::Sandbox;
use serde_json::{json, Value};
use std::fs;

/// mkdir gets EOPNOTSUPP (95); chroot kills the calling process.
fn small_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
            {"names": ["chroot"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    })
}

fn run_with_profile(test: &str, profile: Value, script: &str) -> common::Output {
    let mut sb = Sandbox::new(test);
    sb.bundle.set("/linux/seccomp", profile).sh(script);
    let id = sb.id.clone();
    sb.run(&id, &[])
}

#[test]
fn an_errno_rule_returns_the_configured_errno() {
    let out = run_with_profile(
        "seccomp_errno",
        small_profile(),
        "mkdir /dev/shm/x; echo rc=$?",
    );
    out.assert_ok();
    assert!(out.stderr.contains("Operation not supported"), "{out}");
    assert!(out.stdout.contains("rc=1"), "{out}");
}

#[test]
fn a_kill_rule_kills_the_calling_process() {
    // The child that calls chroot dies of SIGSYS (128+31); the shell lives.
    let out = run_with_profile(
        "seccomp_kill",
        small_profile(),
        "chroot / true; echo status=$?",
    );
    out.assert_ok();
    assert!(out.stdout.contains("status=159"), "{out}");
}

#[test]
fn podmans_default_profile_runs_a_shell() {
    let fixture = format!(
        "{}/tests/fixtures/podman-create-config.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let podman: Value = serde_json::from_str(&fs::read_to_string(fixture).unwrap()).unwrap();
    let profile = podman["linux"]["seccomp"].clone();
    assert!(profile["syscalls"].as_array().is_some_and(|s| s.len() > 10));
    let out = run_with_profile(
        "seccomp_podman",
        profile,
        "grep Seccomp: /proc/self/status; echo ok",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "Seccomp:\t2\nok\n", "{out}");
}

#[test]
fn an_execd_process_is_filtered_too() {
    let mut sb = Sandbox::new("seccomp_exec");
    sb.bundle
        .set("/linux/seccomp", small_profile())
        .args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create_and_start(&id);
    let out = sb.rt.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /dev/shm/y",
    ]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stdout.contains("Seccomp:\t2"), "{out}");
    assert!(out.stderr.contains("Operation not supported"), "{out}");
}

#[test]
fn an_unknown_syscall_fails_create_naming_it() {
    keel_only!();
    let mut sb = Sandbox::new("seccomp_unknown");
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]});
    sb.bundle.set("/linux/seccomp", profile);
    let id = sb.id.clone();
    let field = "linux.seccomp.syscalls[0].names[1]";
    sb.create_fails_with_config_error(&id, field, &["no_such_call"]);
}

/// Profiles older than openat2 (runtime-tools' default is one) refuse it.
/// keel's init waits for `start` under the loaded filter, so reopening the
/// exec fifo must not need it.
#[test]
fn a_profile_refusing_openat2_still_starts() {
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}]});
    let out = run_with_profile("seccomp_no_openat2", profile, "echo ran");
    out.assert_ok();
    assert_eq!(out.stdout, "ran\n", "{out}");
}

#[test]
fn a_profile_refusing_getcwd_faccessat2_and_close_range_still_runs() {
    // runtime-tools' profiles: its default one predates faccessat2 and
    // close_range, and linux_seccomp refuses getcwd. keel makes those
    // calls after the filter is loaded and must cope with EPERM.
    let mut sb = Sandbox::new("seccomp_old_profile");
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getcwd", "faccessat2", "close_range"], "action": "SCMP_ACT_ERRNO"}]});
    sb.bundle
        .set("/linux/seccomp", profile)
        .set("/process/cwd", json!("/tmp"))
        .args(&["echo", "ran"]);
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "ran\n", "{out}");
}
