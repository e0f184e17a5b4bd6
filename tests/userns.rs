//! User namespaces: id maps written for the init, what the container sees
//! inside and what its files and processes are outside, bad mappings, and
//! joining another container's user namespace by path.

mod common;

use common::userns::{map_user, HOST, SIZE};
use common::{assert_config_error, Sandbox};
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;

/// The `Uid:` line of /proc/PID/status: real, effective, saved, fs.
fn status_ids(pid: i32, key: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn maps_are_written_and_the_process_is_root_inside() {
    let mut sb = Sandbox::new("userns_maps");
    map_user(&mut sb);
    sb.bundle
        .sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let want = ["0", "100000", "65536", "0", "100000", "65536", "0", "0"];
    assert_eq!(words, want, "{out}");
}

#[test]
fn the_container_process_is_the_mapped_host_user_outside() {
    let mut sb = Sandbox::new("userns_outside");
    map_user(&mut sb);
    let mut events = sb.fifo("events");
    sb.bundle
        .sh("id -u > /shared/events; exec sleep 1000")
        .set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let id = sb.id.clone();
    sb.create(&id);
    let pid = sb.init_pid(&id);
    sb.rt.ok(&["start", &id]);
    assert_eq!(events.read_line("id -u"), "1000");
    assert_eq!(status_ids(pid, "Uid:"), [HOST + 1000; 4]);
    assert_eq!(status_ids(pid, "Gid:"), [HOST + 1000; 4]);
}

#[test]
fn files_are_owned_by_mapped_ids_both_ways() {
    let mut sb = Sandbox::new("userns_files");
    map_user(&mut sb);
    let mapped = sb.shared.join("mapped");
    fs::write(&mapped, "x").unwrap();
    std::os::unix::fs::chown(&mapped, Some(HOST + 42), Some(HOST + 43)).unwrap();
    fs::write(sb.shared.join("unmapped"), "x").unwrap();
    sb.bundle.sh("touch /shared/made && mkdir /shared/dir && \
         stat -c '%u %g' /shared/mapped /shared/unmapped");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Host root is not mapped: the kernel shows it as the overflow id.
    assert_eq!(lines, ["42 43", "65534 65534"], "{out}");
    for name in ["made", "dir"] {
        let meta = fs::metadata(sb.shared.join(name)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (HOST, HOST), "{name}");
    }
}

#[test]
fn devices_and_the_terminal_belong_to_the_mapped_root() {
    let mut sb = Sandbox::new("userns_dev");
    map_user(&mut sb);
    sb.bundle
        .sh("echo hi > /dev/null && head -c 4 /dev/zero | wc -c && stat -c %u /dev/pts");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["4", "0"]
    );
}

#[test]
fn bad_mappings_are_refused_with_their_json_path() {
    let cases = [
        (
            json!([{"containerID": 0, "hostID": HOST, "size": 10},
                   {"containerID": 5, "hostID": HOST + 100, "size": 10}]),
            "linux.uidMappings[1]",
            "overlap",
        ),
        (
            json!([{"containerID": 0, "hostID": HOST, "size": 0}]),
            "linux.uidMappings[0]",
            "size",
        ),
        (
            json!([{"containerID": 0, "hostID": u32::MAX, "size": 10}]),
            "linux.uidMappings[0]",
            "2^32",
        ),
    ];
    for (i, (map, path, what)) in cases.into_iter().enumerate() {
        let mut sb = Sandbox::new("userns_bad");
        map_user(&mut sb);
        sb.bundle.set("/linux/uidMappings", map);
        let id = format!("{}-{i}", sb.id);
        sb.create_fails_with_config_error(&id, path, &[what]);
    }
}

#[test]
fn a_user_namespace_needs_mappings_and_mappings_need_one() {
    keel_only!();
    let mut sb = Sandbox::new("userns_missing");
    sb.bundle.push("/linux/namespaces", json!({"type": "user"}));
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, "linux.uidMappings", &[]);
    sb.bundle.remove_namespace("user");
    let map = json!([{"containerID": 0, "hostID": HOST, "size": 1}]);
    sb.bundle.set("/linux/uidMappings", map.clone());
    sb.bundle.set("/linux/gidMappings", map);
    sb.create_fails_with_config_error(&id, "linux.uidMappings", &["need a user namespace"]);
}

#[test]
fn joining_a_user_namespace_by_path() {
    let mut sb = Sandbox::new("userns_join");
    map_user(&mut sb);
    let mut events = sb.fifo("events");
    sb.bundle.sh("echo up > /shared/events; exec sleep 1000");
    let a = sb.other_id("a");
    sb.create_and_start(&a);
    assert_eq!(events.read_line("container A"), "up");
    let a_pid = sb.init_pid(&a);
    // B joins A's user and network namespaces and makes the rest anew:
    // they are owned by A's user namespace, so B's root may mount in them.
    let user = sb.bundle.namespace_index("user");
    let ns =
        |kind: &str, file: &str| json!({"type": kind, "path": format!("/proc/{a_pid}/ns/{file}")});
    sb.bundle
        .set(&format!("/linux/namespaces/{user}"), ns("user", "user"));
    let net = sb.bundle.namespace_index("network");
    sb.bundle
        .set(&format!("/linux/namespaces/{net}"), ns("network", "net"));
    sb.bundle.sh(
        "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/net",
    );
    let out = sb.run(&sb.other_id("b"), &[]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let link = |f: &str| fs::read_link(format!("/proc/{a_pid}/ns/{f}")).unwrap();
    let (user_link, net_link) = (link("user"), link("net"));
    let want = [
        "0",
        "100000",
        "65536",
        "0",
        user_link.to_str().unwrap(),
        net_link.to_str().unwrap(),
    ];
    assert_eq!(words, want, "{out}");
}

/// Container A's map, in two ranges, and the same in the other order.
fn two_ranges() -> (serde_json::Value, serde_json::Value) {
    let low = json!({"containerID": 0, "hostID": HOST, "size": 1000});
    let high = json!({"containerID": 1000, "hostID": HOST + 1000, "size": SIZE - 1000});
    (json!([low, high]), json!([high, low]))
}

/// Create container A in a new user namespace mapped in two ranges, then
/// point the bundle's user namespace at A's: what B joins.
fn join_user_namespace_of_a(sb: &mut Sandbox) {
    map_user(sb);
    let (map, _) = two_ranges();
    sb.bundle.set("/linux/uidMappings", map.clone());
    sb.bundle.set("/linux/gidMappings", map);
    let a = sb.other_id("a");
    sb.create(&a);
    let path = format!("/proc/{}/ns/user", sb.init_pid(&a));
    let user = sb.bundle.namespace_index("user");
    sb.bundle.set(
        &format!("/linux/namespaces/{user}"),
        json!({"type": "user", "path": path}),
    );
}

#[test]
fn mappings_equal_to_a_joined_user_namespaces_are_accepted_in_any_order() {
    // keel-specific: runc 1.2 compares the lists in order.
    keel_only!();
    let mut sb = Sandbox::new("userns_join_match");
    join_user_namespace_of_a(&mut sb);
    let (_, reversed) = two_ranges();
    sb.bundle
        .set("/linux/uidMappings", reversed)
        .sh("cat /proc/self/uid_map; id -u");
    let out = sb.run(&sb.other_id("b"), &[]);
    out.assert_ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let want = ["0", "100000", "1000", "1000", "101000", "64536", "0"];
    assert_eq!(words, want, "{out}");
}

#[test]
fn mappings_unlike_a_joined_user_namespaces_are_refused() {
    let mut sb = Sandbox::new("userns_join_mismatch");
    join_user_namespace_of_a(&mut sb);
    let other = json!([{"containerID": 0, "hostID": 2 * HOST, "size": SIZE}]);
    for (i, field) in ["uidMappings", "gidMappings"].into_iter().enumerate() {
        let (map, _) = two_ranges();
        sb.bundle.set("/linux/uidMappings", map.clone());
        sb.bundle.set("/linux/gidMappings", map);
        sb.bundle.set(&format!("/linux/{field}"), other.clone());
        let b = sb.other_id(&format!("b{i}"));
        let out = sb.try_create(&b, &[]);
        out.assert_failed();
        let real = "which maps 0 100000 1000, 1000 101000 64536";
        assert_config_error(&out, None, &format!("linux.{field}"), &[real]);
        assert!(!sb.state_dir(&b).exists(), "state of {b} left behind");
        sb.assert_no_cgroup(&b);
    }
    // A's init lives in this sandbox: only without it does the scan for
    // processes and mounts left by B's creates tell anything.
    let a = sb.other_id("a");
    assert_eq!(sb.rt.status(&a), "created");
    sb.rt.ok(&["delete", "--force", &a]);
    sb.wait_exit(&a);
    sb.assert_no_process_or_mount();
}

#[test]
fn exec_joins_the_user_namespace() {
    let mut sb = Sandbox::new("userns_exec");
    map_user(&mut sb);
    let mut events = sb.fifo("events");
    sb.bundle.sh("echo up > /shared/events; exec sleep 1000");
    let id = sb.id.clone();
    sb.create_and_start(&id);
    assert_eq!(events.read_line("container"), "up");
    let out = sb
        .rt
        .ok(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "100000", "65536"], "{out}");
}

#[test]
fn a_time_namespace_shifts_boottime_and_monotonic_clocks() {
    let mut sb = Sandbox::new("timens");
    sb.bundle.push("/linux/namespaces", json!({"type": "time"}));
    let day = 86_400;
    sb.bundle.set(
        "/linux/timeOffsets",
        json!({"boottime": {"secs": day}, "monotonic": {"secs": 2 * day}}),
    );
    sb.bundle
        .sh("cut -d' ' -f1 /proc/uptime; cat /proc/self/timens_offsets");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    let uptime: f64 = lines.next().unwrap().parse().unwrap();
    let host: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime >= day as f64 && uptime < host + day as f64 + 1.0,
        "{out}"
    );
    let offsets: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert!(offsets.contains(&vec!["monotonic", "172800", "0"]), "{out}");
    assert!(offsets.contains(&vec!["boottime", "86400", "0"]), "{out}");
}

#[test]
fn a_time_namespace_in_a_new_user_namespace_gets_its_offsets() {
    // The init writes the offsets as the new user namespace's root, through
    // a procfs it makes (or the verified host /proc where it may not).
    let mut sb = Sandbox::new("timens_userns");
    map_user(&mut sb);
    sb.bundle.push("/linux/namespaces", json!({"type": "time"}));
    sb.bundle
        .set(
            "/linux/timeOffsets",
            json!({"monotonic": {"secs": 7, "nanosecs": 9}}),
        )
        .sh("cat /proc/self/timens_offsets");
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    let offsets: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(offsets.contains(&vec!["monotonic", "7", "9"]), "{out}");
}

#[test]
fn time_offsets_without_a_time_namespace_are_refused() {
    let mut sb = Sandbox::new("timens_bad");
    sb.bundle
        .set("/linux/timeOffsets", json!({"boottime": {"secs": 5}}));
    let id = sb.id.clone();
    sb.create_fails_with_config_error(&id, "linux.timeOffsets", &["time namespace"]);
}
