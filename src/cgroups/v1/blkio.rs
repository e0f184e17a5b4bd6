//! v1 blkio controller: weights (CFQ's blkio.weight, or BFQ's
//! blkio.bfq.weight where only BFQ offers one) and throttling.

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const F_WEIGHT: &str = "linux.resources.blockIO.weight";
const F_LEAF: &str = "linux.resources.blockIO.leafWeight";
const F_WEIGHT_DEV: &str = "linux.resources.blockIO.weightDevice";

/// The throttle lists: JSON path, file, entries.
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &'static str, &[LinuxThrottleDevice]); 4] {
    fn list(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        (
            "linux.resources.blockIO.throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            list(b.throttle_read_bps_device()),
        ),
        (
            "linux.resources.blockIO.throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            list(b.throttle_write_bps_device()),
        ),
        (
            "linux.resources.blockIO.throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            list(b.throttle_read_iops_device()),
        ),
        (
            "linux.resources.blockIO.throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            list(b.throttle_write_iops_device()),
        ),
    ]
}

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let Some(b) = r.block_io() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if b.weight().is_some_and(|w| w != 0) {
        out.push(F_WEIGHT);
    }
    if b.leaf_weight().is_some_and(|w| w != 0) {
        out.push(F_LEAF);
    }
    if b.weight_device().as_ref().is_some_and(|d| !d.is_empty()) {
        out.push(F_WEIGHT_DEV);
    }
    for (field, _, list) in throttles(b) {
        if !list.is_empty() {
            out.push(field);
        }
    }
    out
}

/// CFQ's file if the kernel has it, else BFQ's (same format), else CFQ's
/// name so that the error names the classic file.
fn weight_file(f: &dyn Files, cfq: &'static str, bfq: &'static str) -> &'static str {
    if !f.exists(cfq) && f.exists(bfq) {
        bfq
    } else {
        cfq
    }
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else {
        return Ok(());
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let file = weight_file(f, "blkio.weight", "blkio.bfq.weight");
        fs::write(f, F_WEIGHT, file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        fs::write(f, F_LEAF, "blkio.leaf_weight", &w.to_string())?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight() {
            let field = format!("{F_WEIGHT_DEV}[{i}].weight");
            let file = weight_file(f, "blkio.weight_device", "blkio.bfq.weight");
            fs::write(f, &field, file, &format!("{dev} {w}"))?;
        }
        if let Some(w) = d.leaf_weight() {
            let field = format!("{F_WEIGHT_DEV}[{i}].leafWeight");
            fs::write(f, &field, "blkio.leaf_weight_device", &format!("{dev} {w}"))?;
        }
    }
    for (field, file, list) in throttles(b) {
        for (i, d) in list.iter().enumerate() {
            let field = format!("{field}[{i}]");
            let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            fs::write(f, &field, file, &line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(&format!(r#"{{"blockIO":{json}}}"#)).unwrap()
    }

    #[test]
    fn throttles_and_weights() {
        let d = FakeDir::new(&[
            ("blkio.bfq.weight", "100"),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ]);
        let r = res(
            r#"{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":200}],
                "throttleReadBpsDevice":[{"major":254,"minor":0,"rate":1048576}],
                "throttleWriteIOPSDevice":[{"major":254,"minor":0,"rate":100}]}"#,
        );
        apply(&d, &r).unwrap();
        assert_eq!(
            d.writes(),
            [
                "blkio.bfq.weight=300",
                "blkio.bfq.weight=8:0 200",
                "blkio.throttle.read_bps_device=254:0 1048576",
                "blkio.throttle.write_iops_device=254:0 100",
            ]
        );
        assert_eq!(requested(&r).len(), 4);
    }

    #[test]
    fn weight_without_a_weight_file_is_unsupported() {
        let d = FakeDir::new(&[("blkio.throttle.read_bps_device", "")]);
        let e = apply(&d, &res(r#"{"weight":300}"#))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.resources.blockIO.weight: not supported on this host: the kernel has no \
             /fake/blkio.weight (file absent)"
        );
        apply(&d, &res(r#"{"weight":0}"#)).unwrap();
        let e = apply(&d, &res(r#"{"leafWeight":10}"#))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.blockIO.leafWeight: not supported"));
    }
}
