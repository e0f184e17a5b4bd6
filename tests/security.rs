//! Regression tests for known runtime CVE classes, each written as the
//! attack: a hostile caller environment, rootfs or config, and a check that
//! the host is untouched and the container gets nothing it should not.

mod common;

use common::{is_keel, Output, Sandbox};
use serde_json::json;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};

/// `/bin/sh -c` script that starts the runtime with the sandbox's
/// directory open as fd 7, without close-on-exec, as a careless engine
/// might leak one.
fn leak_fd7(sb: &Sandbox) -> String {
    format!("exec 7<{}; exec \"$@\"", sb.dir.display())
}

/// `run` the sandbox's container with fd 7 leaked to the runtime.
fn run_leaking_fd7(sb: &mut Sandbox) -> Output {
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let args = ["run", "--bundle", &bundle, &id];
    sb.rt.command_via_sh(&leak_fd7(sb), &args).spawn().wait()
}

/// `exec ARGS` with fd 7 leaked to the runtime.
fn exec_leaking_fd7(sb: &Sandbox, args: &[&str]) -> Output {
    let full = [&["exec"][..], args].concat();
    sb.rt.command_via_sh(&leak_fd7(sb), &full).spawn().wait()
}

/// The fds `ls -l /proc/self/fd` listed: the 9th field of its symlink
/// lines. 0-2 are stdio; 3 is the directory `ls` itself reads.
fn listed_fds(out: &Output) -> Vec<u32> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with('l'))
        .filter_map(|l| l.split_whitespace().nth(8)?.parse().ok())
        .collect()
}

#[test]
fn fds_of_the_caller_and_of_keel_do_not_reach_the_container() {
    // CVE-2024-21626 class: an fd open in the runtime (here one the caller
    // leaked, without close-on-exec) must not be inherited by the container.
    let mut sb = Sandbox::new("leaked_fds");
    sb.bundle.args(&["ls", "-l", "/proc/self/fd"]);
    let out = run_leaking_fd7(&mut sb);
    out.assert_ok();
    let fds = listed_fds(&out);
    assert!(
        fds.contains(&0) && fds.contains(&2),
        "no stdio listed: {out}"
    );
    assert!(
        fds.iter().all(|&fd| fd <= 3),
        "an fd of the caller or of keel reached the container: {out}"
    );
}

#[test]
fn a_cwd_through_a_leaked_fd_cannot_leave_the_rootfs() {
    // CVE-2024-21626: cwd /proc/self/fd/7, where 7 is a host directory the
    // caller leaked, would start the process outside its rootfs.
    let mut sb = Sandbox::new("cwd_escape");
    fs::write(sb.dir.join("host-secret"), "x").unwrap();
    sb.bundle
        .args(&["ls"])
        .set("/process/cwd", json!("/proc/self/fd/7"));
    let out = run_leaking_fd7(&mut sb);
    assert!(
        !out.stdout.contains("host-secret"),
        "the container listed a host directory: {out}"
    );
    if is_keel() {
        out.assert_failed();
        common::assert_config_error(&out, None, "process.cwd", &["leads outside"]);
    }
}

#[test]
fn exec_neither_leaks_fds_nor_starts_in_a_leaked_directory() {
    // CVE-2024-21626 class on `exec`: the joining process must get no fd of
    // the caller's or keel's, and a cwd through one must not take it out
    // of the container.
    let (sb, id) = Sandbox::with_running_container("exec_leaks");
    fs::write(sb.dir.join("host-secret"), "x").unwrap();
    let out = exec_leaking_fd7(&sb, &[&id, "ls", "-l", "/proc/self/fd"]);
    out.assert_ok();
    let fds = listed_fds(&out);
    assert!(fds.contains(&0), "no stdio listed: {out}");
    assert!(
        fds.iter().all(|&fd| fd <= 3),
        "an fd leaked into exec: {out}"
    );
    let out = exec_leaking_fd7(&sb, &["--cwd", "/proc/self/fd/7", &id, "ls"]);
    assert!(
        !out.stdout.contains("host-secret"),
        "exec listed a host directory: {out}"
    );
}

#[test]
fn the_init_is_not_dumpable_until_it_execs() {
    // While keel's init holds host state (the exec fifo, namespace fds), a
    // container process of the same uid must not ptrace it or open its
    // /proc files: the kernel makes /proc/PID of a non-dumpable process
    // root's. After exec the process is the user's own again.
    let mut sb = Sandbox::new("dumpable");
    sb.bundle
        .args(&["sleep", "1000"])
        .set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let id = sb.id.clone();
    sb.create(&id);
    let pid = sb.init_pid(&id);
    let owner = || fs::metadata(format!("/proc/{pid}/fd")).unwrap().uid();
    assert_eq!(owner(), 0, "/proc/{pid} of a created init is not root's");
    sb.rt.ok(&["start", &id]);
    assert_eq!(owner(), 1000, "/proc/{pid} after exec is not the user's");
}

#[test]
fn a_fake_dev_null_is_never_used_to_mask_paths() {
    // CVE-2025-31133 class: with /dev bound from the image, /dev/null may be
    // a plain file (or a link to something worse); binding it over a masked
    // path would expose it read-write instead of hiding the path.
    keel_only!();
    let mut sb = Sandbox::new("fake_null");
    let dev = sb.dir.join("fake-dev");
    fs::create_dir(&dev).unwrap();
    fs::write(dev.join("null"), "not a device").unwrap();
    sb.bundle.args(&["true"]);
    sb.bundle.set(
        "/mounts/1",
        json!({"destination": "/dev", "type": "bind",
        "source": dev, "options": ["rbind"]}),
    );
    sb.bundle.set("/linux/maskedPaths", json!(["/proc/keys"]));
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &["/dev/null"]);
}

#[test]
fn a_symlink_in_the_image_cannot_send_a_mount_onto_the_host() {
    // CVE-2021-30465 class: mount destinations are resolved inside the
    // rootfs, so links planted in the image (absolute or climbing out with
    // ..) end up under the rootfs, never at the host path they name.
    let mut sb = Sandbox::new("mount_symlink");
    let rootfs = sb.bundle.rootfs();
    symlink("/etc", rootfs.join("abs-link")).unwrap();
    symlink("../../../../../../etc", rootfs.join("rel-link")).unwrap();
    for (link, name) in [
        ("abs-link", "keel-escape-abs"),
        ("rel-link", "keel-escape-rel"),
    ] {
        let dest = format!("/{link}/{name}");
        sb.bundle.push(
            "/mounts",
            json!({"destination": dest, "type": "tmpfs",
            "source": "tmpfs", "options": ["size=64k"]}),
        );
    }
    sb.bundle
        .sh("grep keel-escape /proc/self/mountinfo | cut -d' ' -f5");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    for name in ["keel-escape-abs", "keel-escape-rel"] {
        let host = std::path::Path::new("/etc").join(name);
        assert!(!host.exists(), "{} was created on the host", host.display());
        assert!(
            out.stdout.lines().any(|l| l == format!("/etc/{name}")),
            "the mount is not at /etc/{name} inside the container: {out}"
        );
        assert!(
            rootfs.join("etc").join(name).is_dir(),
            "{name} not made in the rootfs"
        );
    }
}
