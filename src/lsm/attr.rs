//! The calling thread's LSM attribute files, `/proc/thread-self/attr/*`,
//! reached only through keel's verified procfs (procfs.rs): after the
//! pivot, the container's "/proc" could have been replaced by links that
//! send the write elsewhere (CVE-2025-52881 class), and a label written to
//! the wrong file is a container running unconfined.
//!
//! `Attrs` is the seam: the AppArmor and SELinux logic is written against
//! it, and the unit tests give it a fake, since no test machine can load a
//! policy for both.

use crate::procfs::{ProcError, ProcRoot};

#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    #[error("{0}")]
    Open(ProcError),
    #[error("write /proc/thread-self/attr/{name}: {source}")]
    Write {
        name: String,
        source: std::io::Error,
    },
}

impl AttrError {
    /// The file is not there (an LSM without that attribute directory).
    pub fn is_missing_file(&self) -> bool {
        matches!(self, AttrError::Open(e) if e.raw_os_error() == Some(libc::ENOENT))
    }

    /// The errno the LSM answered the write with.
    pub fn write_errno(&self) -> Option<i32> {
        match self {
            AttrError::Write { source, .. } => source.raw_os_error(),
            AttrError::Open(_) => None,
        }
    }
}

/// Writes to the calling thread's `attr/<name>` (e.g. `exec`,
/// `apparmor/exec`, `keycreate`).
pub trait Attrs {
    /// `value` in a single write(2), as the kernel requires of these files
    /// (it parses each write as one whole command; an empty value clears).
    fn write(&self, name: &str, value: &[u8]) -> Result<(), AttrError>;
}

/// The real files, under `<pid>/task/<tid>/attr` of a verified procfs.
pub struct ProcAttrs<'a> {
    proc: &'a ProcRoot,
    dir: String,
}

impl<'a> ProcAttrs<'a> {
    /// The calling thread's attributes. A thread may only write its own,
    /// so this must be called on the thread that then execs.
    pub fn new(proc: &'a ProcRoot) -> Result<ProcAttrs<'a>, ProcError> {
        let dir = format!("{}/attr", proc.thread_self_dir()?.display());
        Ok(ProcAttrs { proc, dir })
    }
}

impl Attrs for ProcAttrs<'_> {
    fn write(&self, name: &str, value: &[u8]) -> Result<(), AttrError> {
        let rel = format!("{}/{name}", self.dir);
        let fd = self
            .proc
            .open_file(&rel, libc::O_WRONLY | libc::O_CLOEXEC)
            .map_err(AttrError::Open)?;
        // One write(2), not write_all: the kernel refuses a write at a
        // non-zero offset, so a short one cannot be continued, and an
        // empty value must still reach it (it clears). EINTR wrote nothing.
        let written = loop {
            match nix::unistd::write(&fd, value) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        let source = match written {
            Ok(n) if n == value.len() => return Ok(()),
            Ok(_) => std::io::Error::new(std::io::ErrorKind::WriteZero, "short write"),
            Err(errno) => errno.into(),
        };
        Err(AttrError::Write {
            name: name.to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real path, on a host without AppArmor or SELinux (elsewhere a
    /// write could change this test thread's own labels): the calling
    /// thread's files are found in the verified procfs, a missing per-LSM
    /// directory reads as such, and a write reaches the kernel, which
    /// refuses it with no LSM to take it.
    #[test]
    fn the_calling_threads_files_are_written_through_a_verified_procfs() {
        if super::super::apparmor_enabled() || super::super::selinux_enabled() {
            eprintln!("skipped: this host has an LSM that would take the write");
            return;
        }
        let proc = ProcRoot::open().unwrap();
        let attrs = ProcAttrs::new(&proc).unwrap();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        assert!(
            attrs.dir.ends_with(&format!("/task/{tid}/attr")),
            "{}",
            attrs.dir
        );
        let missing = attrs.write("apparmor/exec", b"exec keel").unwrap_err();
        assert!(missing.is_missing_file(), "{missing}");
        let refused = attrs.write("exec", b"exec keel").unwrap_err();
        assert_eq!(refused.write_errno(), Some(libc::EINVAL), "{refused}");
    }
}

#[cfg(test)]
pub mod fake {
    //! An `Attrs` that records writes and answers with scripted errors.

    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    pub struct FakeAttrs {
        /// Files that do not exist (open fails with ENOENT).
        pub missing: Vec<&'static str>,
        /// (file, errno) pairs: a write to the file fails with errno.
        pub refuse: Vec<(&'static str, i32)>,
        pub writes: RefCell<Vec<(String, String)>>,
    }

    impl Attrs for FakeAttrs {
        fn write(&self, name: &str, value: &[u8]) -> Result<(), AttrError> {
            let errno = |e| std::io::Error::from_raw_os_error(e);
            if self.missing.contains(&name) {
                return Err(AttrError::Open(ProcError::Io {
                    path: format!("1/task/1/attr/{name}"),
                    source: errno(libc::ENOENT),
                }));
            }
            if let Some((_, e)) = self.refuse.iter().find(|(n, _)| *n == name) {
                return Err(AttrError::Write {
                    name: name.to_string(),
                    source: errno(*e),
                });
            }
            let value = String::from_utf8_lossy(value).into_owned();
            self.writes.borrow_mut().push((name.to_string(), value));
            Ok(())
        }
    }
}
