//! Idmapped bind mounts (config.md: the `idmap` and `ridmap` options and
//! `mounts[].uidMappings`/`gidMappings`): which mounts ask for one, what
//! is wrong with the request, and the init's part in making them.
//!
//! Three steps, split by what the kernel lets each process do:
//! 1. the init clones each source's tree (open_tree OPEN_TREE_CLONE) in
//!    its own mount namespace, once the tree around the rootfs is
//!    prepared and before the config's mounts: the copy is what a plain
//!    bind made there would get, locked flags included, so a read-only
//!    host mount stays read-only for a container in a user namespace (a
//!    copy made by keel outside that namespace would carry no lock);
//! 2. the parent, root in the host's user namespace, sets the mapping on
//!    that detached copy (mount_setattr MOUNT_ATTR_IDMAP, src/idmap.rs):
//!    that takes CAP_SYS_ADMIN over the filesystem, which an init in a
//!    user namespace never has;
//! 3. the init attaches each tree in config order, as a bind (bind.rs).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};

use super::error::{RootfsError, StepError};
use super::mounts::{self, Kind};
use super::options::{Idmap, MountOptions, IDMAP, RIDMAP};
use crate::userns::{self, Ids};

type Problem = (String, String);

/// One idmapped bind mount of the config.
pub struct Idmapped<'a> {
    /// Its index in `mounts`.
    pub index: usize,
    pub source: &'a Path,
    /// rbind: the tree holds the mounts below the source too.
    pub whole_tree: bool,
    /// ridmap: the mapping applies to every mount of the tree.
    pub recursive: bool,
    /// The mount's own uid and gid mappings; None: the container's user
    /// namespace supplies them (config.md allows either).
    pub mappings: Option<(&'a [LinuxIdMapping], &'a [LinuxIdMapping])>,
}

/// Whether `m` asks for an idmapped mount: by an option, or by mappings
/// alone (config.md: the options SHOULD name one, so that older runtimes
/// notice; runc then maps the top mount only, and so does keel).
pub fn requested(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap.is_some() || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// The config's idmapped bind mounts, in order (mounts that validation
/// refuses are left out).
pub fn idmapped(spec: &Spec) -> Vec<Idmapped<'_>> {
    let mut out = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let (kind, e) = mounts::entry(m);
        let Some(source) = e.source.filter(|_| kind == Kind::Bind) else {
            continue;
        };
        if !requested(m, &e.opts) {
            continue;
        }
        let mappings = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(u), Some(g)) => Some((u.as_slice(), g.as_slice())),
            _ => None,
        };
        out.push(Idmapped {
            index,
            source,
            whole_tree: e.opts.flags & libc::MS_REC != 0,
            recursive: matches!(e.opts.idmap, Some((_, Idmap::Recursive))),
            mappings,
        });
    }
    out
}

/// Every problem of the config's idmapped mounts, as (JSON path, message).
pub fn problems(spec: &Spec) -> Vec<Problem> {
    let userns = crate::namespaces::has(spec, LinuxNamespaceType::User);
    let mut out = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let (kind, e) = mounts::entry(m);
        if requested(m, &e.opts) {
            out.extend(mount_problems(
                index,
                m,
                kind == Kind::Bind,
                &e.opts,
                userns,
            ));
        }
    }
    out
}

fn mount_problems(
    index: usize,
    m: &Mount,
    bind: bool,
    opts: &MountOptions,
    userns: bool,
) -> Vec<Problem> {
    let field = |f: &str| format!("mounts[{index}].{f}");
    // A problem with the request as a whole is reported at its option, or
    // at the mappings that made it.
    let (at, what) = match opts.idmap {
        Some((j, kind)) => {
            let name = if kind == Idmap::Top { IDMAP } else { RIDMAP };
            (field(&format!("options[{j}]")), format!("{name:?}"))
        }
        None if m.uid_mappings().is_some() => (field("uidMappings"), "id mappings".into()),
        None => (field("gidMappings"), "id mappings".into()),
    };
    if !bind {
        let msg = format!("{what}: an idmapped mount must be a bind mount (\"bind\" or \"rbind\")");
        return vec![(at, msg)];
    }
    match (m.uid_mappings(), m.gid_mappings()) {
        (None, None) if !userns => vec![(
            at,
            format!(
                "{what} without uidMappings and gidMappings takes the container's user \
                 namespace mappings, and linux.namespaces has no user namespace"
            ),
        )],
        (None, None) => Vec::new(),
        (Some(_), None) => vec![(field("gidMappings"), "is required with uidMappings".into())],
        (None, Some(_)) => vec![(field("uidMappings"), "is required with gidMappings".into())],
        (Some(uids), Some(gids)) => {
            let mut out = list_problems(index, Ids::Uid, uids);
            out.extend(list_problems(index, Ids::Gid, gids));
            out
        }
    }
}

/// The rules of `linux.uidMappings` (the list becomes a user namespace's
/// map all the same), reported at the mount's own field.
fn list_problems(index: usize, ids: Ids, list: &[LinuxIdMapping]) -> Vec<Problem> {
    let name = match ids {
        Ids::Uid => "uidMappings",
        Ids::Gid => "gidMappings",
    };
    let ours = format!("mounts[{index}].{name}");
    if list.is_empty() {
        return vec![(ours, "needs at least one mapping".into())];
    }
    // Every host id: keel runs as root in the host's user namespace here,
    // and the kernel has the last word when the map is written.
    let any_host_id = [(0, 1u64 << 32)];
    let theirs = format!("linux.{name}");
    userns::check_list(ids, list, &any_host_id, None)
        .into_iter()
        .map(|(path, msg)| (path.replace(&theirs, &ours), msg.replace(&theirs, &ours)))
        .collect()
}

/// Detached copies of the idmapped mounts' sources, made by the init in
/// its own mount namespace (step 1), each by the index of its mount.
#[derive(Default)]
pub struct Trees(Vec<(usize, OwnedFd)>);

impl Trees {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (mount index, fd number) of each tree: the parent fetches them from
    /// the init with pidfd_getfd.
    pub fn fds(&self) -> Vec<(usize, RawFd)> {
        self.0.iter().map(|(i, fd)| (*i, fd.as_raw_fd())).collect()
    }

    pub(super) fn take(&mut self, index: usize) -> Option<OwnedFd> {
        let at = self.0.iter().position(|(i, _)| *i == index)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// Step 1: clone the source of every idmapped mount (with the mounts below
/// it for rbind). The sources are host paths, resolved as a plain bind's
/// (relative to the current directory).
pub fn clone_trees(spec: &Spec) -> Result<Trees, RootfsError> {
    let mut trees = Vec::new();
    for m in idmapped(spec) {
        let tree = crate::syscall::open_tree_clone(m.source, m.whole_tree).map_err(|err| {
            let op = format!("clone the tree of {:?} to idmap it", m.source);
            RootfsError::Mount {
                index: m.index,
                err: StepError::sys(op, err),
            }
        })?;
        trees.push((m.index, tree));
    }
    Ok(Trees(trees))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mounts: serde_json::Value, userns: bool) -> Spec {
        let ns = if userns {
            serde_json::json!([{"type": "mount"}, {"type": "user"}])
        } else {
            serde_json::json!([{"type": "mount"}])
        };
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "mounts": mounts, "linux": {"namespaces": ns}
        }))
        .unwrap()
    }

    fn map(c: u32, h: u32, s: u32) -> serde_json::Value {
        serde_json::json!([{"containerID": c, "hostID": h, "size": s}])
    }

    #[test]
    fn options_and_mappings_make_idmapped_binds() {
        let s = spec(
            serde_json::json!([
                {"destination": "/a", "source": "/x", "options": ["rbind", "ridmap"]},
                {"destination": "/b", "source": "/x", "options": ["bind"],
                 "uidMappings": map(0, 1000, 1), "gidMappings": map(0, 1000, 1)},
                {"destination": "/c", "source": "/x", "options": ["rbind"]}
            ]),
            true,
        );
        let list = idmapped(&s);
        assert_eq!(list.len(), 2);
        let (a, b) = (&list[0], &list[1]);
        assert_eq!((a.index, a.whole_tree, a.recursive), (0, true, true));
        assert!(a.mappings.is_none());
        assert_eq!((b.index, b.whole_tree, b.recursive), (1, false, false));
        assert_eq!(b.mappings.unwrap().0[0].host_id(), 1000);
    }

    #[test]
    fn problems_are_located() {
        let overlapping = serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 10},
            {"containerID": 5, "hostID": 5000, "size": 1}
        ]);
        let s = spec(
            serde_json::json!([
                {"destination": "/a", "type": "tmpfs", "options": ["idmap"]},
                {"destination": "/b", "source": "/x", "options": ["rbind", "ridmap"]},
                {"destination": "/c", "source": "/x", "options": ["bind"],
                 "uidMappings": map(0, 1, 1)},
                {"destination": "/d", "source": "/x", "options": ["bind", "idmap"],
                 "uidMappings": overlapping, "gidMappings": []},
                {"destination": "/e", "type": "tmpfs", "gidMappings": map(0, 1, 1)}
            ]),
            false,
        );
        let got = problems(&s);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "mounts[0].options[0]",
                "mounts[1].options[1]",
                "mounts[2].gidMappings",
                "mounts[3].uidMappings[1]",
                "mounts[3].gidMappings",
                "mounts[4].gidMappings",
            ],
            "{got:?}"
        );
        assert!(got[0]
            .1
            .starts_with("\"idmap\": an idmapped mount must be a bind"));
        assert!(got[1].1.contains("no user namespace"), "{got:?}");
        assert_eq!(
            got[3].1,
            "container ids overlap with mounts[3].uidMappings[0]"
        );
        assert_eq!(got[4].1, "needs at least one mapping");
        assert!(got[5]
            .1
            .starts_with("id mappings: an idmapped mount must be"));
        let with_userns = spec(serde_json::json!([s.mounts().as_ref().unwrap()[1]]), true);
        assert!(problems(&with_userns).is_empty());
    }
}
