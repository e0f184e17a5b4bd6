//! A terminal in a new user namespace: the pty comes from the container's
//! own devpts and belongs to the container's user and the tty group as the
//! container sees them, which are the mapped host ids outside.

mod common;

use common::tty::{create_with_pty, exec_with_pty, output_between, read_until};
use common::userns::{map_user, HOST};
use common::Sandbox;
use serde_json::json;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

/// The tty group of the template's devpts mount (`gid=5`).
const TTY_GID: u32 = 5;

/// Typed into the container's shell. The markers are computed, so the
/// echoed command line never contains them, only the shell's output.
const SCRIPT: &[u8] = b"echo BEGIN$((1+1)); \
    stat -L -c '%u %g' /dev/console /proc/self/fd/0; tty; \
    grep ' /dev/pts ' /proc/self/mountinfo | sed 's/.* - //'; \
    echo x > /dev/null && head -c 4 /dev/zero | wc -c; \
    head -c 4 /dev/urandom | wc -c; \
    echo via-console > /dev/console; echo via-tty > /dev/tty; \
    echo END$((6*7)); exit 0\n";

/// `(uid, gid)` of what `path` leads to, following links.
fn owner(path: &str) -> (u32, u32) {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("stat {path}: {e}"));
    (meta.uid(), meta.gid())
}

#[test]
fn the_pty_of_a_user_namespace_is_its_root_and_tty_group() {
    let mut sb = Sandbox::new("userns_tty");
    map_user(&mut sb);
    sb.bundle
        .set("/process/terminal", json!(true))
        .args(&["sh"]);
    let id = sb.id.clone();
    let mut master = create_with_pty(&mut sb, &id);
    let pid = sb.init_pid(&id);
    // From the host the slave and the console bound over it belong to the
    // mapped ids of the container's root and tty group.
    let mapped = (HOST, HOST + TTY_GID);
    assert_eq!(owner(&format!("/proc/{pid}/fd/0")), mapped, "stdin");
    let console = format!("/proc/{pid}/root/dev/console");
    assert_eq!(owner(&console), mapped, "/dev/console");
    let slave_dev = fs::metadata(format!("/proc/{pid}/fd/0")).unwrap().rdev();
    assert_eq!(fs::metadata(&console).unwrap().rdev(), slave_dev);
    // A devpts instance of the container's own, not the host's.
    let pts = fs::metadata(format!("/proc/{pid}/root/dev/pts")).unwrap();
    assert_ne!(pts.dev(), fs::metadata("/dev/pts").unwrap().dev());
    sb.rt.ok(&["start", &id]);
    master.write_all(SCRIPT).unwrap();
    let seen = read_until(&mut master, "END42");
    let lines = output_between(&seen, "BEGIN2\r\n", "END42");
    let [console, stdin, tty, devpts, null_zero, urandom, via_console, via_tty] = &lines[..] else {
        panic!("unexpected output: {lines:#?}");
    };
    let root_tty = format!("0 {TTY_GID}");
    assert_eq!((console, stdin), (&root_tty, &root_tty), "{seen:?}");
    assert_eq!(tty, "/dev/pts/0");
    let devpts: Vec<&str> = devpts.split([' ', ',']).collect();
    assert_eq!(devpts[..2], ["devpts", "devpts"], "{devpts:?}");
    for option in ["mode=620", "ptmxmode=666"] {
        assert!(devpts.contains(&option), "{option} missing: {devpts:?}");
    }
    assert_eq!((null_zero.as_str(), urandom.as_str()), ("4", "4"));
    assert_eq!(
        (via_console.as_str(), via_tty.as_str()),
        ("via-console", "via-tty")
    );
    sb.reap_init_exited(&id, 0);
}

#[test]
fn the_pty_of_a_user_namespace_belongs_to_the_process_user() {
    let mut sb = Sandbox::new("userns_tty_user");
    map_user(&mut sb);
    sb.bundle
        .set("/process/terminal", json!(true))
        .set("/process/user", json!({"uid": 1000, "gid": 1000}))
        .args(&["sh"]);
    let id = sb.id.clone();
    let mut master = create_with_pty(&mut sb, &id);
    let pid = sb.init_pid(&id);
    assert_eq!(
        owner(&format!("/proc/{pid}/fd/0")),
        (HOST + 1000, HOST + TTY_GID)
    );
    sb.rt.ok(&["start", &id]);
    master
        .write_all(b"echo BEGIN$((1+1)); stat -c '%u %g' $(tty); echo hi > /dev/tty; echo END$((6*7)); exit 0\n")
        .unwrap();
    let seen = read_until(&mut master, "END42");
    let lines = output_between(&seen, "BEGIN2\r\n", "END42");
    assert_eq!(
        lines,
        [format!("1000 {TTY_GID}"), "hi".to_string()],
        "{seen:?}"
    );
    sb.reap_init_exited(&id, 0);
}

#[test]
fn an_exec_tty_in_a_user_namespace_is_its_root_and_tty_group() {
    // keel-specific for the reason exec.rs gives: the detached process is
    // left to us, which runc 1.1's `delete --force` cannot cope with.
    keel_only!();
    let mut sb = Sandbox::new("userns_exec_tty");
    map_user(&mut sb);
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.id.clone();
    sb.create_and_start(&id);
    let (pid, mut master) = exec_with_pty(&sb, &id, &["sh"]);
    assert_eq!(owner(&format!("/proc/{pid}/fd/0")), (HOST, HOST + TTY_GID));
    master
        .write_all(b"echo BEGIN$((1+1)); stat -L -c '%u %g' /proc/self/fd/0; tty; echo END$((6*7)); exit\n")
        .unwrap();
    let seen = read_until(&mut master, "END42");
    let lines = output_between(&seen, "BEGIN2\r\n", "END42");
    assert_eq!(lines[0], format!("0 {TTY_GID}"), "{seen:?}");
    assert!(lines[1].starts_with("/dev/pts/"), "{seen:?}");
}
