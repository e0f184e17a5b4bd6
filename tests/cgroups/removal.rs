//! The cgroup goes with the container: on `delete`, with processes that
//! outlived the init, and after a `create` that failed.

use crate::common::{ExtraCgroups, Sandbox, TIMEOUT};
use crate::support::{
    assert_no_cgroup, cg_dir, cgroup_dirs, cgroup_path, cgroup_procs, hierarchies,
    start_with_background_sleep,
};
use serde_json::json;
use std::fs;
use std::path::Path;

#[test]
fn delete_removes_the_cgroup_from_every_hierarchy() {
    let mut sb = Sandbox::new("cg_delete");
    sb.bundle.args(&["true"]);
    let id = sb.create_and_start_own();
    let path = cgroup_path(&id);
    // One directory per mounted hierarchy, cgroup2 included.
    assert_eq!(cgroup_dirs(&path).len(), hierarchies().len());
    sb.wait_exit(&id);
    sb.rt.ok(&["delete", &id]);
    assert_no_cgroup(&path);
}

#[test]
fn delete_ends_processes_that_outlive_the_init() {
    // Without a pid namespace a background process survives its init; the
    // container is stopped, but its cgroup still holds the process, which
    // `delete` must end before it can remove the cgroup.
    let mut sb = Sandbox::new("cg_delete_leftover");
    let (id, pid, sleeper) = start_with_background_sleep(&mut sb, "");
    sb.wait_exit(&id);
    assert_eq!(sb.rt.status(&id), "stopped");
    assert_eq!(cgroup_procs(&id), [pid]);
    sb.rt.ok(&["delete", &id]);
    assert!(sleeper.wait_exit(TIMEOUT), "the background sleep survived");
    assert_no_cgroup(&cgroup_path(&id));
}

#[test]
fn a_create_failing_on_a_resource_leaves_no_cgroup() {
    // Valid JSON and a well-formed CPU list, but CPUs this machine cannot
    // have: only the kernel's write refuses it, and create must undo the
    // cgroup directories it made for it ("99" would be a CPU on a large
    // enough machine).
    let mut sb = Sandbox::new("cg_bad_cpuset");
    sb.bundle.set("/linux/resources/cpu/cpus", json!("0-1023"));
    let id = sb.id.clone();
    // Nothing left includes the cgroup.
    let what = ["0-1023", "cpuset.cpus"];
    sb.create_fails_with_config_error(&id, "linux.resources.cpu.cpus", &what);
}

#[test]
fn a_create_failing_after_the_cgroup_was_made_leaves_no_cgroup() {
    let mut sb = Sandbox::new("cg_bad_exec");
    sb.bundle.args(&["no-such-program"]);
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &[]);
}

#[test]
fn delete_force_removes_a_created_container_whose_cgroup_is_gone() {
    // As if someone else removed the cgroup (or create never made it): the
    // init lives on elsewhere and the state still says created.
    let mut extra = ExtraCgroups::default();
    let (sb, id) = Sandbox::with_created_container("cg_gone");
    let init = sb.init_pid(&id);
    // Not under /keel-test, which goes with the last sandbox only if empty:
    // this one goes after the sandbox has ended and reaped the init.
    let aside = format!("/keel-aside-{id}");
    extra.add(aside.clone());
    for h in hierarchies() {
        let dir = cg_dir(&h, &cgroup_path(&id));
        if dir.exists() {
            move_out(init, &dir, &cg_dir(&h, &aside));
        }
    }
    assert_eq!(sb.rt.status(&id), "created");
    sb.rt.ok(&["delete", "--force", &id]);
    sb.reap_init_killed(&id, libc::SIGKILL);
    sb.assert_nothing_left(&id);
}

/// Move `pid` from cgroup `dir` into a new cgroup `other`, and remove `dir`.
fn move_out(pid: i32, dir: &Path, other: &Path) {
    fs::create_dir(other).unwrap_or_else(|e| panic!("mkdir {}: {e}", other.display()));
    // A v1 cpuset cgroup takes no process until it has cpus and mems.
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if let Ok(value) = fs::read_to_string(dir.join(file)) {
            fs::write(other.join(file), value.trim()).expect(file);
        }
    }
    fs::write(other.join("cgroup.procs"), pid.to_string()).expect("move the init");
    fs::remove_dir(dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
}
