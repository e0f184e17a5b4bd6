//! Parsing of /proc/self/mountinfo and /proc/self/cgroup.

use std::io;
use std::path::PathBuf;

/// One line of /proc/PID/mountinfo (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount's id (unique among the mounts that exist at one time).
    pub id: u64,
    /// Path of the mounted directory within its filesystem.
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub mount_opts: String,
    /// Optional fields such as "shared:3" or "master:1".
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_opts: String,
}

/// One line of /proc/PID/cgroup: `ID:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    pub id: String,
    /// Comma-separated controllers (`name=X` for named v1 hierarchies);
    /// empty for the cgroup2 line.
    pub controllers: String,
    pub path: PathBuf,
}

/// Undo the octal escaping (`\040` for a space, ...) the kernel applies to
/// paths in mountinfo.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 3 {
        return None;
    }
    Some(MountInfo {
        id: l[0].parse().ok()?,
        root: PathBuf::from(unescape(l[3])),
        mount_point: PathBuf::from(unescape(l[4])),
        mount_opts: l[5].to_string(),
        optional: l[6..].iter().map(|s| s.to_string()).collect(),
        fstype: r[0].to_string(),
        source: unescape(r[1]),
        super_opts: r[2].to_string(),
    })
}

pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

pub fn read_self() -> io::Result<Vec<MountInfo>> {
    Ok(parse(&crate::procfs::read::text("/proc/self/mountinfo")?))
}

pub fn parse_cgroup_file(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some(CgroupLine {
                id: id.to_string(),
                controllers: controllers.to_string(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
23 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 /sub /mnt/with\\040space ro - ext4 /dev/vdb rw
";

    #[test]
    fn parses_fields_and_escapes() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].mount_point, PathBuf::from("/"));
        assert_eq!((m[0].id, m[4].id), (23, 50));
        assert_eq!(m[0].optional, ["shared:1"]);
        assert!(m[1].optional.is_empty());
        assert_eq!(m[2].fstype, "cgroup");
        assert_eq!(m[2].super_opts, "rw,cpu,cpuacct");
        assert_eq!(m[2].mount_opts, "rw,nosuid");
        assert_eq!(m[4].root, PathBuf::from("/sub"));
        assert_eq!(m[4].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }

    #[test]
    fn parses_cgroup_file() {
        let c = parse_cgroup_file("9:name=systemd:/\n4:memory:/a/b\n0::/x:y\n");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].controllers, "name=systemd");
        assert_eq!(c[1].path, PathBuf::from("/a/b"));
        assert_eq!(c[2].controllers, "");
        assert_eq!(c[2].path, PathBuf::from("/x:y"));
    }
}
