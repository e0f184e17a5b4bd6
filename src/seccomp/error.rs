//! What can go wrong, from a bad profile to a refused load.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A mistake in `linux.seccomp`, at one JSON path.
    #[error("config.json: {path}: {problem}")]
    Profile {
        path: String,
        problem: ProfileProblem,
    },
    #[error(
        "config.json: linux.seccomp: the profile compiles to {len} BPF instructions, \
         over the kernel's limit of {max}"
    )]
    TooLong { len: usize, max: usize },
    #[error("seccomp action {action} is not supported by this kernel")]
    ActionUnavailable { action: &'static str },
    #[error("load seccomp filter (seccomp(2) flags {flags:#x}): {source}{hint}")]
    Load {
        flags: u64,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error(
        "load seccomp filter with SECCOMP_FILTER_FLAG_TSYNC: thread {tid} cannot be synchronised"
    )]
    ThreadSync { tid: i64 },
    #[error("seccomp listenerPath {path:?}: connect: {source}")]
    ListenerConnect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seccomp listenerPath {path:?}: send the seccomp fd and state: {source}")]
    ListenerSend { path: PathBuf, source: nix::Error },
    #[error("seccomp listenerPath {path:?}: the agent closed the connection after {sent} of {len} bytes")]
    ListenerShort {
        path: PathBuf,
        sent: usize,
        len: usize,
    },
}

/// The problems `validate` reports, each one line that says what was
/// expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileProblem {
    #[error(
        "unknown syscall {name:?}: not a system call on {native} \
         nor on any other architecture libseccomp knows"
    )]
    UnknownSyscall { name: String, native: &'static str },
    #[error("empty: each entry must name at least one syscall")]
    NoNames,
    #[error("{index} is out of range: syscall arguments are numbered 0 to 5")]
    ArgIndex { index: usize },
    #[error("{value} does not fit the 16 bits a seccomp action returns (0 to 65535)")]
    ErrnoRange { value: u32 },
    #[error("only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not with {action}")]
    ErrnoRetWithout { action: String },
    #[error("SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the agent's socket)")]
    NotifyWithoutListener,
    #[error(
        "SCMP_ACT_NOTIFY cannot be the default action: the container's init could \
         not make a call before the agent has the listener"
    )]
    NotifyDefault,
    #[error(
        "SCMP_ACT_NOTIFY cannot be used for \"write\": the container's init writes \
         before the agent has the listener"
    )]
    NotifyWrite,
    #[error("must not be set without linux.seccomp.listenerPath")]
    MetadataWithoutListener,
}

impl SeccompError {
    pub(crate) fn profile(path: impl Into<String>, problem: ProfileProblem) -> Self {
        SeccompError::Profile {
            path: path.into(),
            problem,
        }
    }
}
