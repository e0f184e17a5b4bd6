//! cgroup2 hugetlb controller: hugetlb.<size>.max, and .rsvd.max where the
//! kernel limits reservations. On a hybrid host (this project's machine)
//! this is the only controller cgroup2 offers, next to the v1 ones.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::Files;
use crate::cgroups::v1::hugetlb::write_limits;

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    write_limits(f, r, "max", convert::v2_limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn max_files() {
        let d = FakeDir::new(&[
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.rsvd.max", "max"),
            ("hugetlb.1GB.max", "max"),
        ]);
        let r: LinuxResources = serde_json::from_str(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]}"#,
        )
        .unwrap();
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "hugetlb.2MB.max=4194304",
                "hugetlb.2MB.rsvd.max=4194304",
                "hugetlb.1GB.max=max"
            ]
        );
        let r: LinuxResources =
            serde_json::from_str(r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#).unwrap();
        let e = apply(&d, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0]: pageSize \"2M\""),
            "{e}"
        );
    }
}
