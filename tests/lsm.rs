//! AppArmor and SELinux settings on a host without either (this project's
//! machines): one clear error each, naming the JSON path (or the flag) and
//! the value, and nothing left behind, for `create` and for `exec`. Where
//! the host has AppArmor, tests/apparmor.rs checks that profiles apply.

mod common;

use common::{Output, Sandbox};
use serde_json::json;
use std::path::Path;

const LABEL: &str = "system_u:object_r:x";

fn host_has_no_lsm() -> bool {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    !apparmor && !Path::new("/sys/fs/selinux/enforce").exists()
}

fn why(lsm: &str) -> String {
    format!("this host has no {lsm} (it is not enabled in the kernel)")
}

#[test]
fn lsm_labels_are_refused_on_a_host_without_the_lsm() {
    keel_only!();
    if !host_has_no_lsm() {
        eprintln!("skipped: this host has AppArmor or SELinux");
        return;
    }
    let cases = [
        (
            "/process/apparmorProfile",
            "process.apparmorProfile",
            "AppArmor",
        ),
        ("/process/selinuxLabel", "process.selinuxLabel", "SELinux"),
        ("/linux/mountLabel", "linux.mountLabel", "SELinux"),
    ];
    for (i, (pointer, path, lsm)) in cases.into_iter().enumerate() {
        let mut sb = Sandbox::new("lsm");
        sb.bundle.set(pointer, json!(LABEL));
        let id = format!("{}-{i}", sb.id);
        sb.create_fails_with_config_error(&id, path, &[LABEL, &why(lsm)]);
    }
}

/// One line naming the flag or the document's field, the value and why;
/// nothing was started.
fn assert_exec_refused(sb: &Sandbox, out: &Output, names: &[&str], lsm: &str) {
    out.assert_failed();
    let why = why(lsm);
    common::assert_keel_error(out, &[names, &[LABEL, &why]].concat());
    let ps = sb.rt.ok(&["ps", "--format", "json", &sb.id]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(pids.len(), 1, "only the init may run: {ps}");
}

#[test]
fn exec_refuses_lsm_labels_on_a_host_without_the_lsm() {
    keel_only!();
    if !host_has_no_lsm() {
        eprintln!("skipped: this host has AppArmor or SELinux");
        return;
    }
    let (sb, id) = Sandbox::with_running_container("lsm_exec");
    for (flag, lsm) in [("--apparmor", "AppArmor"), ("--process-label", "SELinux")] {
        let out = sb.rt.run(&["exec", flag, LABEL, &id, "true"]);
        assert_exec_refused(&sb, &out, &[flag], lsm);
    }
    for (field, lsm) in [("apparmorProfile", "AppArmor"), ("selinuxLabel", "SELinux")] {
        let doc = json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, field: LABEL});
        let path = sb.dir.join(format!("{field}.json"));
        std::fs::write(&path, doc.to_string()).unwrap();
        let path = path.to_str().unwrap();
        let out = sb.rt.run(&["exec", "--process", path, &id]);
        assert_exec_refused(&sb, &out, &[path, field], lsm);
    }
}
