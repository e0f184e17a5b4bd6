//! Reading cgroup stat files the way runc does: a missing file is often
//! just a kernel without that counter, "max" is u64::MAX, and a negative
//! number (v1's "-1" for unlimited) reads as 0.

use std::io;

use super::StatsError;
use crate::cgroups::fs::Files;

/// The file's text, or None if the kernel does not have it.
pub fn text_opt(f: &dyn Files, file: &str) -> Result<Option<String>, StatsError> {
    match f.read(file) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StatsError::Read {
            file: f.path(file),
            err,
        }),
    }
}

pub fn text(f: &dyn Files, file: &str) -> Result<String, StatsError> {
    f.read(file).map_err(|err| StatsError::Read {
        file: f.path(file),
        err,
    })
}

pub fn bad(f: &dyn Files, file: &str, msg: impl Into<String>) -> StatsError {
    StatsError::Parse {
        file: f.path(file),
        msg: msg.into(),
    }
}

/// An unsigned value; negative numbers are 0 (runc's ParseUint).
pub fn uint(value: &str) -> Option<u64> {
    let value = value.trim();
    value
        .parse::<u64>()
        .ok()
        .or_else(|| value.parse::<i128>().ok().filter(|v| *v < 0).map(|_| 0))
}

/// A file holding one number, "max" read as u64::MAX.
pub fn param(f: &dyn Files, file: &str) -> Result<u64, StatsError> {
    let t = text(f, file)?;
    match t.trim() {
        "max" => Ok(u64::MAX),
        v => uint(v).ok_or_else(|| bad(f, file, format!("not a number: {v:?}"))),
    }
}

/// `param`, or None if the file does not exist.
pub fn param_opt(f: &dyn Files, file: &str) -> Result<Option<u64>, StatsError> {
    if f.exists(file) {
        param(f, file).map(Some)
    } else {
        Ok(None)
    }
}

/// "key value" lines (memory.stat, cpu.stat), in file order.
pub fn key_values(f: &dyn Files, file: &str, t: &str) -> Result<Vec<(String, u64)>, StatsError> {
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let parsed = line
                .split_once(' ')
                .and_then(|(k, v)| Some((k.to_string(), uint(v)?)));
            parsed.ok_or_else(|| bad(f, file, format!("line {line:?} is not \"key value\"")))
        })
        .collect()
}

/// The value of `key` in a "key value" file, 0 if absent.
pub fn value_of(f: &dyn Files, file: &str, key: &str) -> Result<u64, StatsError> {
    let t = text(f, file)?;
    for line in t.lines() {
        if let Some((k, v)) = line.split_once(' ') {
            if k == key {
                return uint(v).ok_or_else(|| bad(f, file, format!("{key}: not a number: {v:?}")));
            }
        }
    }
    Ok(0)
}

/// A kernel cpu or node list ("0-3,5") as the numbers it names.
pub fn cpu_list(f: &dyn Files, file: &str, t: &str) -> Result<Vec<u16>, StatsError> {
    use crate::cpulist::{ranges, ListError};
    let list = ranges(t).map_err(|e| match e {
        ListError::Syntax => bad(f, file, format!("not a cpu or node list: {:?}", t.trim())),
        ListError::Backwards(part) => bad(f, file, format!("range {part:?} runs backwards")),
    })?;
    if list.is_empty() {
        return Err(bad(f, file, "empty file"));
    }
    let mut out = Vec::new();
    for (lo, hi) in list {
        let hi = u16::try_from(hi).map_err(|_| bad(f, file, format!("bad number {hi}")))?;
        out.extend(lo as u16..=hi);
    }
    Ok(out)
}

/// Hugepage sizes of this host, named as hugetlb files name them, from
/// /sys/kernel/mm/hugepages/hugepages-<N>kB.
pub fn host_hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<(u64, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, page_size_name(kb * 1024)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

/// The kernel's own naming of a page size in hugetlb file names
/// (mm/hugetlb_cgroup.c): whole GB, else whole MB, else KB.
pub fn page_size_name(bytes: u64) -> String {
    const K: u64 = 1024;
    if bytes >= K * K * K {
        format!("{}GB", bytes / (K * K * K))
    } else if bytes >= K * K {
        format!("{}MB", bytes / (K * K))
    } else {
        format!("{}KB", bytes / K)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    #[test]
    fn numbers_read_as_runc_reads_them() {
        assert_eq!(uint("42\n"), Some(42));
        assert_eq!(uint("-1"), Some(0));
        assert_eq!(uint("-99999999999999999999999"), Some(0));
        assert_eq!(uint("x"), None);
        let d = FakeDir::new(&[("a", "max"), ("b", "9223372036854771712"), ("c", "x")]);
        assert_eq!(param(&d, "a").unwrap(), u64::MAX);
        assert_eq!(param(&d, "b").unwrap(), 9223372036854771712);
        assert!(param(&d, "c").unwrap_err().to_string().contains("/fake/c"));
        assert_eq!(param_opt(&d, "nope").unwrap(), None);
    }

    #[test]
    fn lists_and_key_values() {
        let d = FakeDir::new(&[]);
        assert_eq!(cpu_list(&d, "f", "0-2,5\n").unwrap(), [0, 1, 2, 5]);
        assert!(cpu_list(&d, "f", "3-1").is_err());
        assert!(cpu_list(&d, "f", "\n").is_err());
        let kv = key_values(&d, "f", "a 1\nb -1\n").unwrap();
        assert_eq!(kv, [("a".to_string(), 1), ("b".to_string(), 0)]);
        assert!(key_values(&d, "f", "a\n").is_err());
    }

    #[test]
    fn page_sizes_are_named_like_the_kernels_files() {
        assert_eq!(page_size_name(2 << 20), "2MB");
        assert_eq!(page_size_name(1 << 30), "1GB");
        assert_eq!(page_size_name(64 << 10), "64KB");
    }
}
