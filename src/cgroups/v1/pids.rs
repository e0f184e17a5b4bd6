//! v1 pids controller: `linux.resources.pids.limit` to pids.max.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const FIELD: &str = "linux.resources.pids.limit";

/// -1 (unlimited) is the default, and 0 means unset.
pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    match r.pids() {
        Some(p) if p.limit() > 0 || p.limit() < -1 => vec![FIELD],
        _ => Vec::new(),
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(p) = r.pids() else {
        return Ok(());
    };
    if p.limit() < -1 {
        return Err(CgroupError::invalid(
            FIELD,
            format!("{} is below -1 (unlimited)", p.limit()),
        ));
    }
    match convert::pids_max(p.limit()) {
        Some(value) => fs::write(f, FIELD, "pids.max", &value),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn limits() {
        let r = |l: i64| -> LinuxResources {
            serde_json::from_str(&format!(r#"{{"pids":{{"limit":{l}}}}}"#)).unwrap()
        };
        let d = FakeDir::new(&[("pids.max", "max")]);
        apply(&d, &r(20)).unwrap();
        apply(&d, &r(0)).unwrap();
        apply(&d, &r(-1)).unwrap();
        assert_eq!(d.writes(), ["pids.max=20", "pids.max=max"]);
        assert!(apply(&d, &r(-5)).is_err());
        assert_eq!(requested(&r(20)), [FIELD]);
        assert!(requested(&r(-1)).is_empty() && requested(&r(0)).is_empty());
    }
}
