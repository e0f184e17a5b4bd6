//! Shared helpers for keel's integration tests.
//!
//! Every test drives a runtime binary through its command line, exactly as
//! containerd or podman would. The binary is `$KEEL_TEST_RUNTIME` if set (so
//! the suite can be checked against runc), else the keel built by cargo.
//!
//! - `runtime`: run a subcommand with a timeout, capturing its output.
//! - `bundle`: a busybox bundle per test, with config.json helpers.
//! - `sandbox`: one test's directories and containers, removed on drop.
//! - `sys`: waiting on processes and fifos without sleeping; leftover scans.
//! - `tty`, `userns`: console sockets; containers in a new user namespace.
//! - `cgroup_guard`: removing cgroups a test made outside /keel-test/ID.
//! - `containers`: a sandbox with its container created, running or stopped.
//! - `exec`: detached `exec` calls, their processes adopted by the sandbox.
//! - `config_error`: a refused config.json: its one-line error, nothing left.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod bundle;
pub mod cgroup_guard;
pub mod config_error;
pub mod containers;
pub mod exec;
pub mod runtime;
pub mod sandbox;
pub mod sys;
pub mod tty;
pub mod userns;
pub mod veth;

pub use bundle::Bundle;
pub use cgroup_guard::ExtraCgroups;
pub use config_error::assert_config_error;
pub use runtime::{Output, Runtime, Spawned};
pub use sandbox::Sandbox;
pub use sys::Fifo;

use std::path::PathBuf;
use std::time::Duration;

/// How long one runtime call or one wait on a container may take before the
/// test fails. Generous: a debug build on 2 busy cores is slow, but a hang
/// must still end the test instead of CI.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The runtime binary under test.
pub fn runtime_path() -> PathBuf {
    match std::env::var_os("KEEL_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_keel")),
    }
}

/// Whether the runtime under test is keel (and not, say, runc).
pub fn is_keel() -> bool {
    runtime_path().file_name().is_some_and(|n| n == "keel")
}

/// Return early from a test that checks behaviour only keel promises (its
/// message texts, its `--version`), saying why, when another runtime is
/// under test.
#[macro_export]
macro_rules! keel_only {
    () => {
        if !$crate::common::is_keel() {
            eprintln!(
                "skipped: keel-specific check, runtime under test is {}",
                $crate::common::runtime_path().display()
            );
            return;
        }
    };
}

/// Whether `s` looks like Go's RFC3339 (or RFC3339Nano) UTC time, as runc
/// prints it: `2006-01-02T15:04:05Z` or `2006-01-02T15:04:05.999999999Z`.
pub fn is_rfc3339_utc(s: &str) -> bool {
    let Some(body) = s.strip_suffix('Z') else {
        return false;
    };
    let (secs, frac) = body.split_once('.').unwrap_or((body, "1"));
    let pattern = "dddd-dd-ddTdd:dd:dd";
    secs.len() == pattern.len()
        && secs.chars().zip(pattern.chars()).all(|(c, p)| match p {
            'd' => c.is_ascii_digit(),
            _ => c == p,
        })
        && !frac.is_empty()
        && frac.len() <= 9
        && frac.chars().all(|c| c.is_ascii_digit())
}

/// keel's promise for an error: one line on stderr, mentioning each of
/// `parts`. Checked only when the runtime is keel; runc words its errors
/// differently.
pub fn assert_keel_error(out: &Output, parts: &[&str]) {
    if !is_keel() {
        return;
    }
    let err = out.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "want exactly one error line: {out}");
    for part in parts {
        assert!(err.contains(part), "error does not mention {part:?}: {out}");
    }
}
