//! `features`: every claim is checked against behaviour. Each claimed mount
//! option, namespace, seccomp action, operator, architecture and flag and
//! memory policy mode is used in a container that must run; each feature
//! claimed absent is refused by `create`. A claimed LSM (which says keel
//! implements it, whatever the host has) is applied where the host has it
//! and refused, saying so, where it has not.

mod common;

use common::Sandbox;
use serde_json::{json, Value};
use std::fs;

fn features() -> Value {
    let sb = Sandbox::new("features_doc");
    let out = sb.rt.ok(&["features"]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("features JSON: {e}: {out}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn run_ok(sb: &mut Sandbox) -> String {
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    out.stdout
}

/// Create must fail on a problem at or below config.json's `field` (the
/// JSON path features checks for) and leave nothing.
fn create_fails(sb: &mut Sandbox, field: &str) {
    let id = sb.id.clone();
    sb.create_fails_cleanly(&id, &[&format!("config.json: {field}")]);
}

#[test]
fn document_has_the_required_fields() {
    keel_only!();
    let f = features();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["ociVersionMax"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    assert_eq!(
        strings(&f["hooks"]),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
}

/// The mountinfo line whose mount point is `point`.
fn mount_line<'a>(mountinfo: &'a str, point: &str) -> &'a str {
    mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("no mount at {point} in\n{mountinfo}"))
}

/// The per-mount flags mountinfo shows (field 6).
fn mount_flags<'a>(mountinfo: &'a str, point: &str) -> Vec<&'a str> {
    mount_line(mountinfo, point)
        .split(' ')
        .nth(5)
        .unwrap()
        .split(',')
        .collect()
}

/// Per-mount flags an option shows in mountinfo, where it shows one.
fn visible_flag(option: &str) -> Option<&'static str> {
    Some(match option.trim_start_matches('r') {
        "o" => "ro",
        "nosuid" => "nosuid",
        "nodev" => "nodev",
        "noexec" => "noexec",
        "noatime" => "noatime",
        "nodiratime" => "nodiratime",
        "elatime" => "relatime",
        "nosymfollow" => "nosymfollow",
        "idmap" => "idmapped",
        _ => return None,
    })
}

#[test]
fn every_claimed_mount_option_is_applied() {
    keel_only!();
    let options = strings(&features()["mountOptions"]);
    let mut sb = Sandbox::new("features_mount_opts");
    let rootfs = sb.bundle.rootfs();
    // tmpcopyup needs something to copy.
    fs::create_dir_all(rootfs.join("copyme")).unwrap();
    fs::write(rootfs.join("copyme/file"), "copied\n").unwrap();
    let src = sb.dir.join("bindsrc");
    fs::create_dir(&src).unwrap();
    for (i, opt) in options.iter().enumerate() {
        let dest = format!("/opt{i}");
        let mount = match opt.as_str() {
            // Options that only make sense on a bind.
            "bind" | "rbind" | "remount" => json!({"destination": dest, "type": "bind",
                "source": src, "options": ["rbind", opt]}),
            // An idmapped bind, with mappings of its own (tests/idmap.rs
            // checks the owners it shows).
            "idmap" | "ridmap" => json!({"destination": dest, "type": "bind",
                "source": src, "options": ["rbind", opt],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
            "tmpcopyup" => json!({"destination": "/copyme", "type": "tmpfs",
                "source": "tmpfs", "options": [opt]}),
            _ => json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                "options": [opt]}),
        };
        if opt != "tmpcopyup" {
            fs::create_dir_all(rootfs.join(dest.trim_start_matches('/'))).unwrap();
        }
        sb.bundle.push("/mounts", mount);
    }
    sb.bundle
        .sh("cat /proc/self/mountinfo; echo ---; cat /copyme/file");
    let out = run_ok(&mut sb);
    let (mountinfo, copied) = out.split_once("---\n").expect("separator");
    assert_eq!(copied, "copied\n", "tmpcopyup did not copy");
    assert!(
        mount_line(mountinfo, "/copyme").contains(" - tmpfs "),
        "no tmpfs on /copyme"
    );
    for (i, opt) in options.iter().enumerate() {
        let Some(flag) = visible_flag(opt) else {
            continue;
        };
        let flags = mount_flags(mountinfo, &format!("/opt{i}"));
        assert!(flags.contains(&flag), "option {opt}: mount flags {flags:?}");
    }
}

#[test]
fn an_unclaimed_mount_option_is_refused() {
    keel_only!();
    let options = strings(&features()["mountOptions"]);
    for opt in ["idmap", "ridmap", "rnostrictatime-bogus"] {
        if options.iter().any(|o| o == opt) {
            continue;
        }
        let mut sb = Sandbox::new("features_unclaimed_opt");
        let src = sb.dir.join("src");
        fs::create_dir(&src).unwrap();
        let index = sb.bundle.config["mounts"].as_array().unwrap().len();
        sb.bundle.bind(&src, "/x", &[opt]);
        let id = sb.id.clone();
        // bind() puts "rbind" first.
        let path = format!("mounts[{index}].options[1]");
        sb.create_fails_with_config_error(&id, &path, &[opt]);
    }
}

#[test]
fn claimed_namespaces_work_and_unclaimed_ones_are_refused() {
    keel_only!();
    let claimed = strings(&features()["linux"]["namespaces"]);
    let proc_name = |ns: &str| {
        match ns {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        }
        .to_string()
    };
    let mut sb = Sandbox::new("features_ns");
    let list: Vec<Value> = claimed.iter().map(|n| json!({"type": n})).collect();
    sb.bundle.set("/linux/namespaces", json!(list));
    if claimed.iter().any(|n| n == "user") {
        // A new user namespace needs mappings; map root to root so the
        // rootfs and everything else stay as they are.
        let map = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        sb.bundle
            .set("/linux/uidMappings", map.clone())
            .set("/linux/gidMappings", map);
    }
    let script: Vec<String> = claimed
        .iter()
        .map(|n| format!("readlink /proc/self/ns/{}", proc_name(n)))
        .collect();
    sb.bundle.sh(&script.join("; "));
    let out = run_ok(&mut sb);
    for (ns, inside) in claimed.iter().zip(out.lines()) {
        let host = fs::read_link(format!("/proc/self/ns/{}", proc_name(ns))).unwrap();
        assert_ne!(
            inside,
            host.to_str().unwrap(),
            "{ns} namespace is the host's"
        );
    }
    for ns in [
        "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
    ] {
        if claimed.iter().any(|c| c == ns) {
            continue;
        }
        let mut sb = Sandbox::new("features_ns_refused");
        sb.bundle.push("/linux/namespaces", json!({"type": ns}));
        // features promises only a problem under linux.namespaces.
        create_fails(&mut sb, "linux.namespaces");
    }
}

#[test]
fn claimed_seccomp_names_load_in_a_container() {
    keel_only!();
    let seccomp = features()["linux"]["seccomp"].clone();
    // One profile: each action on its own harmless call (NOTIFY needs an
    // agent, so it is only compiled, by `features` itself), each operator
    // in an argument test, every architecture, every supported flag.
    let calls = ["swapon", "swapoff", "vhangup", "pivot_root"];
    let mut syscalls = Vec::new();
    let actions: Vec<String> = strings(&seccomp["actions"])
        .into_iter()
        .filter(|a| {
            a.contains("ERRNO") || a.contains("LOG") || a.contains("ALLOW") || a.contains("TRACE")
        })
        .collect();
    for (action, call) in actions.iter().zip(calls) {
        syscalls.push(json!({"names": [call], "action": action}));
    }
    for op in strings(&seccomp["operators"]) {
        let arg = json!({"index": 5, "value": 1u64 << 40, "valueTwo": 1u64 << 40, "op": op});
        syscalls.push(json!({"names": ["acct"], "action": "SCMP_ACT_ERRNO", "args": [arg]}));
    }
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": seccomp["archs"], "flags": seccomp["supportedFlags"],
        "syscalls": syscalls});
    let mut sb = Sandbox::new("features_seccomp");
    sb.bundle
        .set("/linux/seccomp", profile)
        .sh("grep Seccomp: /proc/self/status");
    assert_eq!(run_ok(&mut sb).split_whitespace().last(), Some("2"));
}

#[test]
fn features_claimed_absent_are_refused() {
    keel_only!();
    let f = features();
    let linux = &f["linux"];
    let mut probes: Vec<(&str, Value)> = Vec::new();
    if linux["intelRdt"]["enabled"] == false {
        probes.push(("/linux/intelRdt", json!({"closID": "keel-test"})));
    }
    if linux["cgroup"]["rdma"] == false {
        probes.push((
            "/linux/resources/rdma",
            json!({"mlx5_0": {"hcaHandles": 1}}),
        ));
    }
    if linux["netDevices"]["enabled"] == false {
        probes.push(("/linux/netDevices", json!({"keel-none0": {}})));
    }
    for (pointer, value) in probes {
        let mut sb = Sandbox::new("features_absent");
        sb.bundle.set(pointer, value);
        // features promises only a problem at or below the field.
        create_fails(&mut sb, &pointer.trim_start_matches('/').replace('/', "."));
    }
    if linux["cgroup"]["systemd"] == false {
        let mut sb = Sandbox::new("features_systemd");
        let id = sb.id.clone();
        sb.prepare(&id);
        let bundle = sb.bundle.dir.to_str().unwrap().to_string();
        let out = sb
            .rt
            .run(&["--systemd-cgroup", "create", "--bundle", &bundle, &id]);
        sb.assert_failed_cleanly(&id, &out, &[]);
    }
}

/// AppArmor's "unconfined" needs no policy loaded; under SELinux, keel's
/// own label is one a process may keep. Each must show as the container
/// process's /proc/self/attr/current.
#[test]
fn claimed_lsms_are_applied_or_refused_for_the_host() {
    keel_only!();
    let linux = features()["linux"].clone();
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let own_label = || {
        let raw = fs::read_to_string("/proc/self/attr/current").unwrap();
        raw.trim_end_matches(['\0', '\n']).to_string()
    };
    let cases = [
        ("apparmor", "apparmorProfile", "AppArmor", apparmor),
        ("selinux", "selinuxLabel", "SELinux", selinux),
    ];
    for (claim, field, lsm, on_host) in cases {
        if linux[claim]["enabled"] != true {
            continue;
        }
        let label = match claim {
            "apparmor" => "unconfined".to_string(),
            _ if on_host => own_label(),
            _ => "system_u:system_r:container_t:s0".to_string(),
        };
        let mut sb = Sandbox::new("features_lsm");
        sb.bundle
            .set(&format!("/process/{field}"), json!(label))
            .args(&["cat", "/proc/self/attr/current"]);
        if on_host {
            let shown = run_ok(&mut sb);
            assert_eq!(shown.trim_end_matches(['\0', '\n']), label, "{claim}");
        } else {
            let id = sb.id.clone();
            let why = format!("this host has no {lsm}");
            sb.create_fails_with_config_error(&id, &format!("process.{field}"), &[&why]);
        }
    }
}

#[test]
fn every_claimed_memory_policy_mode_is_applied() {
    keel_only!();
    let policy = features()["linux"]["memoryPolicy"].clone();
    for mode in strings(&policy["modes"]) {
        let nodes = match mode.as_str() {
            "MPOL_DEFAULT" | "MPOL_LOCAL" => None,
            _ => Some("0"),
        };
        let mut doc = json!({"mode": mode});
        if let Some(n) = nodes {
            doc["nodes"] = json!(n);
        }
        let mut sb = Sandbox::new("features_mempolicy");
        sb.bundle
            .args(&["head", "-n1", "/proc/self/numa_maps"])
            .set("/linux/memoryPolicy", doc);
        let line = run_ok(&mut sb);
        // mpol_to_str's names, as numa_maps prints them after the address.
        let shown = match mode.as_str() {
            "MPOL_DEFAULT" => " default ",
            "MPOL_PREFERRED" => " prefer:0 ",
            "MPOL_BIND" => " bind:0 ",
            "MPOL_INTERLEAVE" => " interleave:0 ",
            "MPOL_LOCAL" => " local ",
            "MPOL_PREFERRED_MANY" => " prefer (many):0 ",
            "MPOL_WEIGHTED_INTERLEAVE" => " weighted interleave:0 ",
            other => panic!("add {other} to this test"),
        };
        assert!(line.contains(shown), "{mode}: {line}");
    }
}
