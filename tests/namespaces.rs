//! Joining namespaces by path: `linux.namespaces[].path` puts a container
//! into another container's namespaces (as Kubernetes pods share one), and a
//! path that does not exist fails `create` cleanly.

mod common;

use common::{is_keel, Sandbox};
use serde_json::json;
use std::fs;

/// Container A's process: reports it runs, then sleeps under a command line
/// container B can recognise in /proc/1/cmdline once it shares A's pid ns.
const A_SCRIPT: &str = "echo ready > /shared/events; exec sleep 1001";

/// Create and start container `id` running `A_SCRIPT` with hostname "alpha";
/// returns its init pid once the process runs.
fn start_alpha(sb: &mut Sandbox, id: &str) -> i32 {
    let mut events = sb.fifo("events");
    sb.bundle.sh(A_SCRIPT).hostname("alpha");
    sb.create(id);
    sb.rt.ok(&["start", id]);
    assert_eq!(events.read_line("container A to start"), "ready");
    sb.init_pid(id)
}

/// Replace the config's `kind` namespace entry, in place (its index stays),
/// by one that joins the namespace at `path`.
fn join_namespace(sb: &mut Sandbox, kind: &str, path: &str) -> usize {
    let index = sb.bundle.namespace_index(kind);
    let entry = json!({"type": kind, "path": path});
    sb.bundle.set(&format!("/linux/namespaces/{index}"), entry);
    index
}

/// The namespace link of `pid` as `readlink` prints it (`net:[4026532...]`).
fn ns_link(pid: i32, ns: &str) -> String {
    let link = fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"));
    link.to_string_lossy().into_owned()
}

#[test]
fn joining_uts_and_network_by_path_shares_hostname_and_network() {
    let mut sb = Sandbox::new("ns_join_uts_net");
    let a = sb.other_id("a");
    let a_pid = start_alpha(&mut sb, &a);
    let ours = ns_link(std::process::id() as i32, "net");
    assert_ne!(ns_link(a_pid, "net"), ours, "A has its own net ns");

    join_namespace(&mut sb, "uts", &format!("/proc/{a_pid}/ns/uts"));
    join_namespace(&mut sb, "network", &format!("/proc/{a_pid}/ns/net"));
    // A hostname needs a UTS namespace of one's own; B only borrows A's.
    sb.bundle
        .remove("/hostname")
        .sh("hostname; readlink /proc/self/ns/net");
    let out = sb.run(&sb.other_id("b"), &[]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, ["alpha", &ns_link(a_pid, "net")], "{out}");
}

/// config.md sets the hostname "in the container UTS namespace", which may
/// be one joined by path (runtime-tools' linux_ns_path; runc accepts it).
#[test]
fn hostname_may_be_set_in_a_uts_namespace_joined_by_path() {
    let mut sb = Sandbox::new("ns_join_uts_hostname");
    let a = sb.other_id("a");
    let a_pid = start_alpha(&mut sb, &a);
    join_namespace(&mut sb, "uts", &format!("/proc/{a_pid}/ns/uts"));
    sb.bundle.hostname("beta").sh("hostname");
    let out = sb.run(&sb.other_id("b"), &[]);
    out.assert_ok();
    assert_eq!(out.stdout.trim_end(), "beta", "{out}");
}

/// Joining the runtime's own UTS namespace by path and setting a hostname
/// would rename the host: refused like a hostname without a uts entry.
#[test]
fn hostname_in_the_runtimes_own_uts_namespace_is_refused() {
    let mut sb = Sandbox::new("ns_join_host_uts");
    let ours = format!("/proc/{}/ns/uts", std::process::id());
    join_namespace(&mut sb, "uts", &ours);
    sb.bundle.hostname("renamed").args(&["true"]);
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &["hostname"]);
}

#[test]
fn joining_a_pid_namespace_by_path_sees_its_processes() {
    let mut sb = Sandbox::new("ns_join_pid");
    let a = sb.other_id("a");
    let a_pid = start_alpha(&mut sb, &a);

    join_namespace(&mut sb, "pid", &format!("/proc/{a_pid}/ns/pid"));
    // B's own /proc is mounted from inside A's pid namespace, so its pid 1
    // is A's init.
    sb.bundle
        .sh("echo $$; cat /proc/1/cmdline; echo; readlink /proc/self/ns/pid");
    let out = sb.run(&sb.other_id("b"), &[]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let own_pid: i32 = lines[0].parse().unwrap_or_else(|_| panic!("pid: {out}"));
    assert!(own_pid > 1, "B's process is pid {own_pid} in A's namespace");
    assert_eq!(
        lines[1], "sleep\u{0}1001\u{0}",
        "/proc/1 in B is not A's: {out}"
    );
    assert_eq!(lines[2], ns_link(a_pid, "pid"));
}

#[test]
fn a_namespace_path_that_does_not_exist_fails_create() {
    let mut sb = Sandbox::new("ns_join_missing");
    let missing = sb.dir.join("no-such-ns").to_str().unwrap().to_string();
    let index = join_namespace(&mut sb, "network", &missing);
    sb.bundle.args(&["true"]);
    let id = sb.id.clone();
    let entry = format!("linux.namespaces[{index}]");
    let out = sb.create_fails_with_config_error(&id, &entry, &[&missing]);
    if is_keel() {
        let want = format!(
            "config.json: {entry}: open {missing:?}: No such file or directory (os error 2)"
        );
        assert_eq!(out.stderr.trim_end(), want, "{out}");
    }
}

#[test]
fn a_namespace_path_of_another_kind_fails_create() {
    // setns checks the file against the entry's type: a network namespace
    // cannot serve as the UTS namespace.
    let mut sb = Sandbox::new("ns_join_wrong_kind");
    let net = format!("/proc/{}/ns/net", std::process::id());
    let index = join_namespace(&mut sb, "uts", &net);
    sb.bundle.remove("/hostname").args(&["true"]);
    let id = sb.id.clone();
    let entry = format!("linux.namespaces[{index}]");
    let out = sb.create_fails_with_config_error(&id, &entry, &[&net]);
    if is_keel() {
        let want =
            format!("config.json: {entry}: join uts namespace {net:?}: EINVAL: Invalid argument");
        assert_eq!(out.stderr.trim_end(), want, "{out}");
    }
}
