//! A user namespace joined by path whose config also gives
//! `linux.uidMappings`/`gidMappings`. The namespace's maps were written
//! when it was made, so the config's are only a claim about them (engines
//! such as containerd and CRI-O send both). A wrong claim means the engine
//! prepared the rootfs for ids the container will not have: refused, as
//! runc 1.2 does, naming what the namespace really maps.
//!
//! Where the maps are read: the parent reads /proc/<init>/uid_map of the
//! init, which it has just cloned into that namespace and which waits for
//! `Mapped` (as in a new user namespace) before doing anything there. That
//! costs no extra process (runc forks one to enter the namespace, unless
//! the path names a pid) and no new kind of message; the pid is our
//! unreaped child, so it cannot have been reused; and read from keel's own
//! user namespace, the host ids come out as keel's, the ids the config
//! speaks of and `validate` checks against.

use super::{mappings, parse_map, Extent, Ids, UsernsError};
use crate::namespaces::Join;
use crate::procfs::{ProcError, ProcRoot};
use oci_spec::runtime::Spec;
use std::io::Read;

/// Compare each list the config gives with the map of `pid`'s user
/// namespace, joined from `join`. Order does not count: the kernel lists
/// a map of more than five lines sorted, whatever order it was written in.
pub fn check_joined(
    proc: &ProcRoot,
    pid: i32,
    spec: &Spec,
    join: &Join,
) -> Result<(), UsernsError> {
    for ids in [Ids::Uid, Ids::Gid] {
        let given = mappings(spec, ids);
        if given.is_empty() {
            continue;
        }
        let mut want: Vec<Extent> = given
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        want.sort_unstable();
        let real = read_map(proc, pid, ids)?;
        if want != real {
            return Err(UsernsError::Mismatch {
                field: ids.field(),
                given: describe(&want),
                label: join.label.to_string(),
                path: join.path.clone(),
                real: describe(&real),
            });
        }
    }
    Ok(())
}

/// The map of `pid`'s user namespace, sorted.
fn read_map(proc: &ProcRoot, pid: i32, ids: Ids) -> Result<Vec<Extent>, UsernsError> {
    let rel = format!("{pid}/{}", ids.proc_file());
    let fd = proc
        .open_file(&rel, libc::O_RDONLY)
        .map_err(UsernsError::Read)?;
    let mut text = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut text)
        .map_err(|source| {
            let path = rel.clone();
            UsernsError::Read(ProcError::Io { path, source })
        })?;
    let mut map = parse_map(&text).ok_or_else(|| UsernsError::BadMap {
        path: format!("/proc/{rel}"),
        text: text.trim().replace('\n', "; "),
    })?;
    map.sort_unstable();
    Ok(map)
}

/// A map as the config would give it: "containerID hostID size" lines,
/// or "nothing" for a namespace without one.
fn describe(map: &[Extent]) -> String {
    if map.is_empty() {
        return "nothing".to_string();
    }
    let lines: Vec<String> = map
        .iter()
        .map(|(inside, host, size)| format!("{inside} {host} {size}"))
        .collect();
    lines.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_described_as_the_config_gives_them() {
        assert_eq!(
            describe(&[(0, 100000, 65536), (65536, 1000, 1)]),
            "0 100000 65536, 65536 1000 1"
        );
        assert_eq!(describe(&[]), "nothing");
    }
}
