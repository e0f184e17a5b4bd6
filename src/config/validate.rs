//! Checks on a parsed spec that need no side effects, collected so that one
//! run reports every problem, each with its JSON path.

use super::Problem;
use crate::namespaces;
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimit, Process, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Resolve `root.path` against the bundle and check it is a directory.
pub fn resolve_rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf, Problem> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Problem::new("root", "missing: the root filesystem path is required"))?;
    if root.path().as_os_str().is_empty() {
        return Err(Problem::new(
            "root.path",
            "missing: the root filesystem path is required",
        ));
    }
    let path = bundle.join(root.path());
    let canonical = path
        .canonicalize()
        .map_err(|e| Problem::new("root.path", format!("{:?}: {e}", path)))?;
    if !canonical.is_dir() {
        return Err(Problem::new(
            "root.path",
            format!("{path:?} is not a directory"),
        ));
    }
    Ok(canonical)
}

pub fn validate(spec: &Spec) -> Vec<Problem> {
    let mut problems = Vec::new();
    // config.md: process is optional; runtime.md: then `start` fails.
    if let Some(process) = spec.process() {
        check_process(process, "process.", &mut problems);
    }
    check_namespaces(spec, &mut problems);
    check_uts(spec, &mut problems);
    check_sysctl(spec, &mut problems);
    check_unsupported(spec, &mut problems);
    for (path, message) in crate::hooks::validate(spec.hooks().as_ref()) {
        problems.push(Problem::new(path, message));
    }
    if let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        for (path, message) in crate::seccomp::validate(seccomp) {
            problems.push(Problem::new(path, message));
        }
    }
    for (path, message) in crate::cgroups::validate(spec) {
        problems.push(Problem::new(path, message));
    }
    for (path, message) in crate::netdev::validate(spec) {
        problems.push(Problem::new(path, message));
    }
    for (path, message) in crate::userns::validate(spec)
        .into_iter()
        .chain(crate::timens::validate(spec))
    {
        problems.push(Problem::new(path, message));
    }
    for (path, message) in crate::rootfs::validate(spec) {
        problems.push(Problem::new(path, message));
    }
    if let Some(linux) = spec.linux() {
        for (path, message) in crate::process::linux_attrs::validate(linux) {
            problems.push(Problem::new(path, message));
        }
    }
    problems
}

/// Checks on a process, from config.json (`prefix` "process.") or from an
/// exec process document (`prefix` empty), so both name the same fields.
pub(super) fn check_process(process: &Process, prefix: &str, problems: &mut Vec<Problem>) {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        problems.push(Problem::new(
            format!("{prefix}args"),
            "must name the program to run (empty or missing)",
        ));
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        problems.push(Problem::new(
            format!("{prefix}cwd"),
            format!("must be an absolute path, got {cwd:?}"),
        ));
    }
    if let Some(rlimits) = process.rlimits() {
        check_rlimits(rlimits, prefix, problems);
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            problems.push(Problem::new(
                format!("{prefix}oomScoreAdj"),
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    for (path, message) in crate::process::attributes::validate(process, prefix) {
        problems.push(Problem::new(path, message));
    }
    if let Some(user) = process.user().username() {
        problems.push(Problem::new(
            format!("{prefix}user.username"),
            format!("{user:?}: only numeric uid/gid are supported on Linux"),
        ));
    }
}

fn check_rlimits(rlimits: &[PosixRlimit], prefix: &str, problems: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    let can_raise = crate::rlimits::can_raise_hard_limits();
    for (i, rl) in rlimits.iter().enumerate() {
        let path = format!("{prefix}rlimits[{i}]");
        let name = crate::rlimits::name(rl.typ());
        if !seen.insert(name) {
            problems.push(Problem::new(
                format!("{path}.type"),
                format!("{name} is set twice"),
            ));
        }
        if rl.soft() > rl.hard() {
            let msg = format!(
                "{name} soft limit {} is above its hard limit {}",
                rl.soft(),
                rl.hard()
            );
            problems.push(Problem::new(&path, msg));
        }
        let current = crate::rlimits::current_hard(rl.typ());
        if rl.hard() > current && !can_raise {
            let msg = format!(
                "{name} hard limit {} is above the caller's hard limit {current}, and raising it \
                 needs CAP_SYS_RESOURCE, which keel does not have",
                rl.hard()
            );
            problems.push(Problem::new(format!("{path}.hard"), msg));
        }
    }
}

fn check_namespaces(spec: &Spec, problems: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    for (i, ns) in namespaces::list(spec).iter().enumerate() {
        let name = namespaces::name(ns.typ());
        if !seen.insert(name) {
            problems.push(Problem::new(
                format!("linux.namespaces[{i}].type"),
                format!("{name:?} is listed twice"),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                problems.push(Problem::new(
                    format!("linux.namespaces[{i}].path"),
                    format!("{path:?} is not absolute"),
                ));
            }
        }
    }
    // Without a mount namespace the container's mounts are made in the
    // runtime's, which only the runtime's user namespace may change.
    if !namespaces::has(spec, LinuxNamespaceType::Mount)
        && namespaces::has(spec, LinuxNamespaceType::User)
    {
        let msg = "a user namespace needs a mount namespace too: the runtime's own cannot \
                   be changed from inside a user namespace";
        problems.push(Problem::new("linux.namespaces", msg));
    }
}

/// Security settings keel cannot honour on this host. Running without
/// what the config asks for would silently weaken the container, so each
/// is an error: an LSM label where the host lacks the LSM, Intel RDT.
fn check_unsupported(spec: &Spec, problems: &mut Vec<Problem>) {
    for (path, message) in crate::lsm::validate(spec) {
        problems.push(Problem::new(path, message));
    }
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.intel_rdt().is_some())
    {
        problems.push(Problem::new("linux.intelRdt", intel_rdt_problem()));
    }
}

/// Why `linux.intelRdt` cannot be honoured: the spec requires an error
/// when no resctrl filesystem is mounted, and keel does not drive one yet.
fn intel_rdt_problem() -> String {
    let mounted = crate::procfs::read::text("/proc/self/mountinfo")
        .is_ok_and(|t| t.lines().any(|l| l.contains(" - resctrl ")));
    if mounted {
        "Intel RDT (resctrl) is not supported by keel yet".into()
    } else {
        "Intel RDT needs a mounted resctrl filesystem, and this host has none".into()
    }
}

/// config.md only says a hostname is set in the container's UTS namespace;
/// that may be one joined by path (runc accepts it too). What must not
/// happen is renaming the host: with no uts entry, or one whose path is the
/// runtime's own namespace, the container would share it.
fn check_uts(spec: &Spec, problems: &mut Vec<Problem>) {
    let own_uts = namespaces::list(spec)
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Uts)
        .is_some_and(|n| n.path().as_deref().is_none_or(|p| !is_runtime_uts(p)));
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_ref().is_some_and(|v| !v.is_empty()) && !own_uts {
            problems.push(Problem::new(
                field,
                format!(
                    "setting a {field} needs a uts namespace in linux.namespaces \
                     other than the runtime's own"
                ),
            ));
        }
    }
}

/// Whether `path` names the uts namespace keel itself runs in. A path that
/// cannot be read is left to the join step, which reports it.
fn is_runtime_uts(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata("/proc/self/ns/uts");
    match (std::fs::metadata(path), ours) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Which namespace makes a sysctl safe to set, following the kernel's list
/// of namespaced sysctls; anything else would change the host.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

fn check_sysctl(spec: &Spec, problems: &mut Vec<Problem>) {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return;
    };
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let path = format!("linux.sysctl.{key}");
        if key.contains("..") || key.contains('/') && key.contains('.') {
            problems.push(Problem::new(path, "not a valid sysctl name"));
            continue;
        }
        match sysctl_namespace(&key.replace('/', ".")) {
            None => problems.push(Problem::new(
                path,
                "not a namespaced sysctl: setting it would change the host",
            )),
            Some(ns) if !namespaces::creates(spec, ns) => {
                let msg = format!(
                    "needs a new {} namespace in linux.namespaces",
                    namespaces::name(ns)
                );
                problems.push(Problem::new(path, msg));
            }
            Some(_) => {}
        }
    }
}
