//! Device cgroup rules, shared by v1's devices.allow/deny and (later) the
//! v2 eBPF program: their text form, their checks, and the devices every
//! container may use (runc's list, so that keel and runc agree on what a
//! container can open).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

/// `linux.resources.devices[i]` as the kernel's rule text: `c 1:3 rwm`,
/// with `*` for a missing (or -1) major or minor.
pub fn rule_line(rule: &LinuxDeviceCgroup) -> Result<String, String> {
    let kind = match rule.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) => 'c',
        Some(t) => {
            return Err(format!(
                "type {:?} cannot be a cgroup rule (use \"a\", \"b\" or \"c\")",
                t.as_str()
            ))
        }
    };
    let number = |n: Option<i64>, what: &str| match n {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if n >= 0 => Ok(n.to_string()),
        Some(n) => Err(format!(
            "{what} {n} is negative (omit it or use -1 for any)"
        )),
    };
    let major = number(rule.major(), "major")?;
    let minor = number(rule.minor(), "minor")?;
    let access = rule.access().as_deref().unwrap_or("");
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(format!(
            "access {access:?} must be a non-empty combination of r, w and m"
        ));
    }
    Ok(format!("{kind} {major}:{minor} {access}"))
}

fn allow(
    kind: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(kind));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// Devices every container may use, with the path of the node when there
/// is one: a config that defines a device at that path replaces the entry.
fn defaults() -> Vec<(Option<&'static str>, LinuxDeviceCgroup)> {
    use LinuxDeviceType::{B, C};
    let node = |path, major, minor| (Some(path), allow(C, Some(major), Some(minor), "rwm"));
    vec![
        // mknod of any device; opening still needs its own rule.
        (None, allow(C, None, None, "m")),
        (None, allow(B, None, None, "m")),
        node("/dev/null", 1, 3),
        node("/dev/random", 1, 8),
        node("/dev/full", 1, 7),
        node("/dev/tty", 5, 0),
        node("/dev/zero", 1, 5),
        node("/dev/urandom", 1, 9),
        (None, allow(C, Some(136), None, "rwm")), // /dev/pts/*
        (None, allow(C, Some(5), Some(2), "rwm")), // /dev/ptmx
        (None, allow(C, Some(10), Some(200), "rwm")), // /dev/net/tun
    ]
}

/// The device rules to apply for `spec`: the config's own rules in order,
/// then the default devices (runc appends them last, so a config cannot
/// deny them). The cgroup itself starts from deny-all.
pub fn container_rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let linux = spec.linux().as_ref();
    let mut rules: Vec<LinuxDeviceCgroup> = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    let redefined = |path: &str| {
        linux
            .and_then(|l| l.devices().as_ref())
            .is_some_and(|ds| ds.iter().any(|d| d.path().as_os_str() == path))
    };
    for (path, rule) in defaults() {
        if !path.is_some_and(redefined) {
            rules.push(rule);
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> LinuxDeviceCgroup {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rule_text() {
        let line = |j| rule_line(&rule(j));
        assert_eq!(
            line(r#"{"allow":false,"access":"rwm"}"#).unwrap(),
            "a *:* rwm"
        );
        assert_eq!(
            line(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#).unwrap(),
            "c 1:3 rw"
        );
        assert_eq!(
            line(r#"{"allow":true,"type":"b","major":8,"minor":-1,"access":"r"}"#).unwrap(),
            "b 8:* r"
        );
        let e = line(r#"{"allow":true,"type":"p","access":"r"}"#).unwrap_err();
        assert!(e.contains("type \"p\" cannot be a cgroup rule"), "{e}");
        assert!(line(r#"{"allow":true,"type":"u","access":"r"}"#).is_err());
        assert!(line(r#"{"allow":true,"type":"c","major":-2,"access":"r"}"#).is_err());
        assert!(line(r#"{"allow":true,"type":"c"}"#)
            .unwrap_err()
            .contains("access \"\""));
        assert!(line(r#"{"allow":true,"access":"rx"}"#).is_err());
    }

    #[test]
    fn defaults_follow_the_config() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","linux":{
                "devices":[{"path":"/dev/null","type":"c","major":1,"minor":3}],
                "resources":{"devices":[{"allow":false,"access":"rwm"}]}}}"#,
        )
        .unwrap();
        let lines: Vec<String> = container_rules(&spec)
            .iter()
            .map(|r| rule_line(r).unwrap())
            .collect();
        assert_eq!(lines[0], "a *:* rwm");
        assert_eq!(lines[1], "c *:* m");
        assert!(lines.contains(&"c 1:5 rwm".to_string()));
        assert!(
            !lines.contains(&"c 1:3 rwm".to_string()),
            "redefined by the config"
        );
        assert_eq!(lines.last().unwrap(), "c 10:200 rwm");
    }
}
