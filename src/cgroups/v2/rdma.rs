//! rdma controller (the same rdma.max on v1 and cgroup2): one line per
//! device with the limits the config sets; a limit it leaves out keeps its
//! current value.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const FIELD: &str = "linux.resources.rdma";

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    match r.rdma() {
        Some(m) if !m.is_empty() => vec![FIELD],
        _ => Vec::new(),
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(map) = r.rdma() else {
        return Ok(());
    };
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    for name in names {
        let field = format!("{FIELD}[{name:?}]");
        if name.is_empty() || name.contains(char::is_whitespace) {
            let msg = "device name is empty or has blanks";
            return Err(CgroupError::invalid(field, msg));
        }
        let limits = &map[name];
        let mut line = name.to_string();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line.len() > name.len() {
            fs::write(f, &field, "rdma.max", &line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn one_line_per_device() {
        let d = FakeDir::new(&[("rdma.max", "")]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"rdma":{"mlx5_1":{"hcaObjects":7},"mlx5_0":{"hcaHandles":3,"hcaObjects":100},
                "idle":{}}}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "rdma.max=mlx5_0 hca_handle=3 hca_object=100",
                "rdma.max=mlx5_1 hca_object=7"
            ]
        );
        assert_eq!(requested(&r), [FIELD]);
        let bad: LinuxResources =
            serde_json::from_str(r#"{"rdma":{"a b":{"hcaHandles":1}}}"#).unwrap();
        let e = apply(&d, &bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.rdma[\"a b\"]: device name is empty or has blanks"
        );
    }
}
