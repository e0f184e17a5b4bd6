//! Which cgroup hierarchies this host has, from /proc/self/mountinfo and
//! /proc/self/cgroup: v1 hierarchies (one or more controllers each, or a
//! named one like name=systemd) and the cgroup2 hierarchy with the
//! controllers its root offers. Pure v2, pure v1 and hybrid (both) all
//! parse into the same shape; the manager picks per controller.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::CgroupError;

/// Controllers a v1 hierarchy can carry. Other words in a cgroup mount's
/// options (rw, noprefix, clone_children, release_agent=..., xattr) are
/// mount options, not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// v1: the controllers bound to it (`name=X` for a named hierarchy);
    /// cgroup2: the controllers listed in its root's cgroup.controllers.
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
    /// The cgroup that the mount shows at its mount point ("/" unless the
    /// host itself runs inside a cgroup namespace or a bind of a subtree).
    pub root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    V1,
    Hybrid,
    V2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub unified: Option<Hierarchy>,
}

impl Layout {
    /// This process's view of the host, read once per keel call: config
    /// validation and create both need it, and it does not change between.
    pub fn detect() -> Result<Layout, CgroupError> {
        static HOST: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
        if let Some(layout) = HOST.get() {
            return Ok(layout.clone());
        }
        let layout = Layout::read_host()?;
        Ok(HOST.get_or_init(|| layout).clone())
    }

    fn read_host() -> Result<Layout, CgroupError> {
        let read = |p: &str| {
            crate::procfs::read::text(p).map_err(|e| CgroupError::Layout(format!("read {p}: {e}")))
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        let cgroup = read("/proc/self/cgroup")?;
        Layout::parse(&mountinfo, &cgroup, |mount| {
            crate::procfs::read::text(mount.join("cgroup.controllers")).ok()
        })
    }

    /// Build the layout from the text of mountinfo and /proc/self/cgroup;
    /// `v2_controllers` reads cgroup.controllers at a cgroup2 mount point.
    /// A v1 mount counts only if its controller set is a hierarchy this
    /// process belongs to (so a stale or foreign mount is ignored), and the
    /// first mount of each hierarchy wins (later ones are usually binds).
    pub fn parse(
        mountinfo: &str,
        proc_cgroup: &str,
        v2_controllers: impl Fn(&Path) -> Option<String>,
    ) -> Result<Layout, CgroupError> {
        let joined: Vec<Vec<String>> = proc_cgroup
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .filter(|c| !c.is_empty())
            .map(|c| sorted(c.split(',').map(str::to_string).collect()))
            .collect();
        let mut layout = Layout {
            v1: Vec::new(),
            unified: None,
        };
        for m in mountinfo.lines().filter_map(parse_mount) {
            match m.fstype {
                "cgroup2" if layout.unified.is_none() => {
                    let controllers = v2_controllers(&m.mount_point).unwrap_or_default();
                    layout.unified = Some(Hierarchy {
                        controllers: controllers.split_whitespace().map(str::to_string).collect(),
                        mount_point: m.mount_point,
                        root: m.root,
                    });
                }
                "cgroup" => {
                    let controllers = v1_controllers(m.options);
                    let known = joined.contains(&controllers);
                    let seen = layout.v1.iter().any(|h| h.controllers == controllers);
                    if known && !seen && !controllers.is_empty() {
                        layout.v1.push(Hierarchy {
                            controllers,
                            mount_point: m.mount_point,
                            root: m.root,
                        });
                    }
                }
                _ => {}
            }
        }
        if layout.v1.is_empty() && layout.unified.is_none() {
            return Err(CgroupError::Layout(
                "no cgroup or cgroup2 filesystem is mounted".into(),
            ));
        }
        Ok(layout)
    }

    pub fn kind(&self) -> Kind {
        match (self.v1.is_empty(), &self.unified) {
            (true, _) => Kind::V2,
            (false, Some(_)) => Kind::Hybrid,
            (false, None) => Kind::V1,
        }
    }

    /// The v1 hierarchy a /proc/<pid>/cgroup line names by its controllers
    /// field (`cpu,cpuacct`, `name=systemd`), in whatever order it lists them.
    pub fn v1_of_line(&self, controllers: &str) -> Option<&Hierarchy> {
        let names = sorted(controllers.split(',').map(str::to_string).collect());
        self.v1.iter().find(|h| h.controllers == names)
    }

    /// The v1 hierarchy that carries `controller`, if it is mounted.
    pub fn v1(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
    }

    /// Whether the cgroup2 hierarchy offers `controller`.
    pub fn v2_has(&self, controller: &str) -> bool {
        self.unified
            .as_ref()
            .is_some_and(|h| h.controllers.iter().any(|c| c == controller))
    }

    /// Why `controller` cannot be used, for an error message.
    pub fn why_missing(&self, controller: &str) -> String {
        match &self.unified {
            Some(u) if self.v1.is_empty() => format!(
                "the cgroup2 hierarchy at {} does not offer the {controller} controller \
                 (its cgroup.controllers: {:?})",
                u.mount_point.display(),
                u.controllers.join(" ")
            ),
            Some(u) => format!(
                "the {controller} controller is neither mounted as a cgroup v1 hierarchy nor \
                 offered by cgroup2 at {} (its cgroup.controllers: {:?})",
                u.mount_point.display(),
                u.controllers.join(" ")
            ),
            None => format!(
                "the {controller} controller is not mounted as a cgroup v1 hierarchy and \
                 there is no cgroup2 mount"
            ),
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn v1_controllers(options: &str) -> Vec<String> {
    sorted(
        options
            .split(',')
            .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
            .map(str::to_string)
            .collect(),
    )
}

struct Mount<'a> {
    root: PathBuf,
    mount_point: PathBuf,
    fstype: &'a str,
    /// Superblock options: for cgroup v1 they name the controllers.
    options: &'a str,
}

/// The fields of one mountinfo line (proc(5)) that matter here.
fn parse_mount(line: &str) -> Option<Mount<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 5 || r.len() < 3 {
        return None;
    }
    Some(Mount {
        root: PathBuf::from(unescape(l[3])),
        mount_point: PathBuf::from(unescape(l[4])),
        fstype: r[0],
        options: r[2],
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let digits = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match digits {
            Some(d) => {
                out.push(d.iter().fold(0u8, |acc, c| (acc << 3) | (c - b'0')));
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

#[cfg(test)]
pub mod tests {
    use super::*;

    /// This host's lines (hybrid: v1 controllers, cpu and cpuacct apart,
    /// and cgroup2 at /sys/fs/cgroup/unified with hugetlb).
    pub const HOST_MOUNTINFO: &str = "\
23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub const HOST_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/7cf6786d63cce6e83fef8a67516f842e
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    pub fn host() -> Layout {
        Layout::parse(HOST_MOUNTINFO, HOST_CGROUP, |_| Some("hugetlb\n".into())).unwrap()
    }

    #[test]
    fn this_hosts_hybrid_layout() {
        let l = host();
        assert_eq!(l.kind(), Kind::Hybrid);
        assert_eq!(l.v1.len(), 9);
        assert_eq!(
            l.v1("memory").unwrap().mount_point,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert_eq!(l.v1("cpuacct").unwrap().controllers, ["cpuacct"]);
        assert!(l.v1("name=systemd").is_some());
        assert!(l.v1("hugetlb").is_none() && l.v1("net_cls").is_none());
        let u = l.unified.as_ref().unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert!(l.v2_has("hugetlb") && !l.v2_has("memory"));
        assert!(l.why_missing("net_cls").contains("\"hugetlb\""));
    }

    #[test]
    fn pure_v2() {
        let mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - \
                  cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let l = Layout::parse(mi, "0::/user.slice/session-1.scope\n", |p| {
            assert_eq!(p, Path::new("/sys/fs/cgroup"));
            Some("cpuset cpu io memory hugetlb pids rdma misc\n".into())
        })
        .unwrap();
        assert_eq!(l.kind(), Kind::V2);
        assert!(l.v1("memory").is_none() && l.v2_has("memory") && l.v2_has("io"));
    }

    #[test]
    fn pure_v1_with_joined_and_options() {
        let mi = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/cpuset rw shared:15 - cgroup cgroup rw,cpuset,clone_children
32 25 0:29 / /sys/fs/cgroup/memory rw shared:16 - cgroup cgroup rw,memory
90 23 0:29 /docker/abc /mnt/memory\\040bind rw - cgroup cgroup rw,memory
";
        let pc = "5:memory:/\n4:cpuset:/\n3:net_cls,net_prio:/\n2:cpu,cpuacct:/\n1:name=systemd:/init.scope\n";
        let l = Layout::parse(mi, pc, |_| panic!("no cgroup2 here")).unwrap();
        assert_eq!(l.kind(), Kind::V1);
        assert_eq!(l.v1.len(), 5, "the second memory mount is ignored");
        let cpu = l.v1("cpuacct").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(l.v1("cpuset").unwrap().controllers, ["cpuset"]);
        assert!(l.v1("net_prio").is_some());
        assert!(l.why_missing("pids").contains("no cgroup2 mount"));
    }

    #[test]
    fn mount_of_a_subtree_and_escapes() {
        let mi = "90 23 0:29 /docker/a\\040b /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi, "4:memory:/\n", |_| None).unwrap();
        assert_eq!(l.v1[0].root, Path::new("/docker/a b"));
        assert!(Layout::parse("", "", |_| None).is_err());
    }
}
