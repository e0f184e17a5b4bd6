//! Errors of the rootfs phases. Each carries the JSON path of the config
//! entry it concerns, so the one-line message says what, where and why.
//! Inner errors are embedded in the message rather than exposed as `source`
//! so that `{:#}` chains do not print them twice.

use std::io;
use std::path::PathBuf;

/// One failed step: what was attempted, and why it failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{op}: {err}")]
    Sys { op: String, err: io::Error },
    #[error("{0}")]
    Refused(String),
}

impl StepError {
    pub fn sys(op: impl Into<String>, err: io::Error) -> StepError {
        StepError::Sys { op: op.into(), err }
    }

    /// Curried form for `map_err`.
    pub fn op(op: impl Into<String>) -> impl FnOnce(io::Error) -> StepError {
        let op = op.into();
        move |err| StepError::Sys { op, err }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A config value that cannot be honoured (also reported by `validate`).
    #[error("config.json: {field}: {msg}")]
    Invalid { field: String, msg: String },
    /// Preparing the mount tree around the rootfs (propagation, self-bind).
    #[error("rootfs {rootfs:?}: {err}")]
    Root { rootfs: PathBuf, err: StepError },
    #[error("config.json: mounts[{index}]: {err}")]
    Mount { index: usize, err: StepError },
    /// What the caller had to do before the first cgroup mount failed.
    #[error("mounts[{index}]: before mounting cgroups: {msg}")]
    BeforeCgroup { index: usize, msg: String },
    /// An entry of `linux.devices`.
    #[error("config.json: linux.devices[{index}]: {path:?}: {err}")]
    Device {
        index: usize,
        path: PathBuf,
        err: StepError,
    },
    /// One of the built-in set every container gets: not from the config.
    #[error("default device {path:?}: {err}")]
    DefaultDevice { path: PathBuf, err: StepError },
    /// The standard /dev symlinks (/dev/fd, /dev/ptmx, ...).
    #[error("/dev symlinks: {err}")]
    DevLinks { err: StepError },
    #[error("pivot into {rootfs:?}: {err}")]
    Pivot { rootfs: PathBuf, err: StepError },
    #[error("config.json: linux.rootfsPropagation: {value:?}: {err}")]
    RootPropagation { value: String, err: StepError },
    #[error("reopen /dev/null for stdio: {err}")]
    DevNull { err: StepError },
    #[error("config.json: linux.maskedPaths[{index}]: {path:?}: {err}")]
    Masked {
        index: usize,
        path: String,
        err: StepError,
    },
    #[error("config.json: linux.readonlyPaths[{index}]: {path:?}: {err}")]
    Readonly {
        index: usize,
        path: String,
        err: StepError,
    },
    #[error("config.json: root.readonly: {err}")]
    ReadonlyRoot { err: StepError },
    /// The record of the rootfs bind in the runtime's mount namespace.
    #[error("the rootfs mount record: {0}")]
    Record(crate::state::StateError),
}

impl RootfsError {
    /// Whether the message is a config error, starting `config.json:` and
    /// the JSON path of the entry. Every step done for an entry counts, as
    /// for a mount: the entry is what the user has to look at.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            RootfsError::Invalid { .. }
                | RootfsError::Mount { .. }
                | RootfsError::Device { .. }
                | RootfsError::RootPropagation { .. }
                | RootfsError::Masked { .. }
                | RootfsError::Readonly { .. }
                | RootfsError::ReadonlyRoot { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_with_context() {
        let e = RootfsError::Mount {
            index: 3,
            err: StepError::sys(
                "mount tmpfs on \"/dev\" (type tmpfs)",
                io::Error::from_raw_os_error(libc::EPERM),
            ),
        };
        assert_eq!(
            e.to_string(),
            "config.json: mounts[3]: mount tmpfs on \"/dev\" (type tmpfs): Operation not \
             permitted (os error 1)"
        );
        assert!(e.is_config());
        let e = RootfsError::Masked {
            index: 2,
            path: "/proc/kcore".into(),
            err: StepError::Refused("not a directory".into()),
        };
        assert_eq!(
            e.to_string(),
            "config.json: linux.maskedPaths[2]: \"/proc/kcore\": not a directory"
        );
        assert!(e.is_config());
    }

    fn eperm(op: &str) -> StepError {
        StepError::sys(op, io::Error::from_raw_os_error(libc::EPERM))
    }

    #[test]
    fn entry_errors_are_config_errors_and_default_devices_are_not() {
        let cases = [
            (
                RootfsError::Readonly {
                    index: 1,
                    path: "/proc/bus".into(),
                    err: eperm("remount read-only"),
                },
                "config.json: linux.readonlyPaths[1]: \"/proc/bus\": remount read-only: ",
            ),
            (
                RootfsError::RootPropagation {
                    value: "shared".into(),
                    err: eperm("apply to \"/\""),
                },
                "config.json: linux.rootfsPropagation: \"shared\": apply to \"/\": ",
            ),
            (
                RootfsError::ReadonlyRoot {
                    err: eperm("remount read-only"),
                },
                "config.json: root.readonly: remount read-only: ",
            ),
            (
                RootfsError::Device {
                    index: 0,
                    path: "/dev/fuse".into(),
                    err: eperm("mknod"),
                },
                "config.json: linux.devices[0]: \"/dev/fuse\": mknod: ",
            ),
        ];
        for (e, head) in cases {
            let want = format!("{head}Operation not permitted (os error 1)");
            assert_eq!(e.to_string(), want);
            assert!(e.is_config(), "{e}");
        }
        let e = RootfsError::DefaultDevice {
            path: "/dev/null".into(),
            err: eperm("mknod"),
        };
        assert_eq!(
            e.to_string(),
            "default device \"/dev/null\": mknod: Operation not permitted (os error 1)"
        );
        assert!(!e.is_config());
    }
}
