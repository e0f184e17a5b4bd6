//! A directory laid out like procfs (`self` a link to `42`, files below
//! `42/`) that is not one, with files and symlinks where a writer expects
//! procfs files. A `ProcRoot` on it stands for a procfs that an attacker
//! replaced: writes through it must be refused and leave the decoy, the
//! file outside that the symlinks name, as it was.

use super::ProcRoot;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The pid that `self` names in the planted tree.
pub const PID: i32 = 42;

pub struct Planted {
    pub dir: PathBuf,
    /// Where the planted symlinks point: it must stay as it was.
    pub decoy: PathBuf,
}

/// What the decoy holds until someone writes to it.
pub const DECOY_TEXT: &str = "untouched\n";

impl Planted {
    pub fn new() -> Planted {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("keel-planted-proc-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(dir.join(PID.to_string())).unwrap();
        symlink(PID.to_string(), dir.join("self")).unwrap();
        let decoy = dir.join("decoy");
        std::fs::write(&decoy, DECOY_TEXT).unwrap();
        Planted { dir, decoy }
    }

    /// `<pid>/name` as a regular file, as a planted copy of procfs has.
    pub fn file(&self, name: &str) -> &Self {
        let path = self.dir.join(PID.to_string()).join(name);
        std::fs::write(path, DECOY_TEXT).unwrap();
        self
    }

    /// `<pid>/name` as a symlink to the decoy.
    pub fn link(&self, name: &str) -> &Self {
        symlink(&self.decoy, self.dir.join(PID.to_string()).join(name)).unwrap();
        self
    }

    /// Whether `<pid>/name` (a planted file) still holds what it did.
    pub fn file_untouched(&self, name: &str) -> bool {
        let path = self.dir.join(PID.to_string()).join(name);
        std::fs::read_to_string(path).unwrap() == DECOY_TEXT
    }

    pub fn decoy_untouched(&self) -> bool {
        std::fs::read_to_string(&self.decoy).unwrap() == DECOY_TEXT
    }

    /// A `ProcRoot` on the tree, made as if it had been verified.
    pub fn root(&self) -> ProcRoot {
        let dir = std::fs::File::open(&self.dir).unwrap();
        ProcRoot {
            fd: OwnedFd::from(dir),
        }
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::ProcError;

    #[test]
    fn a_file_off_procfs_or_a_symlink_is_never_written() {
        let planted = Planted::new();
        planted.file("uid_map").link("gid_map");
        let root = planted.root();
        let err = root.write("42/uid_map", "0 0 1\n").unwrap_err();
        assert!(matches!(err, ProcError::NotProc { .. }), "{err}");
        assert!(planted.file_untouched("uid_map"));
        let err = root.write_self("gid_map", "0 0 1\n").unwrap_err();
        let ProcError::Io { source, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{err}");
        assert!(planted.decoy_untouched());
    }

    #[test]
    fn the_real_procfs_is_written() {
        let root = ProcRoot::open().unwrap();
        let before = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        root.write_self("oom_score_adj", before.trim()).unwrap();
    }
}
