//! Thin wrappers over cgroupfs. Controllers see a cgroup directory only
//! through the `Files` trait, so their file/value mapping and write order
//! can be tested against an in-memory directory without root.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::CgroupError;

/// The files of one cgroup directory.
pub trait Files {
    fn path(&self, file: &str) -> PathBuf;
    fn exists(&self, file: &str) -> bool;
    fn read(&self, file: &str) -> io::Result<String>;
    fn write(&self, file: &str, value: &str) -> io::Result<()>;

    /// Write each of `values` to `file`, a write(2) each; on failure, the
    /// index of the value that failed.
    fn write_each(&self, file: &str, values: &[&str]) -> Result<(), (usize, io::Error)> {
        for (i, value) in values.iter().enumerate() {
            self.write(file, value).map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

/// A real cgroup directory.
#[derive(Debug, Clone)]
pub struct Dir(pub PathBuf);

impl Files for Dir {
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn exists(&self, file: &str) -> bool {
        self.0.join(file).exists()
    }

    fn read(&self, file: &str) -> io::Result<String> {
        crate::procfs::read::text(self.0.join(file))
    }

    /// One write(2) on a file opened without O_CREAT/O_TRUNC: cgroupfs
    /// parses each write as a whole, and a missing file must read as
    /// ENOENT (the kernel lacks it), not as a failed create.
    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        self.write_each(file, &[value]).map_err(|(_, e)| e)
    }

    /// One open for all: each write(2) is still parsed on its own (a
    /// device rule each, say).
    fn write_each(&self, file: &str, values: &[&str]) -> Result<(), (usize, io::Error)> {
        let mut f = OpenOptions::new()
            .write(true)
            .open(self.0.join(file))
            .map_err(|e| (0, e))?;
        for (i, value) in values.iter().enumerate() {
            match f.write(value.as_bytes()) {
                Ok(n) if n == value.len() => {}
                Ok(_) => return Err((i, io::Error::new(io::ErrorKind::WriteZero, "short write"))),
                Err(e) => return Err((i, e)),
            }
        }
        Ok(())
    }
}

/// Whether /sys/fs/cgroup is itself a cgroup2 mount: a pure cgroup2 host,
/// told by one statfs instead of reading the mount table.
pub fn is_cgroup2_root() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Write `value` for config field `field`. A missing file means the kernel
/// does not have this knob: that is reported as unsupported, not as an io
/// error, so the message says what the host lacks.
pub fn write(f: &dyn Files, field: &str, file: &str, value: &str) -> Result<(), CgroupError> {
    write_each(f, file, &[(field, value)])
}

/// `write` of each (field, value) to `file`, in order, through one open.
pub fn write_each(f: &dyn Files, file: &str, items: &[(&str, &str)]) -> Result<(), CgroupError> {
    let values: Vec<&str> = items.iter().map(|(_, v)| *v).collect();
    f.write_each(file, &values).map_err(|(i, err)| {
        let (field, value) = items[i];
        if err.kind() == io::ErrorKind::NotFound {
            missing(f, field, file)
        } else {
            CgroupError::Write {
                field: field.to_string(),
                file: f.path(file),
                value: value.to_string(),
                err,
            }
        }
    })
}

/// Read a file, trimmed.
pub fn read(f: &dyn Files, field: &str, file: &str) -> Result<String, CgroupError> {
    f.read(file)
        .map(|s| s.trim().to_string())
        .map_err(|err| CgroupError::Read {
            field: field.to_string(),
            file: f.path(file),
            err,
        })
}

/// Read a file holding one unsigned number.
pub fn read_u64(f: &dyn Files, field: &str, file: &str) -> Result<u64, CgroupError> {
    let text = read(f, field, file)?;
    text.parse().map_err(|_| CgroupError::Read {
        field: field.to_string(),
        file: f.path(file),
        err: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a number: {text:?}"),
        ),
    })
}

pub fn missing(f: &dyn Files, field: &str, file: &str) -> CgroupError {
    CgroupError::unsupported(
        field,
        format!("the kernel has no {} (file absent)", f.path(file).display()),
    )
}

/// `mkdir -p` from `base` (a hierarchy's mount point, which must exist) down
/// to `dir`. Returns the directories this call made, top-down, so that a
/// failed create can remove exactly those. A parent that vanishes under us
/// (a concurrent `remove` pruning an empty shared parent) is retried.
pub fn make_dirs(base: &Path, dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let rel = dir.strip_prefix(base).map_err(|_| CgroupError::Dir {
        op: "mkdir",
        dir: dir.to_path_buf(),
        err: io::Error::other(format!("not under {}", base.display())),
    })?;
    // Usually only the leaf is new: one mkdir instead of one per level.
    match std::fs::create_dir(dir) {
        Ok(()) => return Ok(vec![dir.to_path_buf()]),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Vec::new()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(CgroupError::dir("mkdir", dir.to_path_buf())(e)),
    }
    let mut made = Vec::new();
    for attempt in 0..3 {
        let mut cur = base.to_path_buf();
        let mut lost_parent = false;
        for part in rel.components() {
            cur.push(part);
            match std::fs::create_dir(&cur) {
                Ok(()) => made.push(cur.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 2 => {
                    lost_parent = true;
                    break;
                }
                Err(e) => return Err(CgroupError::dir("mkdir", cur)(e)),
            }
        }
        if !lost_parent {
            return Ok(made);
        }
        made.retain(|d| d.exists());
    }
    Ok(made)
}

/// Processes directly in one cgroup directory.
pub fn procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let file = dir.join("cgroup.procs");
    let text = crate::procfs::read::text(&file).map_err(|err| CgroupError::Read {
        field: "cgroup processes".into(),
        file,
        err,
    })?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Processes in a cgroup and all its descendants.
pub fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    out.extend(procs(dir)?);
    for sub in subdirs(dir)? {
        match procs_recursive(&sub, out) {
            // Removed while walked, so it held no process any more.
            Err(e) if e.is_not_found() => {}
            other => other?,
        }
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = std::fs::read_dir(dir).map_err(CgroupError::dir("list", dir))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(CgroupError::dir("list", dir))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// How often an rmdir that fails with EBUSY on a cgroup whose processes
/// have all exited (or that lists none) is retried: the kernel may still be
/// releasing a task that has just exited or been reaped. Each retry waits
/// for cgroup2's "populated 0" event, or on v1 yields the CPU.
const EBUSY_RETRIES: usize = 1000;

/// Remove a cgroup directory and its descendants, children first. A
/// directory that is already gone is fine. Most containers have no child
/// cgroups, so the rmdir comes first and the directory is listed only when
/// the kernel finds it busy: five calls fewer per hierarchy, of which a
/// hybrid host has ten, between a `run`'s exit and its return.
pub fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
        Err(e) => return Err(CgroupError::dir("rmdir", dir)(e)),
    }
    let subs = match subdirs(dir) {
        Ok(s) => s,
        Err(CgroupError::Dir { err, .. }) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for sub in subs {
        remove_tree(&sub)?;
    }
    let mut zombie_wait = None;
    for _ in 0..EBUSY_RETRIES {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                let pids = procs(dir).unwrap_or_default();
                // Killed processes can still be exiting, then zombies
                // that v1 keeps listed until their parent reaps them.
                let mut gone = || wait_for_exits(&pids) && all_dead(&pids, &mut zombie_wait);
                if !pids.is_empty() && !gone() {
                    return Err(CgroupError::Busy {
                        dir: dir.to_path_buf(),
                        pids: pids.len(),
                    });
                }
                if !wait_released(dir) {
                    break;
                }
            }
            Err(e) => return Err(CgroupError::dir("rmdir", dir)(e)),
        }
    }
    Err(CgroupError::dir("rmdir", dir)(
        io::Error::from_raw_os_error(libc::EBUSY),
    ))
}

/// Wait, a bounded time, for processes that are still listed in a cgroup
/// although they were killed: a process is counted as gone by `delete` as
/// soon as it is exiting (an exiting pid-namespace init can wait forever
/// on a zombie that someone else must reap), but it leaves its cgroup only
/// a little later in its exit, which takes longest on a loaded machine.
/// False if one of them is still there at the deadline.
fn wait_for_exits(pids: &[i32]) -> bool {
    const PATIENCE_MS: u64 = 2000;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(PATIENCE_MS);
    for &pid in pids {
        let Ok(pidfd) = crate::syscall::pidfd_open(pid) else {
            continue; // already reaped
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match crate::syscall::pidfd_wait(&pidfd, left.as_millis() as i32) {
            Ok(true) => {}
            _ => return false,
        }
    }
    true
}

/// Wait for the kernel to let go of a cgroup whose processes have exited
/// (a task is released a little after its exit is reported): on cgroup2
/// until cgroup.events says "populated 0" (bounded), on v1, which has no
/// such event, by yielding the CPU once. False: cgroup2 did
/// not let go in time (a zombie nobody reaps holds it), so stop trying.
fn wait_released(dir: &Path) -> bool {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
    if !dir.join("cgroup.events").exists() {
        std::thread::yield_now();
        return true;
    }
    super::v2::events::wait(dir, "populated", "0", LIMIT).is_ok()
}

/// How long a v1 cgroup may stay busy with dead processes only: a zombie
/// stays charged to its cgroup until its parent reaps it, and the parent
/// (a shim, or whoever adopted an orphaned init) does that on its own
/// schedule, usually within milliseconds.
const ZOMBIE_REAP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether every pid is a zombie (or gone) and the wait for their reaping,
/// started at the first such sighting, has time left; pauses briefly, as
/// nothing notifies the reaping of another process's child.
fn all_dead(pids: &[i32], since: &mut Option<std::time::Instant>) -> bool {
    let dead = pids
        .iter()
        .all(|&p| crate::state::proc_start_time(p).is_none_or(|(_, gone)| gone));
    let started = *since.get_or_insert_with(std::time::Instant::now);
    if !dead || started.elapsed() > ZOMBIE_REAP_WAIT {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_millis(2));
    true
}

/// Remove an empty directory that other containers may share (the
/// default parent `/keel`). Busy or non-empty means it is still in use.
pub fn prune(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::make_dirs;
    use std::path::Path;

    #[test]
    fn make_dirs_reports_exactly_what_it_made() {
        let base = std::env::temp_dir().join(format!("keel-make-dirs-{}", std::process::id()));
        std::fs::create_dir(&base).unwrap();
        let deep = base.join("a/b/c");
        let made = make_dirs(&base, &deep).unwrap();
        assert_eq!(made, [base.join("a"), base.join("a/b"), deep.clone()]);
        let sibling = base.join("a/b/d");
        assert_eq!(make_dirs(&base, &sibling).unwrap(), [sibling]);
        assert!(make_dirs(&base, &deep).unwrap().is_empty());
        assert!(make_dirs(&base, Path::new("/elsewhere")).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
