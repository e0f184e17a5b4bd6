//! cgroup2 freezer: cgroup.freeze asks, cgroup.events answers. Writing 1
//! starts the freeze; "frozen 1" appears in cgroup.events once every task
//! has stopped, and the kernel wakes pollers of that file (POLLPRI) when
//! it changes, so the wait is on the kernel's own event. It is bounded:
//! a freeze that has not completed by then is undone and reported.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Dir, Files};

const FIELD: &str = "freezer";
const FREEZE: &str = "cgroup.freeze";
const EVENTS: &str = "cgroup.events";
/// Generous: on a loaded machine a task may take a while to reach a point
/// where it can stop.
const WAIT: Duration = Duration::from_secs(30);

pub fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let d = Dir(dir.to_path_buf());
    fs::write(&d, FIELD, FREEZE, "1")?;
    if let Err(e) = wait_for(dir, true) {
        let _ = d.write(FREEZE, "0");
        return Err(e);
    }
    Ok(())
}

pub fn thaw(dir: &Path) -> Result<(), CgroupError> {
    fs::write(&Dir(dir.to_path_buf()), FIELD, FREEZE, "0")?;
    wait_for(dir, false)
}

/// Frozen because of its own cgroup.freeze, not only an ancestor's.
pub fn is_frozen(f: &dyn Files) -> bool {
    fs::read(f, FIELD, FREEZE).is_ok_and(|v| v == "1")
}

/// The "frozen" value of cgroup.events text.
pub fn frozen_in(events: &str) -> Option<bool> {
    events
        .lines()
        .find_map(|l| l.strip_prefix("frozen "))
        .map(|v| v.trim() == "1")
}

fn wait_for(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let path = dir.join(EVENTS);
    let fail = |msg: String| CgroupError::Freeze {
        file: path.clone(),
        msg,
    };
    let file = File::open(&path).map_err(|e| fail(format!("open: {e}")))?;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut buf = [0u8; 256];
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| fail(format!("read: {e}")))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        match frozen_in(&text) {
            Some(now) if now == frozen => return Ok(()),
            Some(_) => {}
            None => return Err(fail(format!("no \"frozen\" line in {text:?}"))),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let want = if frozen { "frozen" } else { "thawed" };
            return Err(fail(format!("not {want} after {}s", WAIT.as_secs())));
        }
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(fail(format!("poll: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_text() {
        assert_eq!(frozen_in("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(frozen_in("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(frozen_in("populated 0\n"), None);
        let d = crate::cgroups::fake::FakeDir::new(&[(FREEZE, "1")]);
        assert!(is_frozen(&d));
        assert!(!is_frozen(&crate::cgroups::fake::FakeDir::new(&[(
            FREEZE, "0"
        )])));
    }
}
