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
