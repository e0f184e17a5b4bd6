//! Device cgroup rules, shared by v1's devices.allow/deny and the v2 eBPF
//! program: their checks, their text form, and the devices every
//! container may use (runc's list, so that keel and runc agree on what a
//! container can open).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

/// Device type of a rule; a rule without one (type "a") matches every
/// device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Block,
    Char,
}

// Access bits, the values of both v1's devices cgroup and cgroup2's
// struct bpf_cgroup_dev_ctx.
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;

/// One checked `linux.resources.devices[i]`: what v1 writes as text and
/// cgroup2 compiles into its device program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// None for type "a".
    pub kind: Option<DeviceKind>,
    /// None: any (a missing or -1 major or minor).
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// MKNOD, READ and WRITE bits; never empty.
    pub access: u8,
}

/// Check `linux.resources.devices[i]`; Err is the message for that path.
/// A major or minor must fit the kernel's 32 bits (its dev_t fields, and
/// the program's comparisons, are no wider).
pub fn parse(rule: &LinuxDeviceCgroup) -> Result<DeviceRule, String> {
    let kind = match rule.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DeviceKind::Block),
        Some(LinuxDeviceType::C) => Some(DeviceKind::Char),
        Some(t) => {
            return Err(format!(
                "type {:?} cannot be a cgroup rule (use \"a\", \"b\" or \"c\")",
                t.as_str()
            ))
        }
    };
    let number = |n: Option<i64>, what: &str| match n {
        None | Some(-1) => Ok(None),
        Some(n) if n < 0 => Err(format!(
            "{what} {n} is negative (omit it or use -1 for any)"
        )),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            format!(
                "{what} {n} is above {}, the largest the kernel takes",
                u32::MAX
            )
        }),
    };
    let major = number(rule.major(), "major")?;
    let minor = number(rule.minor(), "minor")?;
    let text = rule.access().as_deref().unwrap_or("");
    let mut access = 0;
    for c in text.chars() {
        access |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => 0,
        };
    }
    if text.is_empty() || !text.chars().all(|c| "rwm".contains(c)) {
        return Err(format!(
            "access {text:?} must be a non-empty combination of r, w and m"
        ));
    }
    Ok(DeviceRule {
        allow: rule.allow(),
        kind,
        major,
        minor,
        access,
    })
}

impl DeviceRule {
    /// The kernel's rule text for v1's devices.allow/deny: `c 1:3 rwm`,
    /// with `*` for any major or minor.
    pub fn line(&self) -> String {
        let kind = match self.kind {
            None => 'a',
            Some(DeviceKind::Block) => 'b',
            Some(DeviceKind::Char) => 'c',
        };
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let access: String = [('r', READ), ('w', WRITE), ('m', MKNOD)]
            .iter()
            .filter(|(_, bit)| self.access & bit != 0)
            .map(|(c, _)| c)
            .collect();
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

/// `linux.resources.devices[i]` as the kernel's rule text (see `parse`).
pub fn rule_line(rule: &LinuxDeviceCgroup) -> Result<String, String> {
    parse(rule).map(|r| r.line())
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
        assert_eq!(
            line(r#"{"allow":true,"type":"c","major":4294967295,"access":"wr"}"#).unwrap(),
            "c 4294967295:* rw"
        );
    }

    /// v1 wrote any non-negative number, cgroup2 refused what does not fit
    /// 32 bits: both now refuse it, at validation already.
    #[test]
    fn numbers_above_32_bits_are_refused() {
        for field in ["major", "minor"] {
            let json = format!(r#"{{"allow":true,"type":"c","{field}":4294967296,"access":"r"}}"#);
            let e = rule_line(&rule(&json)).unwrap_err();
            assert_eq!(
                e,
                format!("{field} 4294967296 is above 4294967295, the largest the kernel takes")
            );
        }
        let json = r#"{"allow":false,"type":"b","major":8,"minor":0,"access":"m"}"#;
        assert_eq!(
            parse(&rule(json)).unwrap(),
            DeviceRule {
                allow: false,
                kind: Some(DeviceKind::Block),
                major: Some(8),
                minor: Some(0),
                access: MKNOD,
            }
        );
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
