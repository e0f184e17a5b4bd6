//! v1 net_prio controller: `linux.resources.network.priorities`, one
//! `interface priority` line per write to net_prio.ifpriomap.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const FIELD: &str = "linux.resources.network.priorities";

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let list = r.network().as_ref().and_then(|n| n.priorities().as_ref());
    if list.is_some_and(|l| !l.is_empty()) {
        vec![FIELD]
    } else {
        Vec::new()
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let list = r.network().as_ref().and_then(|n| n.priorities().as_ref());
    for (i, p) in list.into_iter().flatten().enumerate() {
        let field = format!("{FIELD}[{i}]");
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(CgroupError::invalid(
                field,
                format!("interface name {:?} is empty or has blanks", p.name()),
            ));
        }
        let line = format!("{} {}", p.name(), p.priority());
        fs::write(f, &field, "net_prio.ifpriomap", &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn priorities() {
        let d = FakeDir::new(&[("net_prio.ifpriomap", "")]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"network":{"priorities":[{"name":"lo","priority":2},{"name":"eth0","priority":5}]}}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            ["net_prio.ifpriomap=lo 2", "net_prio.ifpriomap=eth0 5"]
        );
        assert_eq!(requested(&r), [FIELD]);
    }
}
