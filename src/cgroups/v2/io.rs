//! cgroup2 io controller: the blkio weight as BFQ's io.bfq.weight (same
//! scale) where the kernel has BFQ, else io.weight (converted as runc
//! does); per-device weights likewise; throttles as io.max lines. Leaf
//! weights have no v2 file.

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Files};

const F_WEIGHT: &str = "linux.resources.blockIO.weight";
const F_WEIGHT_DEV: &str = "linux.resources.blockIO.weightDevice";
const F_LEAF: &str = "linux.resources.blockIO.leafWeight";
const BFQ: &str = "io.bfq.weight";

/// Leaf weights, the config's and each device's, which v2 cannot express.
pub fn refused(r: &LinuxResources) -> Vec<(String, String)> {
    let Some(b) = r.block_io() else {
        return Vec::new();
    };
    let set = |w: Option<u16>| w.is_some_and(|w| w != 0);
    let why = "cgroup v2 has no leaf weights";
    let devices = b.weight_device().iter().flatten().enumerate();
    let devices = devices.map(|(i, d)| {
        let field = format!("{F_WEIGHT_DEV}[{i}].leafWeight");
        (set(d.leaf_weight()), field, why)
    });
    super::refusals(
        [(set(b.leaf_weight()), F_LEAF.to_string(), why)]
            .into_iter()
            .chain(devices),
    )
}

/// The throttle lists with their io.max key.
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &'static str, &[LinuxThrottleDevice]); 4] {
    fn list(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        (
            "throttleReadBpsDevice",
            "rbps",
            list(b.throttle_read_bps_device()),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            list(b.throttle_write_bps_device()),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            list(b.throttle_read_iops_device()),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            list(b.throttle_write_iops_device()),
        ),
    ]
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else {
        return Ok(());
    };
    super::refuse_first(refused(r))?;
    let bfq = f.exists(BFQ);
    // BFQ takes per-device weights since 5.4: its file then reads as
    // "default N" lines rather than one number.
    let bfq_devices = bfq && f.read(BFQ).is_ok_and(|t| t.trim().parse::<u64>().is_err());
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        match bfq {
            true => fs::write(f, F_WEIGHT, BFQ, &w.to_string())?,
            false => {
                let v = convert::io_weight(w).unwrap_or(1);
                fs::write(f, F_WEIGHT, "io.weight", &v.to_string())?
            }
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let Some(w) = d.weight() else { continue };
        let field = format!("{F_WEIGHT_DEV}[{i}].weight");
        let dev = format!("{}:{}", d.major(), d.minor());
        match bfq_devices {
            true => fs::write(f, &field, BFQ, &format!("{dev} {w}"))?,
            false => {
                let v = convert::io_weight(w).unwrap_or(1);
                fs::write(f, &field, "io.weight", &format!("{dev} {v}"))?
            }
        }
    }
    for (name, key, list) in throttles(b) {
        for (i, d) in list.iter().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            fs::write(f, &field, "io.max", &line)?;
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

    const ALL: &str = r#"{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":200}],
        "throttleReadBpsDevice":[{"major":254,"minor":0,"rate":1048576}],
        "throttleWriteBpsDevice":[{"major":254,"minor":0,"rate":2}],
        "throttleReadIOPSDevice":[{"major":254,"minor":0,"rate":3}],
        "throttleWriteIOPSDevice":[{"major":254,"minor":0,"rate":100}]}"#;

    #[test]
    fn bfq_weights_and_throttles() {
        let d = FakeDir::new(&[
            (BFQ, "default 100"),
            ("io.weight", "default 100"),
            ("io.max", ""),
        ]);
        apply(&d, &res(ALL)).unwrap();
        assert_eq!(
            d.writes(),
            [
                "io.bfq.weight=500",
                "io.bfq.weight=8:0 200",
                "io.max=254:0 rbps=1048576",
                "io.max=254:0 wbps=2",
                "io.max=254:0 riops=3",
                "io.max=254:0 wiops=100",
            ]
        );
    }

    #[test]
    fn io_weight_without_bfq() {
        let d = FakeDir::new(&[("io.weight", "default 100"), ("io.max", "")]);
        apply(&d, &res(ALL)).unwrap();
        assert_eq!(d.writes()[..2], ["io.weight=4950", "io.weight=8:0 1920"]);
        // An old BFQ (one number) takes no device weights: io.weight does.
        let d = FakeDir::new(&[(BFQ, "100"), ("io.weight", "default 100"), ("io.max", "")]);
        apply(&d, &res(ALL)).unwrap();
        assert_eq!(d.writes()[..2], ["io.bfq.weight=500", "io.weight=8:0 1920"]);
    }

    #[test]
    fn leaf_weights_and_missing_files() {
        let d = FakeDir::new(&[("io.max", "")]);
        let e = apply(&d, &res(r#"{"leafWeight":300}"#))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.resources.blockIO.leafWeight: not supported on this host: cgroup v2 has no \
             leaf weights"
        );
        // A device's leaf weight is named where it is, not at the top.
        let e = apply(
            &d,
            &res(r#"{"weightDevice":[{"major":8,"minor":0,"weight":200},
                {"major":8,"minor":16,"leafWeight":300}]}"#),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "linux.resources.blockIO.weightDevice[1].leafWeight: not supported on this host: \
             cgroup v2 has no leaf weights"
        );
        assert!(d.writes().is_empty(), "nothing written before the refusal");
        let e = apply(&d, &res(r#"{"weight":300}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.blockIO.weight: not supported"),
            "{e}"
        );
        assert!(e.contains("/fake/io.weight"), "{e}");
    }
}
