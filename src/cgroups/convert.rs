//! Value conversions between the runtime spec and cgroup files, and between
//! v1 and v2 units (the formulas are runc's, so that keel and runc give a
//! container the same share of the machine).

/// cpu.shares (v1, 2..262144, default 1024) to cpu.weight (v2, 1..10000,
/// default 100): a quadratic in log2(shares) through the minimum, default
/// and maximum of both scales. 0 means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262144.. => 10000,
        _ => {
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// blkio.weight (v1, 10..1000) to io.weight (v2, 1..10000), linearly.
/// 0 means unset.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// The spec's `swap` is memory+swap (v1's memsw); v2's memory.swap.max is
/// swap alone. -1 is unlimited, 0 unset.
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<i64, String> {
    match (swap, memory) {
        (0, -1) => Ok(-1),
        (-1 | 0, _) | (_, -1) => Ok(swap),
        (_, 0) => Err("a swap limit needs a memory limit on cgroup v2".into()),
        (s, m) if s < m => Err(format!("memory+swap {s} is below the memory limit {m}")),
        (s, m) => Ok(s - m),
    }
}

/// A v2 limit file value: "max" for unlimited.
pub fn v2_limit(value: i64) -> String {
    if value < 0 {
        "max".into()
    } else {
        value.to_string()
    }
}

/// pids.max for `linux.resources.pids.limit`: 0 is unset (runc 1.1),
/// negative is unlimited.
pub fn pids_max(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

/// A hugepage size as the kernel names it in hugetlb files ("64KB", "2MB",
/// "1GB"), in bytes.
pub fn page_size_bytes(size: &str) -> Option<u64> {
    let (num, unit) = size.split_at(size.find(|c: char| !c.is_ascii_digit())?);
    let shift = match unit {
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        _ => return None,
    };
    let n: u64 = num.parse().ok().filter(|n| *n > 0)?;
    n.checked_mul(1 << shift)
}

/// Check one `linux.resources.hugepageLimits` entry; returns the size as
/// the kernel's file names spell it.
pub fn check_hugepage(size: &str, limit: i64) -> Result<&str, String> {
    if page_size_bytes(size).is_none() {
        return Err(format!(
            "pageSize {size:?} must be a size like \"64KB\", \"2MB\" or \"1GB\""
        ));
    }
    if limit < -1 {
        return Err(format!("limit {limit} is below -1 (unlimited)"));
    }
    Ok(size)
}

/// Whether `list` is a kernel cpu/node list: `0-3,5,7-8`.
pub fn is_cpu_list(list: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.len() < 7 && s.bytes().all(|b| b.is_ascii_digit());
    !list.trim().is_empty()
        && list
            .trim()
            .split(',')
            .all(|part| match part.split_once('-') {
                Some((a, b)) => {
                    number(a) && number(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok()
                }
                None => number(part),
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(1 << 20), 10000);
    }

    #[test]
    fn blkio_weight_to_io_weight_is_linear() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    }

    #[test]
    fn swap_between_v1_and_v2() {
        assert_eq!(swap_to_v2(0, -1), Ok(-1));
        assert_eq!(swap_to_v2(-1, 100), Ok(-1));
        assert_eq!(swap_to_v2(0, 100), Ok(0));
        assert_eq!(swap_to_v2(300, -1), Ok(300));
        assert_eq!(swap_to_v2(300, 100), Ok(200));
        assert!(swap_to_v2(300, 0).is_err());
        assert!(swap_to_v2(50, 100).is_err());
    }

    #[test]
    fn limits_pids_pages_and_lists() {
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
        assert_eq!(pids_max(0), None);
        assert_eq!(pids_max(-1).as_deref(), Some("max"));
        assert_eq!(pids_max(20).as_deref(), Some("20"));
        assert_eq!(page_size_bytes("2MB"), Some(2 << 20));
        assert_eq!(page_size_bytes("1GB"), Some(1 << 30));
        assert_eq!(page_size_bytes("64KB"), Some(64 << 10));
        for bad in ["2M", "MB", "0MB", "2mb", "", "2 MB"] {
            assert_eq!(page_size_bytes(bad), None, "{bad}");
        }
        assert!(is_cpu_list("0") && is_cpu_list("0-1,3") && is_cpu_list("0-1\n"));
        for bad in ["", "a", "1-", "3-1", "0,,1", "-1"] {
            assert!(!is_cpu_list(bad), "{bad}");
        }
    }
}
