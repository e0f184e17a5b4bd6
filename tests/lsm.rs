//! AppArmor and SELinux settings on a host without either (this project's
//! machines): one clear error each, naming the JSON path and the value,
//! and nothing left behind.

mod common;

use common::Sandbox;
use serde_json::json;
use std::path::Path;

fn host_has_no_lsm() -> bool {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    !apparmor && !Path::new("/sys/fs/selinux/enforce").exists()
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
        sb.bundle.set(pointer, json!("system_u:object_r:x"));
        let id = format!("{}-{i}", sb.id);
        let out = sb.try_create(&id, &[]);
        out.assert_failed();
        common::assert_keel_config_error(&out, path, "system_u:object_r:x");
        let why = format!("this host has no {lsm} (it is not enabled in the kernel)");
        assert!(out.stderr.contains(&why), "{out}");
        sb.assert_nothing_left(&id);
    }
}
