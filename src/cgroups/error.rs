//! Errors of the cgroup manager. Each message is one line that names the
//! config field (its JSON path) or the cgroup directory concerned, the file
//! that was read or written, and the cause. Inner io errors are embedded in
//! the message rather than exposed as `source`, so that error chains printed
//! by the caller do not repeat them.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A config value that cannot be honoured (also reported by `validate`).
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },
    /// A resource set in the config that this host cannot apply.
    #[error("{field}: not supported on this host: {reason}")]
    Unsupported { field: String, reason: String },
    #[error("{field}: write {value:?} to {}: {err}", file.display())]
    Write {
        field: String,
        file: PathBuf,
        value: String,
        err: io::Error,
    },
    #[error("{field}: read {}: {err}", file.display())]
    Read {
        field: String,
        file: PathBuf,
        err: io::Error,
    },
    /// Making, listing or removing a cgroup directory.
    #[error("cgroup {}: {op}: {err}", dir.display())]
    Dir {
        op: &'static str,
        dir: PathBuf,
        err: io::Error,
    },
    #[error("cgroup {}: cannot remove it: {pids} process(es) still in it", dir.display())]
    Busy { dir: PathBuf, pids: usize },
    #[error("linux.cgroupsPath {path:?}: {msg}")]
    Path { path: String, msg: String },
    #[error("cgroup layout of this host: {0}")]
    Layout(String),
    #[error("add pid {pid} to cgroup: write {}: {err}", file.display())]
    Join {
        pid: i32,
        file: PathBuf,
        err: io::Error,
    },
    #[error("{}: {msg}", file.display())]
    Freeze { file: PathBuf, msg: String },
    #[error("join the container's cgroup: {}: {err}", file.display())]
    JoinSelf { file: PathBuf, err: io::Error },
}

impl CgroupError {
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> CgroupError {
        CgroupError::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }

    pub fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> CgroupError {
        CgroupError::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The config field this error is about, where it names one: a JSON
    /// path into the config's `linux` object. None for errors about
    /// directories, the host's layout, or files keel writes of its own
    /// accord (cgroup.kill, cgroup setup).
    pub fn config_field(&self) -> Option<&str> {
        match self {
            CgroupError::Invalid { field, .. }
            | CgroupError::Unsupported { field, .. }
            | CgroupError::Write { field, .. }
            | CgroupError::Read { field, .. } => {
                Some(field.as_str()).filter(|f| f.starts_with("linux."))
            }
            _ => None,
        }
    }

    /// Whether a cgroup directory or file read was not there.
    pub fn is_not_found(&self) -> bool {
        match self {
            CgroupError::Read { err, .. } | CgroupError::Dir { err, .. } => {
                err.kind() == io::ErrorKind::NotFound
            }
            _ => false,
        }
    }

    /// Curried form for `map_err` on directory operations.
    pub fn dir(op: &'static str, dir: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let dir = dir.into();
        move |err| CgroupError::Dir { op, dir, err }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_with_field_file_and_cause() {
        let e = CgroupError::Write {
            field: "linux.resources.memory.limit".into(),
            file: "/sys/fs/cgroup/memory/keel/a/memory.limit_in_bytes".into(),
            value: "1000".into(),
            err: io::Error::from_raw_os_error(libc::EBUSY),
        };
        let text = e.to_string();
        assert!(!text.contains('\n'));
        assert!(text.starts_with("linux.resources.memory.limit: write \"1000\" to /sys/fs"));
        assert!(text.contains("busy"), "{text}");
        let e = CgroupError::unsupported("linux.resources.network.classID", "no net_cls");
        assert_eq!(
            e.to_string(),
            "linux.resources.network.classID: not supported on this host: no net_cls"
        );
    }

    #[test]
    fn only_errors_about_a_config_field_name_one() {
        let e = CgroupError::invalid("linux.resources.memory.swap", "x");
        assert_eq!(e.config_field(), Some("linux.resources.memory.swap"));
        let e = CgroupError::Write {
            field: "kill".into(),
            file: "/sys/fs/cgroup/unified/keel/a/cgroup.kill".into(),
            value: "1".into(),
            err: io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(e.config_field(), None);
        let e = CgroupError::dir("mkdir", "/sys/fs/cgroup/memory/keel/a")(
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.config_field(), None);
    }
}
