//! Where a container's processes are placed: the init before it runs, what
//! it sees in its own cgroup namespace, `exec`'d processes, and how
//! `linux.cgroupsPath` is resolved.

use crate::common::{Bundle, ExtraCgroups, Sandbox};
use crate::keel_only;
use crate::support::{
    assert_no_cgroup, assert_placed, cg_dir, cgroup_path, cgroup_procs, parse_cgroup_lines,
    proc_cgroup, pure_v2, shared_file, MIB,
};
use serde_json::json;
use std::fs;

#[test]
fn the_init_is_in_its_cgroup_before_it_runs() {
    let (sb, id) = Sandbox::with_created_container("cg_placement");
    // Created, not started: the init must already be in place, so that no
    // code of the container's ever runs outside its limits.
    let init = sb.init_pid(&id);
    assert_placed(init, &cgroup_path(&id));
    assert!(cgroup_procs(&id).contains(&init));
    sb.rt.ok(&["start", &id]);
    assert_placed(init, &cgroup_path(&id));
}

/// Give the container runc's default read-only cgroup mount at
/// /sys/fs/cgroup (the harness drops that mount).
fn cgroup_mount(bundle: &mut Bundle) {
    bundle.push(
        "/mounts",
        json!({
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }),
    );
}

#[test]
fn a_cgroup_mount_that_a_link_leads_into_proc_is_refused() {
    // runc's rule holds for every mount: nothing but procfs on /proc. The
    // image decides where /cg-link leads; on a pure cgroup2 host the
    // cgroup2 filesystem goes straight there, elsewhere a tmpfs does.
    keel_only!();
    let mut sb = Sandbox::new("cg_mount_proc");
    std::os::unix::fs::symlink("/proc/sys", sb.bundle.rootfs().join("cg-link")).unwrap();
    sb.bundle.push(
        "/mounts",
        json!({"destination": "/cg-link", "type": "cgroup", "source": "cgroup",
               "options": ["ro"]}),
    );
    let index = sb.bundle.config["mounts"].as_array().unwrap().len() - 1;
    let id = sb.id.clone();
    let field = format!("mounts[{index}]");
    sb.create_fails_with_config_error(&id, &field, &["\"/proc/sys\"", "inside /proc"]);
}

/// Give the container its own cgroup namespace and the cgroup mount.
fn own_cgroup_view(bundle: &mut Bundle) {
    // `spec` already gives one on a pure v2 host, as runc's does.
    bundle
        .remove_namespace("cgroup")
        .push("/linux/namespaces", json!({"type": "cgroup"}));
    cgroup_mount(bundle);
}

/// The container's memory limit as it sees it through its cgroup mount.
/// Read only: should the mount show the wrong cgroup, on v1 it could be
/// the test process's own memory cgroup, which must not be written.
fn memory_limit_file() -> &'static str {
    if pure_v2() {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    }
}

#[test]
fn in_its_own_cgroup_namespace_the_container_sees_its_cgroup_as_root() {
    let mut sb = Sandbox::new("cg_namespace");
    let mut done = sb.fifo("done");
    sb.bundle
        .set("/linux/resources/memory/limit", json!(48 * MIB));
    own_cgroup_view(&mut sb.bundle);
    let limit_file = memory_limit_file();
    sb.bundle.sh(&format!(
        "cat /proc/self/cgroup > /shared/cgroup; \
         cat {limit_file} > /shared/limit; echo done > /shared/done"
    ));
    sb.create_and_start_own();
    assert_eq!(done.read_line("the container's report"), "done");
    let text = shared_file(&sb, "cgroup");
    let inside = parse_cgroup_lines(&text);
    assert!(!inside.is_empty());
    for line in &inside {
        assert_eq!(
            line.path, "/",
            "inside, hierarchy {}:{} is not at its root; /proc/self/cgroup:\n{text}",
            line.id, line.controllers
        );
    }
    // The cgroup mount shows the container's own cgroup, limit included.
    assert_eq!(shared_file(&sb, "limit").trim(), (48 * MIB).to_string());
}

#[test]
fn without_a_cgroup_namespace_the_cgroup_mount_binds_the_containers_cgroup() {
    // The init mounts this while the parent may still be placing it: the
    // bind must name the cgroup it is being placed in, not keel's own.
    let mut sb = Sandbox::new("cg_mount_bind");
    let mut done = sb.fifo("done");
    sb.bundle
        .set("/linux/resources/memory/limit", json!(40 * MIB));
    // `spec` gives a pure v2 host one; this test wants none.
    sb.bundle.remove_namespace("cgroup");
    cgroup_mount(&mut sb.bundle);
    let limit_file = memory_limit_file();
    sb.bundle.sh(&format!(
        "cat {limit_file} > /shared/limit; echo done > /shared/done"
    ));
    sb.create_and_start_own();
    assert_eq!(done.read_line("the container's report"), "done");
    assert_eq!(shared_file(&sb, "limit").trim(), (40 * MIB).to_string());
}

#[test]
fn exec_runs_in_the_containers_cgroup() {
    // Without a cgroup namespace (which `spec` adds on a pure v2 host) the
    // process sees the host's cgroup paths.
    let mut sb = Sandbox::new("cg_exec");
    sb.bundle
        .remove_namespace("cgroup")
        .args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
    let out = sb.rt.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    let lines = parse_cgroup_lines(&out.stdout);
    assert_eq!(lines.len(), proc_cgroup(sb.init_pid(&id)).len(), "{out}");
    for line in &lines {
        assert_eq!(line.path, cgroup_path(&id), "{out}");
    }
}

#[test]
fn a_detached_exec_process_is_in_the_containers_cgroup() {
    // keel-specific: the detached process is left to us as subreaper, and
    // runc 1.1.5's `delete --force` then fails waiting for the container's
    // init (see exec.rs).
    keel_only!();
    let mut sb = Sandbox::new("cg_exec_detached");
    let mut out = sb.fifo("out");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
    let script = "echo started > /shared/out; exec sleep 1000";
    let pid = sb.exec_detached(&[], &id, &["sh", "-c", script]);
    assert_eq!(out.read_line("the exec'd process"), "started");
    assert_placed(pid, &cgroup_path(&id));
    assert!(cgroup_procs(&id).contains(&pid));
}

/// Create container `id` with `linux.cgroupsPath` set to `path`, or
/// without one for None (the harness would set /keel-test/ID).
fn create_with_cgroups_path(sb: &mut Sandbox, id: &str, path: Option<&str>) {
    sb.prepare(id);
    match path {
        Some(p) => sb.bundle.set("/linux/cgroupsPath", json!(p)),
        None => sb.bundle.remove("/linux/cgroupsPath"),
    };
    sb.bundle.save();
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    sb.rt.ok(&["create", "--bundle", &bundle, id]);
    sb.note_init(id);
}

#[test]
fn a_relative_cgroups_path_starts_at_each_hierarchys_root() {
    // keel's documented choice (crun's). NEVER run with runc: it resolves a
    // relative path under the caller's own cgroup, which on this machine
    // is the memory cgroup under process_api that must not be written to.
    keel_only!();
    let mut extra = ExtraCgroups::default();
    let mut sb = Sandbox::new("cg_relative");
    let id = sb.id.clone();
    let rel = format!("keel-test-rel/{id}");
    extra.add(format!("/{rel}")).add("/keel-test-rel");
    create_with_cgroups_path(&mut sb, &id, Some(&rel));
    // The same path in every hierarchy, memory included, where the test
    // process itself sits below the root.
    assert_placed(sb.init_pid(&id), &format!("/{rel}"));
    assert!(cg_dir("memory", &rel).is_dir());
    sb.rt.ok(&["delete", "--force", &id]);
    assert_no_cgroup(&rel);
}

#[test]
fn no_cgroups_path_means_keel_slash_id() {
    // keel-specific default (runc's differs and is relative to the caller).
    keel_only!();
    let mut extra = ExtraCgroups::default();
    let mut sb = Sandbox::new("cg_default_path");
    let (missing, empty) = (sb.id.clone(), sb.other_id("empty"));
    extra
        .add(format!("/keel/{missing}"))
        .add(format!("/keel/{empty}"))
        .add("/keel");
    create_with_cgroups_path(&mut sb, &missing, None);
    create_with_cgroups_path(&mut sb, &empty, Some(""));
    for id in [&missing, &empty] {
        assert_placed(sb.init_pid(id), &format!("/keel/{id}"));
    }
    for id in [&missing, &empty] {
        sb.rt.ok(&["delete", "--force", id]);
        assert_no_cgroup(&format!("/keel/{id}"));
    }
    // The parent keel chose goes with its last container.
    assert_no_cgroup("/keel");
}

/// cgroup2's threaded controllers. The rule that keeps processes out of
/// a cgroup that enables controllers for its children spares one that
/// enables only these: it could still become the root of a threaded
/// subtree, so the kernel lets processes in.
const THREADED_CONTROLLERS: &[&str] = &["cpu", "cpuset", "perf_event", "pids"];

#[test]
fn a_cgroup_that_cannot_take_the_init_fails_create_promptly() {
    // cgroup2 keeps processes out of a cgroup that gives a domain
    // controller to its children: the init's placement fails (EBUSY) while
    // the init waits to be placed. create must report that, not wait for
    // the init forever. A threaded controller would not do: a pure v2
    // host's root lists cpuset first, and with it the init got in.
    let root = cg_dir("unified", "/");
    let Some(ctrl) = fs::read_to_string(root.join("cgroup.subtree_control"))
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .find(|c| !THREADED_CONTROLLERS.contains(c))
                .map(str::to_string)
        })
    else {
        eprintln!("skipped: no cgroup2 domain controller to enable");
        return;
    };
    let mut sb = Sandbox::new("cg_busy");
    let id = sb.id.clone();
    // Tracked before the directories exist: a failing step below still
    // gets them removed.
    sb.track(&id);
    for path in ["/keel-test".to_string(), cgroup_path(&id)] {
        let dir = cg_dir("unified", &path);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cgroup.subtree_control"), format!("+{ctrl}")).unwrap();
    }
    sb.create_fails_cleanly(&id, &["cgroup.procs"]);
}
