//! Device rules on cgroup2: there is no devices controller, so keel loads
//! its own eBPF program (see `device_prog`) and attaches it to the
//! container's cgroup. A new program replaces the old one atomically
//! (BPF_F_REPLACE), or where the kernel lacks that, is attached next to it
//! before the old one is detached: while both run a device needs both to
//! allow it, so no moment denies what both rule sets allow.
//!
//! The programs go away with the cgroup directory; nothing to undo on
//! remove.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::bpf;
use super::device_prog::{self, MAX_RULES};
use crate::cgroups::device_rules::{self, DeviceRule};
use crate::cgroups::error::CgroupError;

const FIELD: &str = "linux.resources.devices";

/// The checked rules, or the error naming the first bad one.
pub fn rules(r: &LinuxResources) -> Result<Option<Vec<DeviceRule>>, CgroupError> {
    let Some(list) = r.devices() else {
        return Ok(None);
    };
    if list.len() > MAX_RULES {
        let msg = format!(
            "{} rules; at most {MAX_RULES} fit in a device program",
            list.len()
        );
        return Err(CgroupError::invalid(FIELD, msg));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, rule) in list.iter().enumerate() {
        let checked = device_rules::parse(rule)
            .map_err(|msg| CgroupError::invalid(format!("{FIELD}[{i}]"), msg))?;
        out.push(checked);
    }
    Ok(Some(out))
}

pub fn apply(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(rules) = rules(r)? else {
        return Ok(());
    };
    let prog =
        bpf::load(&device_prog::program(&rules)).map_err(|msg| CgroupError::invalid(FIELD, msg))?;
    install(dir, &prog)
        .map_err(|msg| CgroupError::invalid(FIELD, format!("{}: {msg}", dir.display())))
}

/// Attach `prog` to the cgroup at `dir` in place of the device programs
/// already attached there.
pub fn install(dir: &Path, prog: &OwnedFd) -> Result<(), String> {
    let cgroup = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| format!("open: {e}"))?;
    let (ids, mode) = bpf::query(cgroup.as_fd()).map_err(|e| format!("query programs: {e}"))?;
    let old: Vec<OwnedFd> = ids
        .iter()
        .map(|id| bpf::prog_fd(*id).map_err(|e| format!("open attached program {id}: {e}")))
        .collect::<Result<_, _>>()?;
    let attach = |flags, replace| {
        bpf::attach(cgroup.as_fd(), prog.as_fd(), flags, replace)
            .map_err(|e| format!("attach the device program: {e}"))
    };
    if !old.is_empty() && mode & bpf::F_ALLOW_MULTI == 0 {
        // Someone attached in exclusive mode: attaching again with the
        // same flags swaps the program in one step.
        return attach(mode, None);
    }
    if let [one] = old.as_slice() {
        let flags = bpf::F_ALLOW_MULTI | bpf::F_REPLACE;
        if attach(flags, Some(one.as_fd())).is_ok() {
            return Ok(());
        }
    }
    attach(bpf::F_ALLOW_MULTI, None)?;
    for fd in &old {
        bpf::detach(cgroup.as_fd(), fd.as_fd())
            .map_err(|e| format!("detach the previous device program: {e}"))?;
    }
    Ok(())
}

/// How many device programs are attached directly to `dir`.
#[cfg(test)]
pub fn attached(dir: &Path) -> Result<usize, String> {
    let cgroup = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| format!("open {}: {e}", dir.display()))?;
    bpf::query(cgroup.as_fd())
        .map(|(ids, _)| ids.len())
        .map_err(|e| format!("query programs: {e}"))
}
