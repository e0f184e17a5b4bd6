//! `keel spec`: write a default config.json, as `runc spec` does.
//!
//! The document is runc's current default: its capability sets (bounding,
//! permitted, effective only: inheritable and ambient sets leak
//! capabilities into what the container execs, CVE-2022-29162), a deny-all
//! device rule, and a cgroup namespace only on a pure cgroup v2 host.

use serde_json::{json, Value};

pub fn run(args: &super::SpecArgs, rootless: bool) -> anyhow::Result<()> {
    let dir = match &args.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir()?,
    };
    let path = dir.join("config.json");
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let mut spec = default_spec(crate::cgroups::is_cgroup2_root());
    if rootless {
        make_rootless(
            &mut spec,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
    }
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

pub(crate) fn default_spec(cgroup_ns: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "network"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if cgroup_ns {
        namespaces.push(json!({"type": "cgroup"}));
    }
    json!({
        "ociVersion": crate::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "keel",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn default_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}

/// runc's rootless changes: a user namespace mapping the caller to root, no
/// network namespace, /sys bound from the host, no devpts gid, no cgroup
/// resources (an unprivileged user cannot write them).
fn make_rootless(spec: &mut Value, uid: u32, gid: u32) {
    let linux = &mut spec["linux"];
    let namespaces: Vec<Value> = linux["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["type"] != "network" && n["type"] != "user")
        .cloned()
        .chain([json!({"type": "user"})])
        .collect();
    linux["namespaces"] = Value::Array(namespaces);
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    for mount in spec["mounts"].as_array_mut().into_iter().flatten() {
        if mount["destination"] == "/sys" {
            *mount = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        } else if let Some(opts) = mount.get_mut("options").and_then(|o| o.as_array_mut()) {
            opts.retain(|o| o != "gid=5");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_a_valid_config() {
        let text = default_spec(false).to_string();
        let spec = crate::config::parse(&text).unwrap();
        assert!(crate::config::validate(&spec).is_empty());
        let mut rootless = default_spec(true);
        make_rootless(&mut rootless, 1000, 1000);
        crate::config::parse(&rootless.to_string()).unwrap();
        assert_eq!(rootless["linux"]["uidMappings"][0]["hostID"], 1000);
        assert!(rootless["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["type"] != "network"));
    }
}
