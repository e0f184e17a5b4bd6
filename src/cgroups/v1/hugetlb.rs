//! v1 hugetlb controller (where the host mounts it as v1; on this project's
//! hybrid host it lives in cgroup2, see `v2::hugetlb`).

use oci_spec::runtime::LinuxResources;

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

pub const FIELD: &str = "linux.resources.hugepageLimits";

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    match r.hugepage_limits() {
        Some(l) if !l.is_empty() => vec![FIELD],
        _ => Vec::new(),
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    write_limits(f, r, "limit_in_bytes", |limit| limit.to_string())
}

/// The page-fault limit, and the reservation limit where the kernel has
/// one (5.7+): the spec's limit means reservations when they are limited.
/// v1 and cgroup2 differ only in the file suffix and how "unlimited" reads.
pub fn write_limits(
    f: &dyn Files,
    r: &LinuxResources,
    suffix: &str,
    value: impl Fn(i64) -> String,
) -> Result<(), CgroupError> {
    for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("{FIELD}[{i}]");
        let size = convert::check_hugepage(l.page_size(), l.limit())
            .map_err(|msg| CgroupError::invalid(&field, msg))?;
        let value = value(l.limit());
        fs::write(f, &field, &format!("hugetlb.{size}.{suffix}"), &value)?;
        let rsvd = format!("hugetlb.{size}.rsvd.{suffix}");
        if f.exists(&rsvd) {
            fs::write(f, &field, &rsvd, &value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn limits_and_reservations() {
        let d = FakeDir::new(&[
            ("hugetlb.2MB.limit_in_bytes", ""),
            ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
            ("hugetlb.1GB.limit_in_bytes", ""),
        ]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "hugetlb.2MB.limit_in_bytes=4194304",
                "hugetlb.2MB.rsvd.limit_in_bytes=4194304",
                "hugetlb.1GB.limit_in_bytes=-1",
            ]
        );
        let r: LinuxResources =
            serde_json::from_str(r#"{"hugepageLimits":[{"pageSize":"4MB","limit":1}]}"#).unwrap();
        let e = apply(&d, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0]: not supported"),
            "{e}"
        );
        assert!(e.contains("hugetlb.4MB.limit_in_bytes"), "{e}");
    }
}
