//! Socket activation (sd_listen_fds) as runc honours it: when LISTEN_PID
//! names the runtime and LISTEN_FDS=N, fds 3..3+N go on to the container,
//! which gets LISTEN_FDS=N and LISTEN_PID=1 (itself, as pid 1) in its env.

mod common;

use common::sys::poll_readable;
use common::{Output, Sandbox, TIMEOUT};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

/// Run the sandbox's container in the foreground from a shell that sets
/// LISTEN_PID to `listen_pid` (`$$` is the shell, which execs the runtime)
/// and LISTEN_FDS=1, with the write end of a pipe as fd 3. Returns what
/// `run` did and everything written to the pipe.
fn run_activated(sb: &mut Sandbox, listen_pid: &str) -> (Output, String) {
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let script = format!("LISTEN_PID={listen_pid} LISTEN_FDS=1 exec \"$@\"");
    let mut run = sb
        .rt
        .command_via_sh(&script, &["run", "--bundle", &bundle, &id]);
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    run.pass_as_fd3(write_end.as_raw_fd());
    let out = run.spawn().wait();
    // Our copy of the write end must go, or the pipe never reaches its end.
    drop(write_end);
    (out, read_to_end(read_end))
}

/// Everything left in a pipe whose writers are gone or going; fails the
/// test if a writer keeps it open past `TIMEOUT`.
fn read_to_end(read_end: OwnedFd) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut pipe = File::from(read_end);
    let mut seen = Vec::new();
    loop {
        assert!(
            poll_readable(pipe.as_raw_fd(), deadline),
            "a process still holds the pipe open; read so far: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut chunk = [0u8; 4096];
        match pipe.read(&mut chunk).expect("read pipe") {
            0 => return String::from_utf8_lossy(&seen).into_owned(),
            n => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn listen_fds_for_the_runtime_pass_on_to_the_container() {
    let mut sb = Sandbox::new("activation_passes_fds");
    sb.bundle
        .sh("echo \"activated $LISTEN_FDS $LISTEN_PID\" >&3");
    let (out, piped) = run_activated(&mut sb, "$$");
    out.assert_ok();
    assert_eq!(piped, "activated 1 1\n", "{out}");
}

#[test]
fn listen_fds_for_another_process_are_ignored() {
    // LISTEN_PID names pid 1, not the runtime: the fds are not the
    // runtime's to pass on, and neither the env nor fd 3 reaches the
    // container (which would otherwise write to the pipe).
    let mut sb = Sandbox::new("activation_other_pid");
    sb.bundle
        .sh("echo \"env [$LISTEN_FDS] [$LISTEN_PID]\"; echo leaked >&3 || true");
    let (out, piped) = run_activated(&mut sb, "1");
    out.assert_ok();
    assert_eq!(out.stdout, "env [] []\n", "{out}");
    assert_eq!(piped, "", "fd 3 reached the container: {out}");
}
