//! v1 net_cls controller: `linux.resources.network.classID`.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const FIELD: &str = "linux.resources.network.classID";

/// 0 is the kernel's default (no class).
pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let set = r.network().as_ref().and_then(|n| n.class_id());
    if set.is_some_and(|id| id != 0) {
        vec![FIELD]
    } else {
        Vec::new()
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    match r.network().as_ref().and_then(|n| n.class_id()) {
        Some(id) => fs::write(f, FIELD, "net_cls.classid", &id.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn class_id() {
        let d = FakeDir::new(&[("net_cls.classid", "0")]);
        let r: LinuxResources = serde_json::from_str(r#"{"network":{"classID":1048577}}"#).unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(d.writes(), ["net_cls.classid=1048577"]);
        assert_eq!(requested(&r), [FIELD]);
    }
}
