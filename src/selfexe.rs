//! Keeping containers from overwriting keel's own binary (CVE-2019-5736
//! class).
//!
//! Every keel process that enters a container (the init until it execs,
//! an `exec`'d process until it execs) runs keel's binary. A container
//! process allowed to ptrace it can take a handle on that binary through
//! /proc/PID/exe and reopen it for writing once keel has exited. Being
//! non-dumpable does not stop it when the container holds CAP_SYS_PTRACE
//! in the initial user namespace: the check keel's processes get is
//! against that namespace, since their memory comes from the host's keel.
//! A container with its own user namespace, or without CAP_SYS_PTRACE in
//! its bounding set, can never pass it.
//!
//! So only for a container that could pass it, keel re-executes itself
//! from a read-only, detached bind mount of its binary (`open_tree` +
//! `mount_setattr` + `execveat`) before it makes anything: the binary its
//! processes then expose can only be reopened read-only. Nothing is
//! copied, no mount namespace changes and no mount table sees the bind
//! (it disappears with the last process running from it), so mount
//! propagation and hooks are as without it. Every other container pays
//! nothing: no re-exec on the common path.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use oci_spec::runtime::{Capability, LinuxNamespaceType, Spec};

/// CAP_SYS_PTRACE's bit in /proc/PID/status capability masks.
const CAP_SYS_PTRACE_BIT: u64 = 1 << 19;

#[derive(Debug, thiserror::Error)]
pub enum SelfExeError {
    #[error("protect keel's binary: {what}: {source}")]
    Sys {
        what: &'static str,
        source: std::io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> SelfExeError {
    move |source| SelfExeError::Sys { what, source }
}

/// Whether keel's init for `spec` could be reached by a process able to
/// write its binary: the container stays in the initial user namespace
/// and may hold CAP_SYS_PTRACE, or it joins an existing pid namespace,
/// whose processes may (they are checked no further: joining is rare).
pub fn exposed_by_spec(spec: &Spec) -> bool {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let own_userns = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User);
    let joins_pid = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_some());
    // Without `process.capabilities` the process keeps keel's own sets,
    // CAP_SYS_PTRACE included; with them but no bounding set, it has none.
    let ptrace = spec.process().as_ref().is_some_and(|p| {
        p.capabilities().as_ref().is_none_or(|c| {
            c.bounding()
                .as_ref()
                .is_some_and(|b| b.contains(&Capability::SysPtrace))
        })
    });
    joins_pid || (!own_userns && ptrace)
}

/// Whether a process `exec` joins to `init`'s container could be reached:
/// some process in the init's pid namespace (other containers may share
/// it) holds CAP_SYS_PTRACE in its bounding set in the initial user
/// namespace. The processes themselves are asked, not the config, since
/// an earlier `exec --cap` may have granted more than the config did.
pub fn exposed_to_exec(init: i32) -> bool {
    let Ok(pid_ns) = std::fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return true;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true;
    };
    let members: Vec<i32> = procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|ns| ns == pid_ns)
        })
        .collect();
    exposed_by_processes(&members)
}

fn exposed_by_processes(pids: &[i32]) -> bool {
    let Ok(host_userns) = std::fs::metadata("/proc/self/ns/user") else {
        return true;
    };
    pids.iter().any(|pid| {
        let same_userns = std::fs::metadata(format!("/proc/{pid}/ns/user"))
            .is_ok_and(|m| same_file(&m, &host_userns));
        same_userns && cap_bounding(*pid).is_some_and(|b| b & CAP_SYS_PTRACE_BIT != 0)
    })
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn cap_bounding(pid: i32) -> Option<u64> {
    let status = crate::procfs::read::text(format!("/proc/{pid}/status")).ok()?;
    crate::procfs::status_mask(&status, "CapBnd:")
}

/// Make sure this keel runs from a read-only binding of its binary:
/// nothing to do if it already does (after the re-exec, or when the
/// binary is installed on a read-only filesystem), else re-exec from one.
/// Only root's keel can be a target worth protecting: an unprivileged
/// caller's containers have no privilege over its binary.
pub fn protect() -> Result<(), SelfExeError> {
    if !nix::unistd::geteuid().is_root() || running_read_only()? {
        return Ok(());
    }
    let tree = sealed_tree()?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).expect("arguments have no NUL"))
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: argv is NUL-terminated and outlives the call; environ is the
    // process's own environment; on success the call does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            tree.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys("re-exec keel from its read-only binding")(
        std::io::Error::last_os_error(),
    ))
}

/// Whether /proc/self/exe lives on a read-only mount.
fn running_read_only() -> Result<bool, SelfExeError> {
    let st = nix::sys::statvfs::statvfs("/proc/self/exe")
        .map_err(|e| sys("statvfs /proc/self/exe")(e.into()))?;
    Ok(st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// A detached bind mount of the running binary, made read-only.
fn sealed_tree() -> Result<OwnedFd, SelfExeError> {
    let tree = crate::syscall::open_tree_clone(std::path::Path::new("/proc/self/exe"), false)
        .map_err(sys("open_tree of /proc/self/exe"))?;
    crate::syscall::mount_setattr(
        tree.as_fd(),
        0,
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID,
        0,
    )
    .map_err(sys("make the binding read-only"))?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_ptrace_capable_containers_in_the_host_user_namespace_are_exposed() {
        let ptrace = serde_json::json!({"bounding": ["CAP_SYS_PTRACE"]});
        let none = serde_json::json!({"bounding": ["CAP_KILL"]});
        let with = |caps: &serde_json::Value, ns: &[&str]| {
            let ns: Vec<_> = ns.iter().map(|t| serde_json::json!({"type": t})).collect();
            spec(serde_json::json!({
                "ociVersion": "1.0.2",
                "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                            "capabilities": caps},
                "linux": {"namespaces": ns}
            }))
        };
        assert!(exposed_by_spec(&with(&ptrace, &["pid", "mount"])));
        assert!(!exposed_by_spec(&with(&ptrace, &["pid", "mount", "user"])));
        assert!(!exposed_by_spec(&with(&none, &["pid", "mount"])));
        let mut keeps_keels = with(&none, &["pid", "mount"]);
        let mut process = keeps_keels.process().clone().unwrap();
        process.set_capabilities(None);
        keeps_keels.set_process(Some(process));
        assert!(exposed_by_spec(&keeps_keels), "no capabilities: keel's own");
        let mut joined = with(&none, &["mount"]);
        let pid_ns = serde_json::from_value(serde_json::json!(
            {"type": "pid", "path": "/proc/1/ns/pid"}
        ))
        .unwrap();
        let mut linux = joined.linux().clone().unwrap();
        linux.namespaces_mut().as_mut().unwrap().push(pid_ns);
        joined.set_linux(Some(linux));
        assert!(exposed_by_spec(&joined));
    }

    #[test]
    fn a_process_with_ptrace_in_its_bounding_set_is_seen() {
        // The test runner's bounding set is the machine's; compare with it.
        let me = std::process::id() as i32;
        let has = cap_bounding(me).unwrap() & CAP_SYS_PTRACE_BIT != 0;
        assert_eq!(exposed_by_processes(&[me]), has);
        assert!(!exposed_by_processes(&[]));
    }
}
