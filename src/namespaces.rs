//! Namespaces: which to create with the init's clone, which to join by path.

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("linux.namespaces[{index}]: open {path:?}: {source}")]
    Open {
        index: usize,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("linux.namespaces[{index}]: join {kind} namespace {path:?}: {source}")]
    Join {
        index: usize,
        kind: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
}

/// One namespace to join: already opened, so a path that vanishes later or a
/// mount over it cannot change which namespace we enter.
pub struct Join {
    pub index: usize,
    pub kind: LinuxNamespaceType,
    pub path: PathBuf,
    pub file: File,
}

/// What the init's clone creates and what it joins afterwards.
pub struct Plan {
    pub clone_flags: libc::c_int,
    pub joins: Vec<Join>,
}

pub fn name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

pub fn clone_flag(kind: LinuxNamespaceType) -> libc::c_int {
    match kind {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

pub fn list(spec: &Spec) -> &[LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[])
}

/// Whether the config gives the container a namespace of `kind` (new or joined).
pub fn has(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    list(spec).iter().any(|n| n.typ() == kind)
}

/// Whether the config creates a new namespace of `kind`.
pub fn creates(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    list(spec)
        .iter()
        .any(|n| n.typ() == kind && n.path().is_none())
}

/// Open every namespace to join and collect the flags of the new ones.
pub fn plan(spec: &Spec) -> Result<Plan, NamespaceError> {
    let mut plan = Plan {
        clone_flags: 0,
        joins: Vec::new(),
    };
    for (index, ns) in list(spec).iter().enumerate() {
        match ns.path() {
            None => plan.clone_flags |= clone_flag(ns.typ()),
            Some(path) => {
                let file = File::open(path).map_err(|source| NamespaceError::Open {
                    index,
                    path: path.clone(),
                    source,
                })?;
                plan.joins.push(Join {
                    index,
                    kind: ns.typ(),
                    path: path.clone(),
                    file,
                });
            }
        }
    }
    Ok(plan)
}

/// setns into `join`. A pid namespace is joined by the parent before the
/// clone (it only applies to children); everything else by the init itself.
pub fn enter(join: &Join) -> Result<(), NamespaceError> {
    let flags = nix::sched::CloneFlags::from_bits_truncate(clone_flag(join.kind));
    nix::sched::setns(join.file.as_fd(), flags).map_err(|source| NamespaceError::Join {
        index: join.index,
        kind: name(join.kind),
        path: join.path.clone(),
        source,
    })
}
