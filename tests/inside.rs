//! What the configured process sees from inside its container: namespaces,
//! mounts, credentials, limits and the other process settings of config.json.
//! Each test runs a foreground `run` and reads what the container printed.

mod common;

use common::Sandbox;
use serde_json::json;
use std::fs;

/// Run the sandbox's container to its end and return its stdout.
fn run_ok(sb: &mut Sandbox) -> String {
    let id = sb.id.clone();
    let out = sb.run(&id, &[]);
    out.assert_ok();
    out.stdout
}

/// Run `script` in a fresh sandbox whose config `configure` adjusted.
fn inside(test: &str, script: &str, configure: impl FnOnce(&mut Sandbox)) -> String {
    let mut sb = Sandbox::new(test);
    sb.bundle.sh(script);
    configure(&mut sb);
    run_ok(&mut sb)
}

/// The value of `key:` in /proc/self/status-style output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}:");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    line.unwrap_or_else(|| panic!("no {key}: line in\n{text}"))[prefix.len()..].trim()
}

#[test]
fn process_is_pid_1_of_its_own_namespace() {
    assert_eq!(inside("pid_1", "echo $$", |_| {}), "1\n");
}

#[test]
fn each_new_namespace_is_the_containers_own() {
    // Whether a namespace comes from the clone or, like the network one,
    // is made apart and joined by the init, the process must end up in a
    // new one: not the host's, and a network namespace with nothing but
    // loopback.
    let kinds = ["net", "ipc", "uts", "mnt", "pid"];
    let script = format!(
        "for ns in {}; do readlink /proc/self/ns/$ns; done; cut -d: -f1 /proc/net/dev | tail -n +3",
        kinds.join(" ")
    );
    let out = inside("own_namespaces", &script, |_| {});
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), kinds.len() + 1, "{out}");
    for (kind, link) in kinds.iter().zip(&lines) {
        let host = fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        assert_ne!(*link, host.to_string_lossy(), "{kind} is the host's");
    }
    assert_eq!(lines[kinds.len()].trim(), "lo", "{out}");
}

#[test]
fn hostname_comes_from_the_config() {
    let out = inside("hostname", "hostname", |sb| {
        sb.bundle.hostname("keel-box");
    });
    assert_eq!(out, "keel-box\n");
}

#[test]
fn domainname_comes_from_the_config() {
    // keel-specific: runc 1.1 predates `domainname` (runtime-spec 1.1) and
    // ignores it; the container then shows "(none)".
    keel_only!();
    let out = inside("domainname", "cat /proc/sys/kernel/domainname", |sb| {
        sb.bundle.set("/domainname", json!("keel.test"));
    });
    assert_eq!(out, "keel.test\n");
}

#[test]
fn environment_is_the_configured_one() {
    let out = inside("environment", "env", |sb| {
        sb.bundle.set(
            "/process/env",
            json!(["PATH=/bin:/usr/bin", "GREETING=hello world", "EMPTY="]),
        );
    });
    for var in ["PATH=/bin:/usr/bin", "GREETING=hello world", "EMPTY="] {
        assert!(
            out.lines().any(|l| l == var),
            "{var} missing from env:\n{out}"
        );
    }
    // The host's environment must not leak in.
    assert!(!out.contains("CARGO"), "host environment leaked:\n{out}");
}

#[test]
fn working_directory_is_the_configured_cwd() {
    let out = inside("cwd", "pwd", |sb| {
        sb.bundle.set("/process/cwd", json!("/usr/bin"));
    });
    assert_eq!(out, "/usr/bin\n");
}

#[test]
fn user_groups_and_umask_come_from_process_user() {
    let script = "grep -E '^(Uid|Gid|Groups):' /proc/self/status; umask";
    let out = inside("user", script, |sb| {
        let user = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 100], "umask": 0o027});
        sb.bundle.set("/process/user", user);
    });
    assert_eq!(field(&out, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(field(&out, "Gid"), "1000\t1000\t1000\t1000");
    assert_eq!(field(&out, "Groups"), "10 100");
    assert_eq!(out.lines().last(), Some("0027"));
}

#[test]
fn home_comes_from_the_passwd_entry_even_past_a_line_that_is_not_utf8() {
    let out = inside("home", "echo $HOME", |sb| {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\n\
                       odd\xff:x:5:5:\xe9t\xe9:/h\xff:/bin/sh\n\
                       user:x:1000:1000:user:/home/user:/bin/sh\n";
        fs::write(sb.bundle.rootfs().join("etc/passwd"), passwd).unwrap();
        // The template's environment has no HOME.
        sb.bundle
            .set("/process/user", json!({"uid": 1000, "gid": 1000}));
    });
    assert_eq!(out, "/home/user\n");
}

#[test]
fn signals_the_caller_ignored_are_default_again_and_none_is_blocked() {
    let mut sb = Sandbox::new("inside_signals");
    sb.bundle.args(&["grep", "^Sig[IB]", "/proc/self/status"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    // The caller ignores SIGHUP and SIGINT (as nohup and a shell's
    // background job do), keel itself SIGPIPE: exec would keep all three.
    let script = "trap '' HUP INT; exec \"$@\"";
    let out = sb
        .rt
        .command_via_sh(script, &["run", "--bundle", &bundle, &id])
        .spawn()
        .wait();
    out.assert_ok();
    assert_eq!(field(&out.stdout, "SigIgn"), "0000000000000000");
    assert_eq!(field(&out.stdout, "SigBlk"), "0000000000000000");
}

#[test]
fn no_new_privileges_is_set() {
    let out = inside("nnp", "grep NoNewPrivs /proc/self/status", |sb| {
        sb.bundle.set("/process/noNewPrivileges", json!(true));
    });
    assert_eq!(field(&out, "NoNewPrivs"), "1");
}

#[test]
fn oom_score_adj_is_applied() {
    // Only raising works on the test machine: lowering needs CAP_SYS_RESOURCE.
    let out = inside("oom_score_adj", "cat /proc/self/oom_score_adj", |sb| {
        sb.bundle.set("/process/oomScoreAdj", json!(500));
    });
    assert_eq!(out, "500\n");
}

#[test]
fn rlimits_are_applied() {
    let out = inside("rlimits", "cat /proc/self/limits", |sb| {
        let limits = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 2048, "hard": 4096},
        ]);
        sb.bundle.set("/process/rlimits", limits);
    });
    let limit = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}:\n{out}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["1024", "1024"]);
    assert_eq!(limit("Max core file size"), ["2048", "4096"]);
}

#[test]
fn sysctls_are_set_in_the_container_namespaces() {
    // ip_forward lives in the network namespace, shm_rmid_forced in the IPC
    // one: setting them cannot touch the host.
    let script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced";
    let out = inside("sysctl", script, |sb| {
        let sysctl = json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"});
        sb.bundle.set("/linux/sysctl", sysctl);
    });
    assert_eq!(out, "1\n1\n");
}

#[test]
fn bind_mount_shows_the_host_directory() {
    let mut sb = Sandbox::new("bind_ro");
    let data = sb.dir.join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("note.txt"), "from the host\n").unwrap();
    sb.bundle.bind(&data, "/data", &["ro"]);
    sb.bundle
        .sh("cat /data/note.txt; touch /data/new 2>/dev/null && echo writable || echo read-only");
    assert_eq!(run_ok(&mut sb), "from the host\nread-only\n");
    assert!(!data.join("new").exists());
}

#[test]
fn shared_directory_is_writable_from_inside() {
    let mut sb = Sandbox::new("bind_rw");
    sb.bundle.sh("echo written inside > /shared/out.txt");
    run_ok(&mut sb);
    assert_eq!(
        fs::read_to_string(sb.shared.join("out.txt")).unwrap(),
        "written inside\n"
    );
}

#[test]
fn dev_null_is_the_null_device() {
    // busybox stat prints major and minor in hex.
    let out = inside("dev_null", "stat -c '%F %t,%T' /dev/null", |_| {});
    assert_eq!(out, "character special file 1,3\n");
}

#[test]
fn configured_device_is_created_with_its_mode_and_owner() {
    let out = inside("devices", "stat -c '%A %u %g %t,%T' /dev/keel-zero", |sb| {
        let dev = json!({"path": "/dev/keel-zero", "type": "c", "major": 1, "minor": 5,
                         "fileMode": 0o640, "uid": 1000, "gid": 100});
        sb.bundle.push("/linux/devices", dev);
    });
    assert_eq!(out, "crw-r----- 1000 100 1,5\n");
}

/// The mountinfo line whose mount point is `point`, split into fields.
fn mount_at<'a>(mountinfo: &'a str, point: &str) -> Vec<&'a str> {
    let line = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point));
    line.unwrap_or_else(|| panic!("no mount at {point} in\n{mountinfo}"))
        .split(' ')
        .collect()
}

/// Whether the per-mount options (field 6) of a mountinfo line include `ro`.
fn is_read_only(fields: &[&str]) -> bool {
    fields[5].split(',').any(|o| o == "ro")
}

#[test]
fn masked_and_read_only_paths_and_read_only_root() {
    let script = "cat /proc/self/mountinfo; echo ---; stat -c '%F %t,%T' /proc/keys; \
                  ls -A /proc/acpi | wc -l; touch /new 2>/dev/null && echo root-rw || echo root-ro";
    let out = inside("masked_paths", script, |sb| {
        // A path that does not exist must be skipped, not fail the container.
        sb.bundle.set(
            "/linux/maskedPaths",
            json!(["/proc/keys", "/proc/acpi", "/proc/no-such-path"]),
        );
        sb.bundle
            .set("/linux/readonlyPaths", json!(["/proc/sys", "/proc/bus"]));
        sb.bundle.set("/root/readonly", json!(true));
    });
    let (mountinfo, probes) = out.split_once("---\n").expect("separator");
    // A masked file is covered by the null device, a masked directory by an
    // empty read-only tmpfs.
    mount_at(mountinfo, "/proc/keys");
    assert_eq!(
        probes.lines().next(),
        Some("character special file 1,3"),
        "{probes}"
    );
    let acpi = mount_at(mountinfo, "/proc/acpi");
    assert!(is_read_only(&acpi), "/proc/acpi mask is writable: {acpi:?}");
    assert_eq!(
        probes.lines().nth(1).map(str::trim),
        Some("0"),
        "/proc/acpi not empty"
    );
    for path in ["/proc/sys", "/proc/bus", "/"] {
        let m = mount_at(mountinfo, path);
        assert!(is_read_only(&m), "{path} is not mounted read-only: {m:?}");
    }
    assert_eq!(probes.lines().nth(2), Some("root-ro"));
}

/// Capability numbers of the names the capability tests use.
fn cap_bits(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| match *n {
            "CAP_CHOWN" => 0,
            "CAP_FOWNER" => 3,
            "CAP_KILL" => 5,
            "CAP_NET_BIND_SERVICE" => 10,
            "CAP_SYS_CHROOT" => 18,
            "CAP_AUDIT_WRITE" => 29,
            other => panic!("add {other} to cap_bits"),
        })
        .fold(0, |mask, bit| mask | 1 << bit)
}

/// The five capability sets of the container process, as /proc prints them.
fn cap_sets(test: &str, user: serde_json::Value, caps: serde_json::Value) -> Vec<(String, u64)> {
    let out = inside(test, "grep ^Cap /proc/self/status", |sb| {
        sb.bundle
            .set("/process/user", user)
            .set("/process/capabilities", caps);
    });
    out.lines()
        .map(|l| {
            let (key, hex) = l.split_once(":\t").expect("Cap line");
            (
                key.to_string(),
                u64::from_str_radix(hex.trim(), 16).expect("hex mask"),
            )
        })
        .collect()
}

#[test]
fn capabilities_of_an_unprivileged_process() {
    // After execve a non-root process without file capabilities keeps only
    // its ambient set as permitted and effective; inheritable and bounding
    // stay as configured.
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_AUDIT_WRITE",
    ];
    let held = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let inheritable = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"];
    let ambient = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let caps = json!({"bounding": bounding, "effective": held, "permitted": held,
                      "inheritable": inheritable, "ambient": ambient});
    let sets = cap_sets("caps_user", json!({"uid": 1000, "gid": 1000}), caps);
    let expected = [
        ("CapInh", cap_bits(&inheritable)),
        ("CapPrm", cap_bits(&ambient)),
        ("CapEff", cap_bits(&ambient)),
        ("CapBnd", cap_bits(&bounding)),
        ("CapAmb", cap_bits(&ambient)),
    ];
    assert_eq!(sets, expected.map(|(k, v)| (k.to_string(), v)).to_vec());
}

#[test]
fn capabilities_of_root() {
    // Root gains its bounding set on execve, so a config that gives the same
    // list for bounding, effective and permitted is what root ends up with.
    let held = ["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_AUDIT_WRITE"];
    let caps = json!({"bounding": held, "effective": held, "permitted": held});
    let sets = cap_sets("caps_root", json!({"uid": 0, "gid": 0}), caps);
    let expected = [
        ("CapInh", 0),
        ("CapPrm", cap_bits(&held)),
        ("CapEff", cap_bits(&held)),
        ("CapBnd", cap_bits(&held)),
        ("CapAmb", 0),
    ];
    assert_eq!(sets, expected.map(|(k, v)| (k.to_string(), v)).to_vec());
}
