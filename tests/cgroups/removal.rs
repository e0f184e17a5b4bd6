//! The cgroup goes with the container: on `delete`, with processes that
//! outlived the init, and after a `create` that failed.

use crate::common::{Sandbox, TIMEOUT};
use crate::support::{
    assert_no_cgroup, cgroup_dirs, cgroup_path, cgroup_procs, hierarchies, start,
    start_with_background_sleep,
};
use serde_json::json;

#[test]
fn delete_removes_the_cgroup_from_every_hierarchy() {
    let mut sb = Sandbox::new("cg_delete");
    sb.bundle.args(&["true"]);
    let id = start(&mut sb);
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
    let mut sb = Sandbox::new("cg_bad_cpuset");
    sb.bundle.set("/linux/resources/cpu/cpus", json!("99"));
    let id = sb.id.clone();
    // Nothing left includes the cgroup.
    sb.create_fails_cleanly(&id, &["linux.resources.cpu.cpus", "99"]);
}

#[test]
fn a_create_failing_after_the_cgroup_was_made_leaves_no_cgroup() {
    let mut sb = Sandbox::new("cg_bad_exec");
    sb.bundle.args(&["no-such-program"]);
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &[]);
}
