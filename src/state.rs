//! Container state under `--root`: one directory per container holding
//! `state.json` (written atomically) and the exec fifo while `created`.
//!
//! The directory itself is the per-container lock (flock), so concurrent
//! calls on one container serialise, while `state` and `list` read without
//! locking: every write is a rename, so a reader never sees half a file.

use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// The container's cgroup as create made it (JSON, `null` for none),
/// beside state.json so that `delete --force` finds the cgroup of a
/// container whose state file is damaged, wherever `linux.cgroupsPath`
/// put it.
pub const CGROUP_RECORD: &str = "cgroup.json";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid container id {0:?}: use letters, digits and _ + - . only")]
    InvalidId(String),
    #[error("container id cannot be empty")]
    EmptyId,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container does not exist: {0}")]
    NotFound(String),
    #[error("{path:?}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path:?}: corrupt state ({source}); `delete --force` removes it")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What keel records about a container. Everything `delete`, `kill`,
/// `start` and `state` need, so that later edits of config.json cannot
/// change a container (runtime.md, step 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The config's ociVersion, which `state` reports as runc does.
    pub oci_version: String,
    pub id: String,
    /// The init's pid in keel's pid namespace; 0 until it exists.
    pub pid: i32,
    /// The init's start time (clock ticks since boot), which tells it apart
    /// from a later process that reuses its pid.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC3339Nano creation time.
    pub created: String,
    /// True once `create` has finished.
    pub created_done: bool,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// Whether the container has its own pid namespace (kill --all).
    pub own_pid_ns: bool,
    /// The config's process: what `exec` starts from when it is given no
    /// process document.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// The container's seccomp profile, which `exec` applies too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The container's cgroup, as created.
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::Cgroup>,
    /// linux.personality and linux.memoryPolicy, which `exec` applies too.
    #[serde(default)]
    pub personality: Option<oci_spec::runtime::LinuxPersonality>,
    #[serde(default)]
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// runc's rule: letters, digits and `_+-.`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    if id.is_empty() {
        return Err(StateError::EmptyId);
    }
    let ok = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok || id == "." || id == ".." {
        return Err(StateError::InvalidId(id.to_string()));
    }
    Ok(())
}

/// A container's state directory, held under its lock.
pub struct Container {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

fn lock_dir(dir: &Path) -> Result<Flock<File>, StateError> {
    let file = File::open(dir).map_err(io_err(dir))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StateError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Make `root` (mode 0700) and a new, locked state directory for `id`.
/// mkdir is the atomic claim: of two creates with one id, one gets EEXIST.
pub fn create_dir(root: &Path, id: &str) -> Result<Container, StateError> {
    validate_id(id)?;
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    let dir = root.join(id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StateError::Exists(id.into()))
        }
        Err(e) => {
            return Err(StateError::Io {
                path: dir,
                source: e,
            })
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700));
    let lock = lock_dir(&dir)?;
    Ok(Container { dir, _lock: lock })
}

/// Lock an existing container's directory.
pub fn open(root: &Path, id: &str) -> Result<Container, StateError> {
    validate_id(id)?;
    let dir = root.join(id);
    let lock = match lock_dir(&dir) {
        Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NotFound(id.into()))
        }
        other => other?,
    };
    // A delete that held the lock before us may have removed the directory.
    if !dir.exists() {
        return Err(StateError::NotFound(id.into()));
    }
    Ok(Container { dir, _lock: lock })
}

impl Container {
    pub fn load(&self) -> Result<State, StateError> {
        read(&self.dir)
    }

    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let data = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.dir.join(STATE_FILE), &data)
    }

    /// The lock's fd, which a forked init must close.
    pub fn lock_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self._lock.as_raw_fd()
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// The cgroup record (`CGROUP_RECORD`): Some(None) for a container
    /// without a cgroup, None where there is no readable record (a keel
    /// that wrote none, or a damaged file).
    pub fn cgroup_record(&self) -> Option<Option<crate::cgroups::Cgroup>> {
        self.load_record(CGROUP_RECORD).ok().flatten()
    }

    /// Another record beside state.json, written the same way: for what
    /// must outlive a damaged state file.
    pub fn save_record<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StateError> {
        let data = serde_json::to_vec(value).expect("records serialise");
        write_atomic(&self.dir.join(name), &data)
    }

    /// The record `name`, or None if there is none.
    pub fn load_record<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|source| StateError::Corrupt { path, source }),
        }
    }

    /// Remove the directory; the lock goes with it.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }
}

/// Read a container's state without locking (for `state` and `list`).
pub fn read(dir: &Path) -> Result<State, StateError> {
    let path = dir.join(STATE_FILE);
    let data = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            return Err(StateError::NotFound(id));
        }
        other => other.map_err(io_err(&path))?,
    };
    serde_json::from_slice(&data).map_err(|source| StateError::Corrupt { path, source })
}

/// The init's pid and start time from a damaged state file, for
/// `delete --force`. keel writes them compactly near the start of the file
/// (struct order), so a truncated copy still holds them; the start time
/// keeps a reused pid from being taken for the init.
pub fn salvage_init(dir: &Path) -> Option<(i32, u64)> {
    let data = std::fs::read(dir.join(STATE_FILE)).ok()?;
    let text = String::from_utf8_lossy(&data);
    let pid = number_after(&text, "\"pid\":")?;
    let start = number_after(&text, "\"pid_start_time\":")?;
    Some((i32::try_from(pid).ok().filter(|p| *p > 0)?, start))
}

/// The unsigned number right after the first `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    // A number cut off by truncation is not the number that was written.
    if end == rest.len() {
        return None;
    }
    rest[..end].parse().ok()
}

/// Write `data` to `path` through a temp file and a rename, so readers see
/// the old or the new content, never a mix.
///
/// No fsync: the state describes processes that do not survive a reboot
/// (and /run is usually a tmpfs), while a crash of keel itself loses
/// nothing the page cache holds. On a disk-backed /run each fsync cost
/// create 2-5 ms, and create writes the state twice.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        replace(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

/// Put `tmp` in place of `path`. An existing file is swapped with
/// RENAME_EXCHANGE and the old content unlinked after: a plain rename over
/// a file makes ext4 (a disk-backed /run) start writing the new file out
/// first, which took a replace from about 0.1 to 0.3 ms, and create and
/// start replace the state four times. Readers see the old or the new
/// file either way.
fn replace(tmp: &Path, path: &Path) -> std::io::Result<()> {
    match nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        tmp,
        nix::fcntl::AT_FDCWD,
        path,
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    ) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => std::fs::rename(tmp, path),
        Err(e) => Err(e.into()),
    }
}

/// The init's start time from /proc/PID/stat, and whether it is gone
/// (a zombie, or exiting: see `procfs::stat::Stat::gone`).
pub fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = crate::procfs::stat::read(pid)?;
    Some((stat.start_time, stat.gone()))
}

impl State {
    /// Whether the recorded init is still alive (not exiting, not a zombie,
    /// not reused).
    pub fn init_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        matches!(proc_start_time(self.pid), Some((t, false)) if t == self.pid_start_time)
    }

    /// Derived from the process itself, never stored.
    pub fn status(&self, dir: &Path) -> Status {
        if !self.init_alive() {
            return if self.created_done || self.pid > 0 {
                Status::Stopped
            } else {
                Status::Creating
            };
        }
        // runc's order: a frozen container is paused, even one not started.
        if !self.created_done {
            Status::Creating
        } else if self.cgroup.as_ref().is_some_and(|c| c.is_frozen()) {
            Status::Paused
        } else if dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runcs_rule() {
        for ok in ["a", "abc-1.2_3+x", "A9"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("keel-replace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_truncated_state_still_names_its_init() {
        let dir = std::env::temp_dir().join(format!("keel-salvage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = r#"{"oci_version":"1.0.2","id":"a","pid":42,"pid_start_time":777,"bundle":"/b"#;
        std::fs::write(dir.join(STATE_FILE), full).unwrap();
        assert_eq!(salvage_init(&dir), Some((42, 777)));
        std::fs::write(dir.join(STATE_FILE), &full[..50]).unwrap();
        assert_eq!(salvage_init(&dir), None, "pid_start_time is cut off");
        std::fs::write(dir.join(STATE_FILE), "garbage").unwrap();
        assert_eq!(salvage_init(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_process_is_alive_and_start_time_parses() {
        let pid = std::process::id() as i32;
        let (t, zombie) = proc_start_time(pid).unwrap();
        assert!(!zombie);
        let st = State {
            oci_version: "1.0.0".into(),
            id: "x".into(),
            pid,
            pid_start_time: t,
            bundle: "/".into(),
            rootfs: "/".into(),
            created: String::new(),
            created_done: true,
            annotations: HashMap::new(),
            hooks: None,
            own_pid_ns: false,
            process: None,
            seccomp: None,
            cgroup: None,
            personality: None,
            memory_policy: None,
        };
        assert!(st.init_alive());
        let reused = State {
            pid_start_time: t + 1,
            ..st
        };
        assert!(!reused.init_alive());
    }
}
