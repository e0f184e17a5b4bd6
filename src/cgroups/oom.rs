//! OOM notifications for a container's cgroup, as a pollable fd.
//!
//! v1: an eventfd registered through cgroup.event_control for
//! memory.oom_control; the kernel signals it when the cgroup hits OOM, and
//! once more when the cgroup is removed. cgroup2: inotify on memory.events
//! (the kernel reports every change of it as a modification), where an
//! increase of the oom_kill count is an OOM kill, and on cgroup.events,
//! whose "populated 0" says no process is left.
//!
//! Both kernels raise the notification before the victim dies, so once a
//! container's processes are seen gone, one more `take` reports every OOM
//! that killed them.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::Cgroup;

#[derive(Debug, thiserror::Error)]
pub enum OomError {
    #[error("OOM notifications need the memory controller: {0}")]
    NoMemory(String),
    #[error("OOM notifications: {what} {}: {err}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        err: io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OomError {
    let path = path.to_path_buf();
    move |err| OomError::Io { what, path, err }
}

/// What happened since the last `take`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Oom {
    /// OOM events to report.
    pub events: u64,
    /// The cgroup was removed (v1) or has no process left (cgroup2).
    pub gone: bool,
}

pub enum OomWatch {
    V1 {
        efd: EventFd,
        /// Kept open: the registration refers to it.
        _oom_control: File,
        event_control: PathBuf,
    },
    V2 {
        inotify: Inotify,
        dir: PathBuf,
        kills: u64,
    },
}

impl OomWatch {
    /// Watch `cg`: through the v1 memory controller where it is mounted,
    /// else through cgroup2.
    pub fn new(cg: &Cgroup) -> Result<OomWatch, OomError> {
        if let Some(dir) = cg.v1_dir("memory") {
            return OomWatch::v1(&dir);
        }
        match cg.unified_dir() {
            Some(dir) if dir.join("memory.events").exists() => OomWatch::v2(&dir),
            Some(dir) => Err(OomError::NoMemory(format!(
                "{} has no memory.events",
                dir.display()
            ))),
            None => Err(OomError::NoMemory(cg.layout.why_missing("memory"))),
        }
    }

    pub fn v1(dir: &Path) -> Result<OomWatch, OomError> {
        let control = dir.join("memory.oom_control");
        let oom_control = File::open(&control).map_err(io_err("open", &control))?;
        let flags = EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK;
        let efd = EventFd::from_value_and_flags(0, flags)
            .map_err(|e| io_err("eventfd for", &control)(e.into()))?;
        let event_control = dir.join("cgroup.event_control");
        let line = format!("{} {}", efd.as_fd().as_raw_fd(), oom_control.as_raw_fd());
        std::fs::write(&event_control, line).map_err(io_err("register with", &event_control))?;
        Ok(OomWatch::V1 {
            efd,
            _oom_control: oom_control,
            event_control,
        })
    }

    pub fn v2(dir: &Path) -> Result<OomWatch, OomError> {
        let flags = InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK;
        let inotify = Inotify::init(flags).map_err(|e| io_err("inotify for", dir)(e.into()))?;
        for file in ["memory.events", "cgroup.events"] {
            let path = dir.join(file);
            inotify
                .add_watch(&path, AddWatchFlags::IN_MODIFY)
                .map_err(|e| io_err("watch", &path)(e.into()))?;
        }
        // Read after the watches exist, so no kill falls in between.
        let kills = read_count(&dir.join("memory.events"), "oom_kill")?;
        Ok(OomWatch::V2 {
            inotify,
            dir: dir.to_path_buf(),
            kills,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            OomWatch::V1 { efd, .. } => efd.as_fd(),
            OomWatch::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// Consume what the fd has signalled; never blocks.
    pub fn take(&mut self) -> Result<Oom, OomError> {
        match self {
            OomWatch::V1 {
                efd, event_control, ..
            } => take_v1(efd, event_control),
            OomWatch::V2 {
                inotify,
                dir,
                kills,
                ..
            } => take_v2(inotify, dir, kills),
        }
    }
}

fn take_v1(efd: &EventFd, event_control: &Path) -> Result<Oom, OomError> {
    match efd.read() {
        Err(Errno::EAGAIN) => Ok(Oom::default()),
        Err(e) => Err(io_err("read eventfd of", event_control)(e.into())),
        // The removal of the cgroup signals too; it is no OOM.
        Ok(_) if !event_control.exists() => Ok(Oom {
            events: 0,
            gone: true,
        }),
        Ok(_) => Ok(Oom {
            events: 1,
            gone: false,
        }),
    }
}

fn take_v2(inotify: &Inotify, dir: &Path, kills: &mut u64) -> Result<Oom, OomError> {
    loop {
        match inotify.read_events() {
            Ok(_) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(io_err("read inotify of", dir)(e.into())),
        }
    }
    // Whatever the events said, the counters are the truth.
    let now = read_count(&dir.join("memory.events"), "oom_kill");
    let populated = read_count(&dir.join("cgroup.events"), "populated");
    let (now, populated) = match (now, populated) {
        (Ok(n), Ok(p)) => (n, p),
        // The directory is gone: nothing is left to kill.
        _ if !dir.exists() => (*kills, 0),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let events = u64::from(now > *kills);
    *kills = now.max(*kills);
    Ok(Oom {
        events,
        gone: populated == 0,
    })
}

/// The value of `key` in a flat-keyed file such as memory.events.
fn read_count(path: &Path, key: &str) -> Result<u64, OomError> {
    let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keel-oom-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn events(dir: &Path, kills: u64, populated: u8) {
        let m = format!("low 0\nhigh 0\nmax 4\noom 2\noom_kill {kills}\noom_group_kill 0\n");
        std::fs::write(dir.join("memory.events"), m).unwrap();
        let c = format!("populated {populated}\nfrozen 0\n");
        std::fs::write(dir.join("cgroup.events"), c).unwrap();
    }

    fn readable(w: &OomWatch) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(w.fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
    }

    #[test]
    fn v2_reports_increases_of_oom_kill_and_an_empty_cgroup() {
        // A plain directory stands in for the cgroup: inotify sees writes
        // to its files as the modifications the kernel reports.
        let dir = tempdir("v2");
        events(&dir, 1, 1);
        let mut w = OomWatch::v2(&dir).unwrap();
        assert!(!readable(&w), "an old kill is not news");
        assert_eq!(w.take().unwrap(), Oom::default());
        events(&dir, 2, 1);
        assert!(readable(&w));
        assert_eq!(
            w.take().unwrap(),
            Oom {
                events: 1,
                gone: false
            }
        );
        assert!(!readable(&w), "take drains the fd");
        // Another counter changing is no OOM kill.
        events(&dir, 2, 1);
        assert_eq!(w.take().unwrap(), Oom::default());
        events(&dir, 3, 0);
        assert_eq!(
            w.take().unwrap(),
            Oom {
                events: 1,
                gone: true
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            w.take().unwrap(),
            Oom {
                events: 0,
                gone: true
            }
        );
    }

    #[test]
    fn read_count_finds_the_exact_key() {
        let dir = tempdir("count");
        events(&dir, 7, 1);
        assert_eq!(
            read_count(&dir.join("memory.events"), "oom_kill").unwrap(),
            7
        );
        assert_eq!(read_count(&dir.join("memory.events"), "oom").unwrap(), 2);
        assert_eq!(read_count(&dir.join("memory.events"), "nope").unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
