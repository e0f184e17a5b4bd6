//! v1 devices controller: start from deny-all, then write each rule of
//! `linux.resources.devices` in order to devices.allow or devices.deny, so
//! that later rules override earlier ones as the spec says.
//!
//! On `update` of a running container this briefly denies every device
//! between the reset and the last rule; runc avoids that with a rule
//! emulator that writes only the difference (not done here yet).

use oci_spec::runtime::LinuxResources;

use crate::cgroups::device_rules::rule_line;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    match r.devices() {
        Some(rules) if !rules.is_empty() => vec!["linux.resources.devices"],
        _ => Vec::new(),
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(rules) = r.devices() else {
        return Ok(());
    };
    // Check every rule before the reset, so that a bad rule leaves the
    // cgroup's current rules alone.
    let mut lines = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let line = rule_line(rule).map_err(|msg| CgroupError::invalid(&field, msg))?;
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        lines.push((field, file, line));
    }
    // A config that starts by denying everything (the usual first rule)
    // makes the reset itself.
    if lines
        .first()
        .is_none_or(|(_, file, line)| (*file, line.as_str()) != DENY_ALL)
    {
        fs::write(f, "linux.resources.devices", DENY_ALL.0, DENY_ALL.1)?;
    }
    // Runs of rules for the same file go through one open.
    for run in lines.chunk_by(|a, b| a.1 == b.1) {
        let items: Vec<(&str, &str)> = run
            .iter()
            .map(|(f, _, l)| (f.as_str(), l.as_str()))
            .collect();
        fs::write_each(f, run[0].1, &items)?;
    }
    Ok(())
}

const DENY_ALL: (&str, &str) = ("devices.deny", "a *:* rwm");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn deny_all_then_rules_in_order() {
        let d = FakeDir::new(&[("devices.allow", ""), ("devices.deny", "")]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        // The config's own deny-all is the reset ("a" is all the kernel
        // reads of either).
        assert_eq!(
            d.writes(),
            [
                "devices.deny=a *:* rwm",
                "devices.allow=c 1:3 rwm",
                "devices.deny=c 1:3 w",
            ]
        );
        assert_eq!(requested(&r), ["linux.resources.devices"]);
        let d = FakeDir::new(&[("devices.allow", ""), ("devices.deny", "")]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            ["devices.deny=a *:* rwm", "devices.allow=c 1:3 rwm"]
        );
    }

    #[test]
    fn a_bad_rule_writes_nothing() {
        let d = FakeDir::new(&[("devices.allow", ""), ("devices.deny", "")]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"p","access":"rw"}]}"#,
        )
        .unwrap();
        let e = apply(&d, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.devices[1]: type \"p\""),
            "{e}"
        );
        assert!(d.writes().is_empty());
    }
}
