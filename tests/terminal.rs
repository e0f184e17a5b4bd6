//! Terminals and inherited fds: `--console-socket` hands the pty master to
//! the caller; `--preserve-fds` passes extra fds into the container.

mod common;

use common::sys::poll_readable;
use common::tty::{create_with_pty, read_until};
use common::{Sandbox, TIMEOUT};
use serde_json::json;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

#[test]
fn console_socket_receives_a_working_pty_master() {
    let mut sb = Sandbox::new("console_socket");
    sb.bundle
        .set("/process/terminal", json!(true))
        .args(&["sh"]);
    let id = sb.id.clone();
    let mut master = create_with_pty(&mut sb, &id);
    sb.rt.ok(&["start", &id]);
    // The typed line never contains "42"; only the shell's answer does.
    master.write_all(b"tty; echo $((6*7)); exit 0\n").unwrap();
    let seen = read_until(&mut master, "42\r\n");
    // runc's answer: the process's terminal is the pty's slave.
    assert!(
        seen.contains("/dev/pts/0\r\n"),
        "tty printed something else: {seen:?}"
    );
    sb.reap_init_exited(&id, 0);
}

#[test]
fn preserve_fds_passes_fd_3_into_the_container() {
    let mut sb = Sandbox::new("preserve_fds");
    sb.bundle.sh("echo through fd 3 >&3");
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let mut run = sb
        .rt
        .command(&["run", "--preserve-fds", "1", "--bundle", &bundle, &id]);
    run.pass_as_fd3(write_end.as_raw_fd());
    let out = run.spawn().wait();
    // Our copy of the write end must go, or the read below never ends.
    drop(write_end);
    out.assert_ok();
    let mut reader = File::from(read_end);
    assert!(poll_readable(reader.as_raw_fd(), Instant::now() + TIMEOUT));
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    assert_eq!(text, "through fd 3\n");
}
