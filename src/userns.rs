//! User namespaces: checking `linux.uidMappings`/`gidMappings`, writing
//! them for a new init (directly, or through newuidmap/newgidmap when the
//! caller may not), and what the init does once it is mapped.

mod joined;

pub use joined::check_joined;

use crate::procfs::{ProcError, ProcRoot};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::path::PathBuf;
use std::process::Command;

/// The kernel refuses more lines than this in uid_map and gid_map.
const MAX_LINES: usize = 340;

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("user namespace: {0}")]
    Proc(ProcError),
    #[error("user namespace: write {0}")]
    Write(ProcError),
    #[error("user namespace: read {0}")]
    Read(ProcError),
    #[error("user namespace: {path}: not an id map: {text:?}")]
    BadMap { path: String, text: String },
    #[error(
        "config.json: {field}: {given} does not match the user namespace joined by {label} \
         ({path:?}), which maps {real}"
    )]
    Mismatch {
        field: &'static str,
        given: String,
        label: String,
        path: PathBuf,
        real: String,
    },
    #[error("user namespace: run {tool}: {source} (is the uidmap package installed?)")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("user namespace: {tool} failed: {output}")]
    Tool { tool: &'static str, output: String },
    #[error("user namespace: become root: {0}")]
    Root(nix::Error),
}

/// One kind of id: uids or gids.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ids {
    Uid,
    Gid,
}

impl Ids {
    fn field(self) -> &'static str {
        match self {
            Ids::Uid => "linux.uidMappings",
            Ids::Gid => "linux.gidMappings",
        }
    }
    fn proc_file(self) -> &'static str {
        match self {
            Ids::Uid => "uid_map",
            Ids::Gid => "gid_map",
        }
    }
    fn tool(self) -> &'static str {
        match self {
            Ids::Uid => "newuidmap",
            Ids::Gid => "newgidmap",
        }
    }
    fn subid_file(self) -> &'static str {
        match self {
            Ids::Uid => "/etc/subuid",
            Ids::Gid => "/etc/subgid",
        }
    }
    fn caller(self) -> u32 {
        match self {
            Ids::Uid => nix::unistd::geteuid().as_raw(),
            Ids::Gid => nix::unistd::getegid().as_raw(),
        }
    }
}

pub fn mappings(spec: &Spec, ids: Ids) -> &[LinuxIdMapping] {
    let linux = spec.linux().as_ref();
    let list = match ids {
        Ids::Uid => linux.and_then(|l| l.uid_mappings().as_ref()),
        Ids::Gid => linux.and_then(|l| l.gid_mappings().as_ref()),
    };
    list.map(Vec::as_slice).unwrap_or_default()
}

/// A half-open range of ids, [start, end).
type Range = (u64, u64);

fn range(start: u32, size: u32) -> Range {
    (u64::from(start), u64::from(start) + u64::from(size))
}

fn overlaps(a: Range, b: Range) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn covered(r: Range, by: &[Range]) -> bool {
    // Ranges of one map never overlap, so walking them in order suffices.
    let mut sorted = by.to_vec();
    sorted.sort();
    let mut next = r.0;
    for (s, e) in sorted {
        if s <= next && next < e {
            next = e;
        }
        if next >= r.1 {
            return true;
        }
    }
    next >= r.1
}

/// Every problem with the mappings of a config, as (JSON path, message).
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let user = crate::namespaces::list(spec)
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::User);
    for ids in [Ids::Uid, Ids::Gid] {
        let list = mappings(spec, ids);
        match user {
            None if !list.is_empty() => out.push((
                ids.field().to_string(),
                "id mappings need a user namespace in linux.namespaces".to_string(),
            )),
            Some(ns) if ns.path().is_none() && list.is_empty() => out.push((
                ids.field().to_string(),
                "a new user namespace needs at least one mapping".to_string(),
            )),
            _ => {}
        }
        if list.is_empty() {
            // Nothing to check, so none of the files below is read: this
            // runs on every create.
            continue;
        }
        let parent = parent_ranges(ids);
        let delegated = (!nix::unistd::geteuid().is_root()).then(|| delegated_ranges(ids));
        out.extend(check_list(ids, list, &parent, delegated.as_deref()));
    }
    out
}

/// Problems of one list: `parent` is what keel's own user namespace maps
/// (a host id outside it cannot be mapped by anyone); `delegated`, for an
/// unprivileged caller, the ids it may hand out (its own and /etc/sub?id).
pub fn check_list(
    ids: Ids,
    list: &[LinuxIdMapping],
    parent: &[Range],
    delegated: Option<&[Range]>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if list.len() > MAX_LINES {
        let msg = format!(
            "{} entries, the kernel takes at most {MAX_LINES}",
            list.len()
        );
        out.push((ids.field().to_string(), msg));
    }
    for (i, m) in list.iter().enumerate() {
        let path = format!("{}[{i}]", ids.field());
        let (inside, host) = (
            range(m.container_id(), m.size()),
            range(m.host_id(), m.size()),
        );
        let msg = if m.size() == 0 {
            "size must be at least 1".to_string()
        } else if inside.1 > 1 << 32 || host.1 > 1 << 32 {
            "containerID or hostID plus size exceeds 2^32".to_string()
        } else if let Some(j) = list[..i]
            .iter()
            .position(|o| overlaps(inside, range(o.container_id(), o.size())))
        {
            format!("container ids overlap with {}[{j}]", ids.field())
        } else if let Some(j) = list[..i]
            .iter()
            .position(|o| overlaps(host, range(o.host_id(), o.size())))
        {
            format!("host ids overlap with {}[{j}]", ids.field())
        } else if !covered(host, parent) {
            format!(
                "host ids {}..{} are not all mapped in keel's own user namespace",
                host.0,
                host.1 - 1
            )
        } else if delegated.is_some_and(|d| !covered(host, d)) {
            format!(
                "host ids {}..{} are not delegated to the caller (id {} and {})",
                host.0,
                host.1 - 1,
                ids.caller(),
                ids.subid_file()
            )
        } else {
            continue;
        };
        out.push((path, msg));
    }
    out
}

/// The host ids keel's own user namespace maps (its parent's range).
fn parent_ranges(ids: Ids) -> Vec<Range> {
    let text = crate::procfs::read::text(format!("/proc/self/{}", ids.proc_file()));
    parse_map(&text.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .map(|(inside, _, size)| range(inside, size))
        .collect()
}

/// One line of a uid_map or gid_map: id inside, id outside, size.
type Extent = (u32, u32, u32);

/// The lines of a uid_map or gid_map as the kernel prints them; None if
/// any line is not three numbers.
fn parse_map(text: &str) -> Option<Vec<Extent>> {
    text.lines()
        .map(|line| {
            let f: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            match f[..] {
                [inside, host, size] => Some((inside, host, size)),
                _ => None,
            }
        })
        .collect()
}

/// What an unprivileged caller may map: its own id, and its /etc/subuid or
/// /etc/subgid ranges (by name or number), which newuidmap enforces.
fn delegated_ranges(ids: Ids) -> Vec<Range> {
    let me = ids.caller();
    let uid = nix::unistd::geteuid();
    let name = crate::identity::host_user_name(uid.as_raw());
    let mut out = vec![(u64::from(me), u64::from(me) + 1)];
    let text = std::fs::read_to_string(ids.subid_file()).unwrap_or_default();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        let [who, start, count] = f[..] else { continue };
        let mine = who == uid.as_raw().to_string() || Some(who) == name.as_deref();
        if let (true, Ok(s), Ok(c)) = (mine, start.parse::<u64>(), count.parse::<u64>()) {
            out.push((s, s + c));
        }
    }
    out
}

/// The text of a uid_map or gid_map: "inside host size" lines.
fn map_text(list: &[LinuxIdMapping]) -> String {
    list.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether the caller can write `list` into the map files itself: root
/// (CAP_SETUID/CAP_SETGID in its namespace) always; anyone else only a
/// single line mapping its own id, and for gids only after setgroups is
/// denied.
fn direct(ids: Ids, list: &[LinuxIdMapping]) -> bool {
    nix::unistd::geteuid().is_root()
        || matches!(list, [m] if m.size() == 1 && m.host_id() == ids.caller())
}

/// The procfs the parent writes the init's maps through (and reads a
/// joined namespace's from).
pub fn proc_root() -> Result<ProcRoot, UsernsError> {
    ProcRoot::open().map_err(UsernsError::Proc)
}

/// Write the config's mappings for `pid`, the new init, which waits until
/// they are in place. setgroups is denied only where the kernel requires
/// it: an unprivileged caller writing its own gid (newgidmap needs not).
/// The files are reached through `proc`, never a path: see procfs.rs.
pub fn write(proc: &ProcRoot, pid: i32, spec: &Spec) -> Result<(), UsernsError> {
    let (uids, gids) = (mappings(spec, Ids::Uid), mappings(spec, Ids::Gid));
    let direct_gids = direct(Ids::Gid, gids);
    if direct_gids && !nix::unistd::geteuid().is_root() {
        write_file(proc, pid, "setgroups", "deny")?;
    }
    write_map(proc, pid, Ids::Uid, uids, direct(Ids::Uid, uids))?;
    write_map(proc, pid, Ids::Gid, gids, direct_gids)
}

fn write_map(
    proc: &ProcRoot,
    pid: i32,
    ids: Ids,
    list: &[LinuxIdMapping],
    direct: bool,
) -> Result<(), UsernsError> {
    if direct {
        return write_file(proc, pid, ids.proc_file(), &map_text(list));
    }
    let mut cmd = Command::new(ids.tool());
    cmd.arg(pid.to_string());
    for m in list {
        cmd.args([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let out = cmd.output().map_err(|source| UsernsError::Spawn {
        tool: ids.tool(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(UsernsError::Tool {
        tool: ids.tool(),
        output: text.trim().replace('\n', "; "),
    })
}

fn write_file(proc: &ProcRoot, pid: i32, name: &str, text: &str) -> Result<(), UsernsError> {
    proc.write(&format!("{pid}/{name}"), text)
        .map_err(UsernsError::Write)
}

/// Write `uids` and `gids` as they are into the maps of `pid`, a process
/// of keel's own in a new user namespace (idmapped mounts: the namespace
/// only holds a mapping). For root, which needs neither a helper tool nor
/// setgroups denied.
pub fn write_as_root(
    pid: i32,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<(), UsernsError> {
    let proc = proc_root()?;
    write_file(&proc, pid, Ids::Uid.proc_file(), &map_text(uids))?;
    write_file(&proc, pid, Ids::Gid.proc_file(), &map_text(gids))
}

/// In a new (or joined) user namespace the init starts as an unmapped
/// user; it becomes the namespace's root, which owns its new namespaces.
pub fn become_root() -> Result<(), UsernsError> {
    use nix::unistd::{setresgid, setresuid, Gid, Uid};
    let (gid, uid) = (Gid::from_raw(0), Uid::from_raw(0));
    setresgid(gid, gid, gid).map_err(UsernsError::Root)?;
    setresuid(uid, uid, uid).map_err(UsernsError::Root)
}

/// Whether this process runs in a user namespace other than the initial
/// one (where device nodes cannot be made).
pub fn in_user_namespace() -> bool {
    // The initial namespace maps every id but the invalid one, (u32)-1.
    parent_ranges(Ids::Uid) != [(0, u64::from(u32::MAX))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container: u32, host: u32, size: u32) -> LinuxIdMapping {
        serde_json::from_value(
            serde_json::json!({"containerID": container, "hostID": host, "size": size}),
        )
        .unwrap()
    }

    const ALL: [Range; 1] = [(0, 1 << 32)];

    #[test]
    fn maps_parse_as_the_kernel_prints_them() {
        let text = "         0     100000      65536\n     65536       1000          1\n";
        assert_eq!(
            parse_map(text),
            Some(vec![(0, 100000, 65536), (65536, 1000, 1)])
        );
        assert_eq!(parse_map(""), Some(vec![]));
        assert_eq!(parse_map("0 1\n"), None);
        assert_eq!(parse_map("0 x 1\n"), None);
        assert_eq!(
            parse_map("0 0 4294967295\n"),
            Some(vec![(0, 0, u32::MAX)]),
            "the initial namespace's map"
        );
    }

    #[test]
    fn good_mappings_pass() {
        let list = [m(0, 100000, 65536), m(65536, 1000, 1)];
        assert!(check_list(Ids::Uid, &list, &ALL, None).is_empty());
    }

    #[test]
    fn bad_mappings_name_their_entry() {
        let list = [
            m(0, 100000, 1000),
            m(500, 300000, 10),
            m(2000, 100500, 10),
            m(3000, 5, 0),
            m(4000, u32::MAX, 2),
        ];
        let p = check_list(Ids::Uid, &list, &ALL, None);
        let paths: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            paths,
            [
                "linux.uidMappings[1]",
                "linux.uidMappings[2]",
                "linux.uidMappings[3]",
                "linux.uidMappings[4]"
            ]
        );
        assert_eq!(p[0].1, "container ids overlap with linux.uidMappings[0]");
        assert_eq!(p[1].1, "host ids overlap with linux.uidMappings[0]");
        assert_eq!(p[2].1, "size must be at least 1");
    }

    #[test]
    fn ranges_outside_the_parent_or_delegation_are_refused() {
        let parent = [(0, 1000), (1000, 2000)];
        let list = [m(0, 500, 1000), m(1000, 1900, 200)];
        let p = check_list(Ids::Gid, &list, &parent, None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "linux.gidMappings[1]");
        let delegated = [(500, 501)];
        let p = check_list(Ids::Gid, &[m(0, 500, 2)], &ALL, Some(&delegated));
        assert!(p[0].1.contains("not delegated"), "{p:?}");
    }

    /// The parent's /proc is the host's, which nobody can plant files in:
    /// this is where the refusal is shown, with a tree posing as procfs.
    #[test]
    fn maps_are_never_written_off_procfs() {
        use crate::procfs::planted::{Planted, PID};
        let planted = Planted::new();
        planted.file("uid_map").file("setgroups").link("gid_map");
        let own = |id: u32| vec![m(0, id, 1)];
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {
                "namespaces": [{"type": "user"}],
                "uidMappings": own(Ids::Uid.caller()),
                "gidMappings": own(Ids::Gid.caller()),
            }
        }))
        .unwrap();
        let err = write(&planted.root(), PID, &spec).unwrap_err();
        assert!(
            matches!(err, UsernsError::Write(ProcError::NotProc { .. })),
            "{err}"
        );
        assert!(planted.file_untouched("uid_map") && planted.file_untouched("setgroups"));
        let err = write_file(&planted.root(), PID, "gid_map", "0 0 1\n").unwrap_err();
        assert!(
            matches!(err, UsernsError::Write(ProcError::Io { .. })),
            "{err}"
        );
        assert!(planted.decoy_untouched());
    }
}
