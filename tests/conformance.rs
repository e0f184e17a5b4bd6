//! Behaviour runtime-tools' validation programs check where keel once
//! differed from runtime-spec: capabilities a host cannot grant, and
//! filesystem data options on bind mounts.

mod common;

use common::Sandbox;
use serde_json::json;
use std::fs;

/// Every capability name of capabilities(7) up to Linux 5.9.
const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The hex value of `field` (CapBnd, ...) in a /proc/PID/status text.
fn cap_field(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    u64::from_str_radix(line.trim(), 16).expect("hex capability mask")
}

/// config.md (1.1.0 on): a capability that cannot be granted is a warning,
/// and the runtime SHOULD NOT fail. A container asking for every capability
/// in every set (runtime-tools' process_capabilities) gets all the host
/// allows: the runtime's own bounding set, whatever this host withholds.
#[test]
fn capabilities_the_host_cannot_grant_are_left_out_not_fatal() {
    let mut sb = Sandbox::new("conf_caps_all");
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        sb.bundle.set(
            &format!("/process/capabilities/{set}"),
            json!(ALL_CAPS.to_vec()),
        );
    }
    sb.bundle.sh("grep ^Cap /proc/self/status");
    let out = sb.run(&sb.id.clone(), &[]);
    out.assert_ok();
    let host = fs::read_to_string("/proc/self/status").unwrap();
    let bounding = cap_field(&host, "CapBnd");
    for field in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(
            cap_field(&out.stdout, field),
            bounding,
            "{field} should be the host's bounding set: {out}"
        );
    }
}

/// `mode=` and `size=` are tmpfs data; mount(2) ignores data for MS_BIND and
/// runc passes them along, so a bind with them works (runtime-tools' mounts).
#[test]
fn filesystem_data_options_on_a_bind_mount_are_ignored() {
    let mut sb = Sandbox::new("conf_bind_data");
    let source = sb.shared.join("bound");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("file"), "here\n").unwrap();
    sb.bundle
        .bind(&source, "/mnt/bound", &["nosuid", "mode=755", "size=1k"])
        .sh("cat /mnt/bound/file");
    let out = sb.run(&sb.id.clone(), &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "here\n", "{out}");
}
