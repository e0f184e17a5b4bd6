//! Value conversions between the runtime spec and cgroup files.

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

/// Whether `list` is a kernel cpu/node list: `0-3,5,7-8`. No host has a
/// million cpus or nodes: a longer number is a mistake.
pub fn is_cpu_list(list: &str) -> bool {
    crate::cpulist::ranges(list)
        .is_ok_and(|r| !r.is_empty() && r.iter().all(|&(_, hi)| hi < 1_000_000))
}

/// cpu.weight (1..10000) for `linux.resources.cpu.shares` (2..262144):
/// today's runc and crun use this curve, which maps the default 1024
/// shares to the default weight 100 (runc 1.1's straight line gave 39).
/// None for 0 (unset).
pub fn cpu_weight(shares: u64) -> Option<u64> {
    match shares {
        0 => None,
        s if s <= 2 => Some(1),
        s if s >= 262_144 => Some(10_000),
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            Some(10f64.powf(exponent).ceil() as u64)
        }
    }
}

/// io.weight (1..10000) for a blkio weight (10..1000), linearly, as runc
/// does; None for 0 (unset).
pub fn io_weight(blkio: u16) -> Option<u64> {
    match blkio {
        0 => None,
        w => Some(1 + (u64::from(w.max(10)) - 10) * 9999 / 990),
    }
}

/// memory.swap.max for the spec's memory+swap `swap` and `limit`: v2
/// limits swap alone, so the memory part is subtracted (runc's rule).
/// Ok(None): leave the file alone.
pub fn swap_max(swap: i64, limit: i64) -> Result<Option<String>, String> {
    match (swap, limit) {
        // Unlimited memory with swap unset means both unlimited, as on v1.
        (0, -1) | (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (s, -1) => Ok(Some(s.to_string())),
        (_, 0) => Err(
            "a swap limit needs a memory limit (v2 limits swap apart from memory, \
                       so swap minus limit is written)"
                .into(),
        ),
        (s, l) if s < l => Err(format!("{s} (memory+swap) is below the memory limit {l}")),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_conversions() {
        assert_eq!(cpu_weight(0), None);
        assert_eq!(cpu_weight(2), Some(1));
        assert_eq!(cpu_weight(1024), Some(100));
        assert_eq!(cpu_weight(512), Some(59));
        assert_eq!(cpu_weight(262_144), Some(10_000));
        assert_eq!(cpu_weight(u64::MAX), Some(10_000));
        assert_eq!(io_weight(0), None);
        assert_eq!(io_weight(10), Some(1));
        assert_eq!(io_weight(500), Some(4950));
        assert_eq!(io_weight(1000), Some(10_000));
        assert_eq!(swap_max(0, 0), Ok(None));
        assert_eq!(swap_max(0, 1000), Ok(None));
        assert_eq!(swap_max(0, -1).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(-1, 1000).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(3000, 1000).unwrap().as_deref(), Some("2000"));
        assert_eq!(swap_max(1000, 1000).unwrap().as_deref(), Some("0"));
        assert_eq!(swap_max(3000, -1).unwrap().as_deref(), Some("3000"));
        assert!(swap_max(500, 1000).unwrap_err().contains("below"));
        assert!(swap_max(500, 0)
            .unwrap_err()
            .contains("needs a memory limit"));
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
